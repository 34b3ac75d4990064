/**
 * A static scan of pickle opcodes for the globals a pickle imports. The
 * pickle is never unpickled: the scanner walks the opcode stream, tracks
 * string constants on an approximate stack and in the memo (for
 * STACK_GLOBAL), and records every GLOBAL, INST and STACK_GLOBAL import.
 *
 * Denylist scanners are bypassed regularly (picklescan advisories), so a
 * clean scan is only an extra signal: every pickle-based file is flagged as
 * an unsafe format regardless.
 *
 * @internal
 */

/** @internal */
export type PickleImport = {
  module: string;
  name: string;
  severity: 'safe' | 'suspicious' | 'dangerous';
};

/** @internal */
export type PickleScan = {
  imports: PickleImport[];
  /** STACK_GLOBALs whose module or name was not a known string. */
  unresolvedGlobals: number;
  pickles: number;
  /** Why the scan stopped early, if it did. */
  error?: string;
  bytesScanned: number;
};

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
  'joblib',
  'numpy.testing',
  'torch.hub',
  'torch.jit',
  'torch.serialization',
]);

/** Imports that legitimate PyTorch, NumPy and scikit-learn pickles use. */
const SAFE_GLOBALS = new Set([
  'collections.OrderedDict',
  'collections.defaultdict',
  'builtins.set',
  'builtins.frozenset',
  'builtins.slice',
  'builtins.bytearray',
  'builtins.complex',
  'builtins.dict',
  'builtins.list',
  'builtins.tuple',
  'builtins.int',
  'builtins.float',
  'builtins.bool',
  'builtins.str',
  'builtins.object',
  '_codecs.encode',
  'copyreg._reconstructor',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_qtensor',
  'torch._utils._rebuild_sparse_tensor',
  'torch._utils._rebuild_device_tensor_from_numpy',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Size',
  'torch.device',
  'torch.dtype',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.ndarray',
  'numpy.dtype',
]);

const SAFE_MODULE_PREFIXES = ['torch.', 'numpy.', 'sklearn.', 'scipy.'];

function classify(module: string, name: string): PickleImport['severity'] {
  const full = `${module}.${name}`;
  if (SAFE_GLOBALS.has(full)) {
    return 'safe';
  }
  const top = module.split('.')[0];
  if (
    DANGEROUS_MODULES.has(module) ||
    DANGEROUS_MODULES.has(top) ||
    /^(eval|exec|compile|open|getattr|setattr|__import__|system|popen|breakpoint|globals|locals|vars|input|apply)$/.test(
      name,
    )
  ) {
    return 'dangerous';
  }
  if (
    (module === 'torch' && /Storage$/.test(name)) ||
    SAFE_MODULE_PREFIXES.some(p => module.startsWith(p))
  ) {
    return module.startsWith('torch.') || module === 'torch'
      ? 'safe'
      : 'suspicious';
  }
  return 'suspicious';
}

