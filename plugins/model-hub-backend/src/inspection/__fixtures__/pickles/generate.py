# Generates the real-world part of the pickle corpus (inspection/pickleCorpus.test.ts)
# with CPython's pickle and NumPy. Run offline; the outputs are committed and the
# tests never need Python:   python3 generate.py
# PyTorch is emulated: modules named like torch's rebuild helpers and storages, and
# torch.save's persistent ids, give the same opcodes as a real state dict.
import collections
import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)


# --- emulated torch: a module tree with the names torch.save pickles
torch = types.ModuleType('torch')
torch_utils = types.ModuleType('torch._utils')
sys.modules['torch'] = torch
sys.modules['torch._utils'] = torch_utils
torch._utils = torch_utils


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
    pass


_rebuild_tensor_v2.__module__ = 'torch._utils'
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class FloatStorage:
    pass


FloatStorage.__module__ = 'torch'
FloatStorage.__qualname__ = 'FloatStorage'
torch.FloatStorage = FloatStorage


class Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, key, shape):
        self.storage = Storage(key, int(np.prod(shape)))
        self.shape = shape

    def __reduce_ex__(self, proto):
        stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        return (_rebuild_tensor_v2,
                (self.storage, 0, tuple(self.shape), stride, False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', FloatStorage, obj.key, 'cpu', obj.numel)
        return None


def torch_data_pkl(obj):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


state = collections.OrderedDict(
    [('linear.weight', Tensor('0', (4, 3))), ('linear.bias', Tensor('1', (4,)))])
data_pkl = torch_data_pkl(state)

# torch >= 1.6 zip format
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', data_pkl)
    z.writestr('archive/byteorder', 'little')
    z.writestr('archive/data/0', np.arange(12, dtype=np.float32).tobytes())
    z.writestr('archive/data/1', np.arange(4, dtype=np.float32).tobytes())
    z.writestr('archive/version', '3\n')
    z.writestr('archive/.data/serialization_id', '0123456789')
write('torch-state-dict.pt', buf.getvalue())

# legacy torch format: magic, protocol, sys info, the object, storage keys, raw data
legacy = b''.join([
    pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2),
    pickle.dumps(1001, protocol=2),
    pickle.dumps({'protocol_version': 1001, 'little_endian': True,
                  'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, protocol=2),
    data_pkl,
    pickle.dumps(['0', '1'], protocol=2),
    (12).to_bytes(8, 'little'), np.arange(12, dtype=np.float32).tobytes(),
    (4).to_bytes(8, 'little'), bytes([0x80, 0x02, 0x63, 0x6f]) + bytes(12),
])
write('torch-legacy.bin', legacy)

# --- clean pickles of every protocol: plain dicts and NumPy arrays
plain = {'lr': 0.1, 'layers': [1, 2, 3], 'name': 'bert', 'tags': {'a', 'b'},
         'shape': (3, 4), 'big': 2 ** 70, 'blob': b'\x00\x01'}
for p in range(0, 6):
    write(f'plain-dict-p{p}.pkl', pickle.dumps(plain, protocol=p))
    write(f'numpy-arrays-p{p}.pkl', pickle.dumps(
        collections.OrderedDict([('w', np.arange(6, dtype=np.float32).reshape(2, 3)),
                                 ('step', np.int64(7))]), protocol=p))

np.save(os.path.join(OUT, 'numbers.npy'), np.arange(10, dtype=np.float64))
np.save(os.path.join(OUT, 'objects.npy'),
        np.array([{'a': 1}, 'text', None], dtype=object), allow_pickle=True)
np.savez(os.path.join(OUT, 'arrays.npz'), w=np.ones((2, 2)),
         labels=np.array(['x', None], dtype=object))


# --- dangerous: __reduce__ to callables that run code
class Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


import builtins
import subprocess

for p in range(0, 6):
    write(f'evil-os-system-p{p}.pkl', pickle.dumps(Reduce(os.system, ('id',)), protocol=p))
write('evil-exec-p2.pkl', pickle.dumps(Reduce(builtins.exec, ('print(1)',)), protocol=2))
write('evil-popen-p4.pkl', pickle.dumps(Reduce(subprocess.Popen, (['id'],)), protocol=4))
# getattr(builtins.__dict__... ): getattr on an allowlisted builtin type
write('evil-getattr-p4.pkl', pickle.dumps(
    Reduce(getattr, (dict, 'fromkeys')), protocol=4))
np.save(os.path.join(OUT, 'evil-objects.npy'),
        np.array([Reduce(os.system, ('id',))], dtype=object), allow_pickle=True)
np.savez(os.path.join(OUT, 'evil-arrays.npz'), w=np.ones(2),
         x=np.array([Reduce(os.system, ('id',))], dtype=object))

# an evil object hidden in a torch state dict
evil_state = collections.OrderedDict([('w', Tensor('0', (2,))), ('x', Reduce(os.system, ('id',)))])
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('model/data.pkl', torch_data_pkl(evil_state))
    z.writestr('model/data/0', np.arange(2, dtype=np.float32).tobytes())
    z.writestr('model/version', '3\n')
write('evil-torch-state-dict.pt', buf.getvalue())
