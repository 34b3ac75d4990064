import yazl from 'yazl';

const DTYPE_BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U8: 1,
  F64: 8,
  I8: 1,
  BOOL: 1,
};

/** Builds a valid safetensors file from tensor specs (zero data). */
export function makeSafetensors(
  tensors: { name: string; dtype: string; shape: number[] }[],
  options: {
    metadata?: Record<string, string>;
    mutate?: (h: any) => void;
  } = {},
): Buffer {
  const header: any = {};
  if (options.metadata) {
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  options.mutate?.(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(offset)]);
}

function ggufString(s: string) {
  const b = Buffer.from(s);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}
function u32(n: number) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: bigint | number) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** Builds a GGUF v3 header with string/u32/array metadata and tensor infos. */
export function makeGguf(options: {
  kv: Record<string, string | number | string[]>;
  tensors: { name: string; dims: number[] }[];
}): Buffer {
  const parts: Buffer[] = [
    Buffer.from('GGUF'),
    u32(3),
    u64(options.tensors.length),
    u64(Object.keys(options.kv).length),
  ];
  for (const [k, v] of Object.entries(options.kv)) {
    parts.push(ggufString(k));
    if (typeof v === 'string') {
      parts.push(u32(8), ggufString(v));
    } else if (typeof v === 'number') {
      parts.push(u32(4), u32(v));
    } else {
      parts.push(u32(9), u32(8), u64(v.length), ...v.map(ggufString));
    }
  }
  for (const t of options.tensors) {
    parts.push(ggufString(t.name), u32(t.dims.length), ...t.dims.map(u64));
    parts.push(u32(0), u64(0));
  }
  return Buffer.concat(parts);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
function field(num: number, wire: number, payload: Buffer | number): Buffer {
  const key = varint((num << 3) | wire);
  if (wire === 0) {
    return Buffer.concat([key, varint(payload as number)]);
  }
  const p = payload as Buffer;
  return Buffer.concat([key, varint(p.length), p]);
}

/** Builds a minimal ONNX ModelProto. */
export function makeOnnx(options: {
  irVersion: number;
  opset: number;
  producer: string;
  graphBytes?: number;
}): Buffer {
  return Buffer.concat([
    field(1, 0, options.irVersion),
    field(2, 2, Buffer.from(options.producer)),
    field(3, 2, Buffer.from('1.0')),
    field(7, 2, Buffer.alloc(options.graphBytes ?? 100, 1)),
    field(
      8,
      2,
      Buffer.concat([field(1, 2, Buffer.from('')), field(2, 0, options.opset)]),
    ),
  ]);
}

const str = (s: string) =>
  Buffer.concat([Buffer.from([0x8c, s.length]), Buffer.from(s)]);

/** A protocol-4 pickle calling module.name(arg) through STACK_GLOBAL + memo. */
export function maliciousStackGlobalPickle(
  module: string,
  name: string,
): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x04]),
    str(module),
    Buffer.from([0x94]), // MEMOIZE -> memo[0] = module
    str(name),
    Buffer.from([0x94]), // memo[1] = name
    Buffer.from([0x30, 0x30]), // POP POP
    Buffer.from([0x68, 0x00, 0x68, 0x01]), // BINGET 0, BINGET 1
    Buffer.from([0x93]), // STACK_GLOBAL
    str('id'),
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1 REDUCE STOP
  ]);
}

/** A protocol-2 pickle with a GLOBAL opcode. */
export function globalPickle(module: string, name: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from(`c${module}\n${name}\n`, 'latin1'),
    Buffer.from([0x29, 0x52, 0x2e]), // EMPTY_TUPLE REDUCE STOP
  ]);
}

/** A benign state-dict-like pickle (OrderedDict + torch rebuild). */
export function benignTorchPickle(): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from('ccollections\nOrderedDict\n', 'latin1'),
    Buffer.from([0x29, 0x52]), // () REDUCE
    Buffer.from([0x71, 0x00]), // BINPUT 0
    Buffer.from([0x58]),
    Buffer.from([6, 0, 0, 0]),
    Buffer.from('weight'),
    Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n', 'latin1'),
    Buffer.from([0x28]), // MARK
    Buffer.from([0x4b, 0x01, 0x4b, 0x02]),
    Buffer.from([0x74]), // TUPLE
    Buffer.from([0x52]), // REDUCE
    Buffer.from([0x73]), // SETITEM
    Buffer.from([0x2e]),
  ]);
}

/** A PyTorch-style zip with `archive/data.pkl`. */
export async function torchZip(pickle: Buffer): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(pickle, 'archive/data.pkl');
  zip.addBuffer(Buffer.from('3'), 'archive/version');
  zip.addBuffer(Buffer.alloc(64), 'archive/data/0');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