/** Fixed argument sizes of opcodes. */
const FIXED: Record<number, number> = {
  0x4b: 1, // K BININT1
  0x4d: 2, // M BININT2
  0x4a: 4, // J BININT
  0x47: 8, // G BINFLOAT
  0x80: 1, // PROTO
  0x82: 1, // EXT1
  0x83: 2, // EXT2
  0x84: 4, // EXT4
  0x95: 8, // FRAME
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
/** Opcodes whose length-prefixed argument is a string pushed on the stack. */
const STRING_PUSH = new Set([0x55, 0x54, 0x58, 0x8c, 0x8d]);
/** Newline-terminated single-line arguments. */
const LINE = new Set([0x49, 0x4c, 0x46, 0x53, 0x56, 0x50, 0x70, 0x67]);
const MARK = Symbol('mark');
type Item = string | null | typeof MARK;

/** Opcodes without argument: [pops, pushes]; -1 pops to the mark. */
const NO_ARG: Record<number, [number, number]> = {
  0x28: [0, 0], // ( MARK (handled)
  0x2e: [0, 0], // . STOP (handled)
  0x30: [1, 0], // 0 POP
  0x31: [-1, 0], // 1 POP_MARK
  0x32: [0, 0], // 2 DUP (handled)
  0x4e: [0, 1], // N NONE
  0x52: [2, 1], // R REDUCE
  0x5d: [0, 1], // ] EMPTY_LIST
  0x61: [1, 0], // a APPEND
  0x62: [1, 0], // b BUILD
  0x64: [-1, 1], // d DICT
  0x7d: [0, 1], // } EMPTY_DICT
  0x65: [-1, 0], // e APPENDS
  0x6c: [-1, 1], // l LIST
  0x29: [0, 1], // ) EMPTY_TUPLE
  0x73: [2, 0], // s SETITEM
  0x74: [-1, 1], // t TUPLE
  0x75: [-1, 0], // u SETITEMS
  0x6f: [-1, 1], // o OBJ
  0x51: [1, 1], // Q BINPERSID
  0x81: [2, 1], // NEWOBJ
  0x85: [1, 1], // TUPLE1
  0x86: [2, 1], // TUPLE2
  0x87: [3, 1], // TUPLE3
  0x88: [0, 1], // NEWTRUE
  0x89: [0, 1], // NEWFALSE
  0x8f: [0, 1], // EMPTY_SET
  0x90: [-1, 0], // ADDITEMS
  0x91: [-1, 1], // FROZENSET
  0x92: [3, 1], // NEWOBJ_EX
  0x93: [2, 1], // STACK_GLOBAL (handled)
  0x94: [0, 0], // MEMOIZE (handled)
  0x97: [0, 1], // NEXT_BUFFER
  0x98: [0, 0], // READONLY_BUFFER
};

/** Scans pickle data (several pickles in a row, as legacy torch files have). @internal */
export function scanPickle(data: Buffer): PickleScan {
  const imports = new Map<string, PickleImport>();
  let unresolvedGlobals = 0;
  let pickles = 0;
  let pos = 0;
  let error: string | undefined;
  const add = (module: string, name: string) => {
    const key = `${module}.${name}`;
    if (!imports.has(key)) {
      imports.set(key, { module, name, severity: classify(module, name) });
    }
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) {
      throw new Error('unterminated line argument');
    }
    const s = data.subarray(pos, end).toString('latin1');
    pos = end + 1;
    return s;
  };
  const need = (n: number) => {
    if (pos + n > data.length) {
      throw new Error('truncated opcode argument');
    }
  };

  let stopped = true;
  while (pos < data.length && stopped) {
    // another pickle follows only if it starts with PROTO (or is protocol 0/1 text)
    if (pickles > 0 && data[pos] !== 0x80) {
      break;
    }
    const stack: Item[] = [];
    const memo = new Map<number, Item>();
    const pop = (n: number) => {
      if (n === -1) {
        while (stack.length && stack.pop() !== MARK) {
          /* pop to the mark */
        }
      } else {
        stack.splice(Math.max(0, stack.length - n), n);
      }
    };
    stopped = false;
    try {
      while (!stopped) {
        need(1);
        const op = data[pos++];
        if (op === 0x2e) {
          pickles += 1;
          stopped = true;
          continue;
        }
        if (op === 0x28) {
          stack.push(MARK);
        } else if (op === 0x32) {
          stack.push(stack.length ? stack[stack.length - 1] : null);
        } else if (op === 0x63 || op === 0x69) {
          // c GLOBAL, i INST: "module\nname\n"
          const module = readLine();
          const name = readLine();
          add(module, name);
          if (op === 0x69) {
            pop(-1);
          }
          stack.push(null);
        } else if (op === 0x93) {
          const name = stack.pop();
          const module = stack.pop();
          if (typeof module === 'string' && typeof name === 'string') {
            add(module, name);
          } else {
            unresolvedGlobals += 1;
          }
          stack.push(null);
        } else if (op === 0x94) {
          memo.set(memo.size, stack.length ? stack[stack.length - 1] : null);
        } else if (op === 0x71 || op === 0x72) {
          // q BINPUT, r LONG_BINPUT
          const n = op === 0x71 ? 1 : 4;
          need(n);
          const idx = n === 1 ? data[pos] : data.readUInt32LE(pos);
          pos += n;
          memo.set(idx, stack.length ? stack[stack.length - 1] : null);
        } else if (op === 0x68 || op === 0x6a) {
          // h BINGET, j LONG_BINGET
          const n = op === 0x68 ? 1 : 4;
          need(n);
          const idx = n === 1 ? data[pos] : data.readUInt32LE(pos);
          pos += n;
          stack.push(memo.get(idx) ?? null);
        } else if (FIXED[op] !== undefined) {
          need(FIXED[op]);
          pos += FIXED[op];
          if (op !== 0x80 && op !== 0x95) {
            stack.push(null);
          }
        } else if (LENGTH_PREFIXED[op] !== undefined) {
          const lenSize = LENGTH_PREFIXED[op];
          need(lenSize);
          let len = data[pos];
          if (lenSize === 4) {
            len = data.readUInt32LE(pos);
          } else if (lenSize === 8) {
            len = Number(data.readBigUInt64LE(pos));
          }
          pos += lenSize;
          need(len);
          const arg = data.subarray(pos, pos + len);
          pos += len;
          stack.push(
            STRING_PUSH.has(op)
              ? arg.toString(op === 0x55 || op === 0x54 ? 'latin1' : 'utf8')
              : null,
          );
        } else if (LINE.has(op)) {
          const line = readLine();
          if (op === 0x70) {
            memo.set(
              Number(line),
              stack.length ? stack[stack.length - 1] : null,
            );
          } else if (op === 0x67) {
            stack.push(memo.get(Number(line)) ?? null);
          } else if (op === 0x53 || op === 0x56) {
            stack.push(line.replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
          } else {
            stack.push(null);
          }
        } else if (NO_ARG[op] !== undefined) {
          const [pops, pushes] = NO_ARG[op];
          pop(pops);
          if (pushes) {
            stack.push(null);
          }
        } else {
          throw new Error(
            `unknown opcode 0x${op.toString(16)} at offset ${pos - 1}`,
          );
        }
      }
    } catch (e) {
      error = (e as Error).message;
      break;
    }
  }
  return {
    imports: [...imports.values()],
    unresolvedGlobals,
    pickles,
    error,
    bytesScanned: pos,
  };
}
