/**
 * A static scan of pickle opcodes for the globals a pickle imports. The
 * pickle is never unpickled: the scanner walks the opcode stream with the
 * exact stack, mark and memo semantics of CPython's unpickler (so that
 * STACK_GLOBAL operands fetched through the memo, DUP or marks resolve as
 * they would when loading), and records every GLOBAL, INST and
 * STACK_GLOBAL import.
 *
 * The verdict is an allowlist, the one `torch.load(weights_only=True)`
 * holds: tensor rebuild helpers, storages, dtypes, `OrderedDict`, plain
 * NumPy arrays and builtin containers. Everything else is `unverified` (or
 * `dangerous` when it is a known way to run code), a STACK_GLOBAL whose
 * operands are not constant strings or an EXT opcode is `unresolved`, and a
 * stream that does not parse completely within the limits is an error: all
 * of them fail the safety check (fail closed).
 *
 * @internal
 */

/** @internal */
export type PickleImport = {
  module: string;
  name: string;
  severity: 'safe' | 'unverified' | 'dangerous';
};

/** @internal */
export type PickleScan = {
  imports: PickleImport[];
  /** STACK_GLOBALs whose module or name was not a constant string, and EXTs. */
  unresolvedGlobals: number;
  pickles: number;
  /** Why the scan could not complete, if it did not. */
  error?: string;
  bytesScanned: number;
  opcodes: number;
};

/** Limits of one scan. @internal */
export type PickleScanLimits = {
  /** Most opcodes executed over all pickles of the data. */
  maxOpcodes: number;
  /** Most items on the stack plus saved marks, and memo entries. */
  maxStackItems: number;
};

