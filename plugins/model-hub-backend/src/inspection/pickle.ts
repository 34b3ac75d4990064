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

import { classify, PickleImport } from './pickleAllowlist';
import {
  EXT_SIZES,
  FIXED,
  LENGTH_PREFIXED,
  LINE_PUSH,
  NEEDS_TARGET,
  NO_ARG,
  STRING_PUSH,
} from './pickleOpcodes';

export type { PickleImport } from './pickleAllowlist';

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
