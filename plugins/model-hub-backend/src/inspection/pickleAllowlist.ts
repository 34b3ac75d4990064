/**
 * The allowlist a pickle's imports are judged by: the globals
 * `torch.load(weights_only=True)` accepts, plain NumPy arrays and builtin
 * containers are safe; modules and names that are known ways to run code
 * are dangerous; everything else is unverified.
 *
 * @internal
 */

/** @internal */
export type PickleImport = {
  module: string;
  name: string;
  severity: 'safe' | 'unverified' | 'dangerous';
};

/** Modules whose callables run code, touch files, processes or the network. */
const DANGEROUS_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'sys',
  'socket',
  'shutil',
  'runpy',
  'importlib',
  'pickle',
  '_pickle',
  'marshal',
  'pty',
  'webbrowser',
  'ctypes',
  'code',
  'codeop',
  'commands',
  'popen2',
  'platform',
  'asyncio',
  'multiprocessing',
  'signal',
  'requests',
  'urllib',
  'urllib2',
  'httplib',
  'http',
  'ftplib',
  'smtplib',
  'telnetlib',
  'pip',
  'setuptools',
  'distutils',
  'inspect',
  'pdb',
  'bdb',
  'timeit',
  'cProfile',
  'profile',
  'trace',
  'tempfile',
  'glob',
  'pathlib',
  'io',
  '_io',
  'zipimport',
  'pkgutil',
  'venv',
  'builtins',
  '__builtin__',
  '__builtins__',
  'types',
  'operator',
  'functools',
  'dill',
  'torch.hub',
  'torch.jit',
  'torch.package',
  'torch.serialization',
  'torch.utils.collect_env',
  'torch.distributed',
  'torch._dynamo',
  'torch._inductor',
  'numpy.testing',
  'numpy.f2py',
  'numpy.distutils',
  'numpy.ctypeslib',
]);
const DANGEROUS_NAMES =
  /^(eval|exec|execfile|compile|open|getattr|setattr|delattr|__import__|import_module|system|popen|spawn\w*|exec\w+|run|call|check_call|check_output|load|loads|breakpoint|globals|locals|vars|input|apply|attrgetter|methodcaller|itemgetter|partial|reduce)$/;

const TORCH_DTYPES = [
  'float32',
  'float',
  'float64',
  'double',
  'float16',
  'half',
  'bfloat16',
  'complex32',
  'chalf',
  'complex64',
  'cfloat',
  'complex128',
  'cdouble',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'int8',
  'int16',
  'short',
  'int32',
  'int',
  'int64',
  'long',
  'bool',
  'quint8',
  'qint8',
  'qint32',
  'quint4x2',
  'quint2x4',
  'float8_e4m3fn',
  'float8_e4m3fnuz',
  'float8_e5m2',
  'float8_e5m2fnuz',
  'float8_e8m0fnu',
];
const TORCH_STORAGES = [
  'Float',
  'Double',
  'Half',
  'BFloat16',
  'ComplexFloat',
  'ComplexDouble',
  'Byte',
  'Char',
  'Short',
  'Int',
  'Long',
  'Bool',
  'QUInt8',
  'QInt8',
  'QInt32',
  'QUInt4x2',
  'QUInt2x4',
].map(s => `${s}Storage`);

/**
 * What a plain checkpoint or array pickle may import: the globals
 * `torch.load(weights_only=True)` accepts, plain NumPy arrays and scalars,
 * and builtin containers.
 */
const SAFE_GLOBALS = new Set([
  'collections.OrderedDict',
  'collections.Counter',
  'builtins.set',
  'builtins.frozenset',
  'builtins.slice',
  'builtins.bytearray',
  'builtins.bytes',
  'builtins.complex',
  'builtins.dict',
  'builtins.list',
  'builtins.tuple',
  'builtins.int',
  'builtins.float',
  'builtins.bool',
  'builtins.str',
  '__builtin__.set',
  '__builtin__.frozenset',
  '__builtin__.slice',
  '__builtin__.bytearray',
  '__builtin__.complex',
  '_codecs.encode',
  ...[
    '_rebuild_tensor',
    '_rebuild_tensor_v2',
    '_rebuild_tensor_v3',
    '_rebuild_parameter',
    '_rebuild_parameter_with_state',
    '_rebuild_qtensor',
    '_rebuild_sparse_tensor',
    '_rebuild_nested_tensor',
    '_rebuild_meta_tensor_no_storage',
    '_rebuild_wrapper_subclass',
    '_rebuild_device_tensor_from_numpy',
    '_rebuild_device_tensor_from_cpu_tensor',
  ].map(n => `torch._utils.${n}`),
  'torch._tensor._rebuild_from_type_v2',
  'torch.Tensor',
  'torch.Size',
  'torch.device',
  'torch.nn.parameter.Parameter',
  'torch.storage.UntypedStorage',
  'torch.storage.TypedStorage',
  'torch.serialization._get_layout',
  'torch.per_tensor_affine',
  'torch.per_channel_affine',
  'torch.per_channel_affine_float_qparams',
  'torch.contiguous_format',
  'torch.channels_last',
  'torch.channels_last_3d',
  'torch.preserve_format',
  'torch.strided',
  'torch.sparse_coo',
  'torch.sparse_csr',
  ...TORCH_DTYPES.map(d => `torch.${d}`),
  ...TORCH_STORAGES.map(s => `torch.${s}`),
  ...TORCH_STORAGES.map(s => `torch.cuda.${s}`),
  ...['numpy.core', 'numpy._core'].flatMap(m => [
    `${m}.multiarray._reconstruct`,
    `${m}.multiarray.scalar`,
    `${m}.numeric._frombuffer`,
  ]),
  'numpy.ndarray',
  'numpy.dtype',
]);

/** The severity of a global a pickle imports. */
export function classify(
  module: string,
  name: string,
): PickleImport['severity'] {
  if (SAFE_GLOBALS.has(`${module}.${name}`)) {
    return 'safe';
  }
  const parts = module.split('.');
  if (
    parts.some((_, i) =>
      DANGEROUS_MODULES.has(parts.slice(0, i + 1).join('.')),
    ) ||
    name.split('.').some(n => DANGEROUS_NAMES.test(n))
  ) {
    return 'dangerous';
  }
  return 'unverified';
}