/** @internal */
export const DEFAULT_PICKLE_SCAN_LIMITS: PickleScanLimits = {
  maxOpcodes: 8_000_000,
  maxStackItems: 1_000_000,
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

function classify(module: string, name: string): PickleImport['severity'] {
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

/** Sizes of fixed arguments. */
const FIXED: Record<number, number> = {
  0x4b: 1, // K BININT1
  0x4d: 2, // M BININT2
  0x4a: 4, // J BININT
  0x47: 8, // G BINFLOAT
};
/** Length-prefixed arguments: size of the length field. */
const LENGTH_PREFIXED: Record<number, number> = {
  0x55: 1, // U SHORT_BINSTRING
  0x54: 4, // T BINSTRING
  0x58: 4, // X BINUNICODE
  0x8c: 1, // SHORT_BINUNICODE
  0x8d: 8, // BINUNICODE8
  0x8e: 8, // BINBYTES8
  0x42: 4, // B BINBYTES
  0x43: 1, // C SHORT_BINBYTES
  0x96: 8, // BYTEARRAY8
  0x8a: 1, // LONG1
  0x8b: 4, // LONG4
};
/** Argument sizes of EXT1, EXT2, EXT4. */
const EXT_SIZES: Record<number, number> = { 0x82: 1, 0x83: 2, 0x84: 4 };
/** Opcodes whose length-prefixed argument is a text string. */
const STRING_PUSH = new Set([0x55, 0x54, 0x58, 0x8c, 0x8d]);
/** Newline-terminated single-line arguments that push a value. */
const LINE_PUSH = new Set([0x49, 0x4c, 0x46, 0x53, 0x56, 0x50]);

/**
 * Opcodes without argument: [pops, pushes]. `pops` of -1 pops to the last
 * mark; -2 pops to the mark and then one item below it (APPENDS, SETITEMS,
 * ADDITEMS keep their target); top-only ops (BUILD, APPEND, …) are exact.
 */
const NO_ARG: Record<number, [number, number]> = {
  0x4e: [0, 1], // N NONE
  0x52: [2, 1], // R REDUCE
  0x5d: [0, 1], // ] EMPTY_LIST
  0x61: [1, 0], // a APPEND (target stays)
  0x62: [1, 0], // b BUILD (target stays)
  0x64: [-1, 1], // d DICT
  0x7d: [0, 1], // } EMPTY_DICT
  0x65: [-1, 0], // e APPENDS (target stays)
  0x6c: [-1, 1], // l LIST
  0x29: [0, 1], // ) EMPTY_TUPLE
  0x73: [2, 0], // s SETITEM (target stays)
  0x74: [-1, 1], // t TUPLE
  0x75: [-1, 0], // u SETITEMS (target stays)
  0x6f: [-1, 1], // o OBJ
  0x51: [1, 1], // Q BINPERSID
  0x81: [2, 1], // NEWOBJ
  0x85: [1, 1], // TUPLE1
  0x86: [2, 1], // TUPLE2
  0x87: [3, 1], // TUPLE3
  0x88: [0, 1], // NEWTRUE
  0x89: [0, 1], // NEWFALSE
  0x8f: [0, 1], // EMPTY_SET
  0x90: [-1, 0], // ADDITEMS (target stays)
  0x91: [-1, 1], // FROZENSET
  0x92: [3, 1], // NEWOBJ_EX
  0x97: [0, 1], // NEXT_BUFFER
  0x98: [0, 0], // READONLY_BUFFER
};
/** Opcodes that need an item below the popped ones (their target). */
const NEEDS_TARGET = new Set([0x61, 0x62, 0x65, 0x73, 0x75, 0x90, 0x98]);

/** A value on the simulated stack: a constant string, or anything else. */
type Item = { s: string } | null;

class ScanError extends Error {}

/**
 * The magic number a legacy (pre-zip) `torch.save` file starts with, as
 * its first pickle: PROTO 2, LONG1 0x1950a86a20f9469cfc6c, STOP. Such a
 * file holds five pickles followed by raw storage bytes.
 */
const TORCH_LEGACY_MAGIC = Buffer.from('80028a0a6cfc9c46f9206aa850192e', 'hex');

/**
 * Scans pickle data: one pickle, then any pickle that follows it (a loader
 * may read several in a row), except that a legacy PyTorch file is read as
 * its five pickles and raw storage data. `complete` is false when the data
 * was cut at the scan limit (a file larger than the limit): then running
 * out of bytes is reported as too large, not as truncated.
 *
 * @internal
 */
export function scanPickle(
  data: Buffer,
  options: { complete?: boolean; limits?: PickleScanLimits } = {},
): PickleScan {
  const limits = options.limits ?? DEFAULT_PICKLE_SCAN_LIMITS;
  const complete = options.complete ?? true;
  const imports = new Map<string, PickleImport>();
  let unresolvedGlobals = 0;
  let pickles = 0;
  let pos = 0;
  let opcodes = 0;
  let error: string | undefined;
  const legacyTorch =
    data.length >= TORCH_LEGACY_MAGIC.length &&
    data.subarray(0, TORCH_LEGACY_MAGIC.length).equals(TORCH_LEGACY_MAGIC);

  const add = (module: string, name: string) => {
    const key = `${module}.${name}`;
    if (!imports.has(key)) {
      imports.set(key, { module, name, severity: classify(module, name) });
    }
  };
  const endOfData = (what: string) =>
    new ScanError(
      complete
        ? `truncated pickle: ${what} runs past the end of the data at offset ${pos}`
        : `pickle data continues past the scan limit of ${data.length} bytes`,
    );
  const need = (n: number, what: string) => {
    if (n > data.length - pos) {
      throw endOfData(what);
    }
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) {
      throw endOfData('a line argument');
    }
    const s = data.subarray(pos, end).toString('latin1');
    pos = end + 1;
    return s;
  };

  // the unpickler's state, fresh for each pickle
  let stack: Item[] = [];
  let metastack: Item[][] = [];
  let depth = 0; // items on the stack and in saved stacks
  let memo = new Map<number, Item>();
  const push = (item: Item) => {
    if (++depth > limits.maxStackItems) {
      throw new ScanError(
        `more than ${limits.maxStackItems} items on the pickle stack`,
      );
    }
    stack.push(item);
  };
  const pop = (): Item => {
    if (!stack.length) {
      throw new ScanError(`stack underflow at offset ${pos - 1}`);
    }
    depth -= 1;
    return stack.pop()!;
  };
  const top = (): Item => {
    if (!stack.length) {
      throw new ScanError(`empty stack at offset ${pos - 1}`);
    }
    return stack[stack.length - 1];
  };
  const popMark = (): Item[] => {
    const items = stack;
    if (!metastack.length) {
      throw new ScanError(`no mark to pop at offset ${pos - 1}`);
    }
    stack = metastack.pop()!;
    depth -= items.length;
    return items;
  };
  const memoPut = (index: number) => {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new ScanError(`invalid memo index at offset ${pos}`);
    }
    if (!memo.has(index) && memo.size >= limits.maxStackItems) {
      throw new ScanError(
        `more than ${limits.maxStackItems} memo entries in a pickle`,
      );
    }
    memo.set(index, top());
  };
  const memoGet = (index: number) => {
    if (!memo.has(index)) {
      throw new ScanError(`memo key ${index} not found at offset ${pos}`);
    }
    push(memo.get(index)!);
  };

  try {
    while (pos < data.length) {
      if (legacyTorch && pickles === 5) {
        break; // raw storage data follows
      }
      stack = [];
      metastack = [];
      depth = 0;
      memo = new Map();
      let stopped = false;
      while (!stopped) {
        need(1, 'an opcode');
        if (++opcodes > limits.maxOpcodes) {
          throw new ScanError(`more than ${limits.maxOpcodes} pickle opcodes`);
        }
        const op = data[pos++];
        switch (op) {
          case 0x2e: // . STOP
            pop();
            pickles += 1;
            stopped = true;
            break;
          case 0x28: // ( MARK
            if (++depth > limits.maxStackItems) {
              throw new ScanError(
                `more than ${limits.maxStackItems} marks on the pickle stack`,
              );
            }
            metastack.push(stack);
            stack = [];
            break;
          case 0x30: // 0 POP (pops the mark when the frame is empty)
            if (stack.length) {
              pop();
            } else {
              popMark();
            }
            break;
          case 0x31: // 1 POP_MARK
            popMark();
            break;
          case 0x32: // 2 DUP
            push(top());
            break;
          case 0x80: {
            // PROTO
            need(1, 'PROTO');
            const proto = data[pos++];
            if (proto > 5) {
              throw new ScanError(`unsupported pickle protocol ${proto}`);
            }
            break;
          }
          case 0x95: // FRAME
            need(8, 'FRAME');
            pos += 8;
            break;
          case 0x63: // c GLOBAL
          case 0x69: {
            // i INST
            const module = readLine();
            const name = readLine();
            add(module, name);
            if (op === 0x69) {
              popMark();
            }
            push(null);
            break;
          }
          case 0x93: {
            // STACK_GLOBAL
            const name = pop();
            const module = pop();
            if (module && name) {
              add(module.s, name.s);
            } else {
              unresolvedGlobals += 1;
            }
            push(null);
            break;
          }
          case 0x82: // EXT1
          case 0x83: // EXT2
          case 0x84: {
            // EXT4: a global from the copyreg extension registry
            const n = EXT_SIZES[op];
            need(n, 'EXT');
            pos += n;
            unresolvedGlobals += 1;
            push(null);
            break;
          }
          case 0x94: // MEMOIZE
            memoPut(memo.size);
            break;
          case 0x71: // q BINPUT
            need(1, 'BINPUT');
            memoPut(data[pos++]);
            break;
          case 0x72: // r LONG_BINPUT
            need(4, 'LONG_BINPUT');
            memoPut(data.readUInt32LE(pos));
            pos += 4;
            break;
          case 0x70: // p PUT
            memoPut(Number(readLine()));
            break;
          case 0x68: // h BINGET
            need(1, 'BINGET');
            memoGet(data[pos++]);
            break;
          case 0x6a: // j LONG_BINGET
            need(4, 'LONG_BINGET');
            memoGet(data.readUInt32LE(pos));
            pos += 4;
            break;
          case 0x67: // g GET
            memoGet(Number(readLine()));
            break;
          default:
            if (FIXED[op] !== undefined) {
              need(FIXED[op], 'an argument');
              pos += FIXED[op];
              push(null);
            } else if (LENGTH_PREFIXED[op] !== undefined) {
              const lenSize = LENGTH_PREFIXED[op];
              need(lenSize, 'a length');
              let len: number;
              if (lenSize === 1) {
                len = data[pos];
              } else if (lenSize === 4) {
                len =
                  op === 0x54 ? data.readInt32LE(pos) : data.readUInt32LE(pos);
              } else {
                const big = data.readBigUInt64LE(pos);
                len = big > BigInt(data.length) ? data.length + 1 : Number(big);
              }
              if (len < 0) {
                throw new ScanError(`negative length at offset ${pos}`);
              }
              pos += lenSize;
              need(len, 'a string or bytes argument');
              const arg = data.subarray(pos, pos + len);
              pos += len;
              push(
                STRING_PUSH.has(op)
                  ? {
                      s: arg.toString(
                        op === 0x55 || op === 0x54 ? 'latin1' : 'utf8',
                      ),
                    }
                  : null,
              );
            } else if (LINE_PUSH.has(op)) {
              const line = readLine();
              if (op === 0x53) {
                // S STRING: a quoted Python string literal
                const m = /^'(.*)'$|^"(.*)"$/s.exec(line);
                if (!m) {
                  throw new ScanError(
                    `STRING argument is not quoted at offset ${pos}`,
                  );
                }
                const body = m[1] ?? m[2];
                // escapes make the value differ from the text: not constant
                push(body.includes('\\') ? null : { s: body });
              } else if (op === 0x56) {
                // V UNICODE: raw-unicode-escape
                push(line.includes('\\') ? null : { s: line });
              } else {
                push(null);
              }
            } else if (NO_ARG[op] !== undefined) {
              const [pops, pushes] = NO_ARG[op];
              if (pops === -1) {
                popMark();
              } else {
                for (let i = 0; i < pops; i++) {
                  pop();
                }
              }
              if (NEEDS_TARGET.has(op)) {
                top();
              }
              if (pushes) {
                push(null);
              }
            } else {
              throw new ScanError(
                `unknown opcode 0x${op.toString(16)} at offset ${pos - 1}`,
              );
            }
        }
      }
    }
  } catch (e) {
    if (!(e instanceof ScanError)) {
      throw e;
    }
    error = e.message;
  }
  return {
    imports: [...imports.values()],
    unresolvedGlobals,
    pickles,
    error,
    bytesScanned: pos,
    opcodes,
  };
}

/**
 * Whether data starts like a pickle, by a high bar: protocol 2-5 magic, or
 * a first pickle that parses completely (protocol 0/1 text pickles have no
 * magic; a stylesheet or a README does not parse).
 *
 * @internal
 */
export function looksLikePickle(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return true;
  }
  const scan = scanPickle(head, {
    complete: false,
    limits: { maxOpcodes: 100_000, maxStackItems: 100_000 },
  });
  return (
    scan.pickles > 0 ||
    // a long first pickle that parses up to the end of the head
    (scan.opcodes > 32 && !!scan.error?.includes('past the scan limit'))
  );
}
