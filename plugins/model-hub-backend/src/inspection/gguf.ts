import { ByteSource, Cursor, exactNumber, FormatError } from './source';
import { InspectionLimits } from './types';

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian

/** @internal */
export type GgufInfo = {
  version: number;
  tensorCount: number;
  kvCount: number;
  architecture?: string;
  name?: string;
  parameterCount: number | string;
  /** Scalar metadata; arrays are summarised by their type and length. */
  metadata: Record<string, unknown>;
};

/** GGML_MAX_DIMS is 4; a few more leave room for future versions. */
const MAX_DIMS = 8;

async function readString(
  c: Cursor,
  v1: boolean,
  max: number,
): Promise<string> {
  const len = v1 ? BigInt(await c.u32()) : await c.u64();
  if (len > BigInt(max)) {
    throw new FormatError(`string of ${len} bytes (limit ${max})`);
  }
  return (await c.take(Number(len))).toString('utf8');
}

const SCALAR_SIZES: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};

async function readValue(
  c: Cursor,
  type: number,
  v1: boolean,
  max: number,
  depth = 0,
): Promise<unknown> {
  switch (type) {
    case 0:
      return c.u8();
    case 1:
      return (await c.take(1)).readInt8(0);
    case 2:
      return c.u16();
    case 3:
      return (await c.take(2)).readInt16LE(0);
    case 4:
      return c.u32();
    case 5:
      return c.i32();
    case 6:
      return c.f32();
    case 7:
      return (await c.u8()) !== 0;
    case 8:
      return readString(c, v1, max);
    case 10:
      return exactNumber(await c.u64());
    case 11: {
      const v = await c.i64();
      return v >= BigInt(Number.MIN_SAFE_INTEGER) &&
        v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v.toString();
    }
    case 12:
      return c.f64();
    case 9: {
      if (depth > 2) {
        throw new FormatError('arrays nested too deeply');
      }
      const itemType = await c.u32();
      const count = v1 ? BigInt(await c.u32()) : await c.u64();
      if (count > BigInt(c.remaining)) {
        throw new FormatError(`array of ${count} items runs past the end`);
      }
      const n = Number(count);
      if (SCALAR_SIZES[itemType] !== undefined) {
        c.skip(n * SCALAR_SIZES[itemType]);
      } else {
        for (let i = 0; i < n; i++) {
          await readValue(c, itemType, v1, max, depth + 1);
        }
      }
      return { type: 'array', itemType, length: n };
    }
    default:
      throw new FormatError(`unknown metadata value type ${type}`);
  }
}

/**
 * Reads GGUF metadata: magic, version (1-3), tensor and key/value counts,
 * the key/value metadata (e.g. `general.architecture`) and the tensor infos,
 * whose dimensions give the exact parameter count. Reads only the header.
 *
 * @internal
 */
export async function inspectGguf(
  source: ByteSource,
  limits: Pick<
    InspectionLimits,
    'maxTensors' | 'maxMetadataBytes' | 'maxMetadataEntries' | 'maxStringBytes'
  >,
): Promise<GgufInfo> {
  const c = new Cursor(source, 0, limits.maxMetadataBytes);
  if (source.size < 16 || (await c.u32()) !== GGUF_MAGIC) {
    throw new FormatError('not a GGUF file (bad magic)');
  }
  const version = await c.u32();
  if (version < 1 || version > 3) {
    throw new FormatError(`unsupported GGUF version ${version}`);
  }
  const v1 = version === 1;
  const tensorCount = v1 ? BigInt(await c.u32()) : await c.u64();
  const kvCount = v1 ? BigInt(await c.u32()) : await c.u64();
  if (tensorCount > BigInt(limits.maxTensors)) {
    throw new FormatError(`more than ${limits.maxTensors} tensors`);
  }
  if (kvCount > BigInt(limits.maxMetadataEntries)) {
    throw new FormatError(
      `${kvCount} metadata entries (limit ${limits.maxMetadataEntries})`,
    );
  }
  const entries = new Map<string, unknown>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = await readString(c, v1, limits.maxStringBytes);
    const type = await c.u32();
    entries.set(key, await readValue(c, type, v1, limits.maxStringBytes));
  }
  const metadata: Record<string, unknown> = Object.fromEntries(entries);
  let params = 0n;
  for (let i = 0; i < Number(tensorCount); i++) {
    await readString(c, v1, limits.maxStringBytes);
    const nDims = await c.u32();
    if (nDims > MAX_DIMS) {
      throw new FormatError(`tensor ${i} has ${nDims} dimensions`);
    }
    let numel = 1n;
    for (let d = 0; d < nDims; d++) {
      numel *= v1 ? BigInt(await c.u32()) : await c.u64();
    }
    await c.u32(); // ggml type
    await c.u64(); // offset
    params += numel;
  }
  const str = (k: string) =>
    typeof entries.get(k) === 'string' ? (entries.get(k) as string) : undefined;
  return {
    version,
    tensorCount: Number(tensorCount),
    kvCount: Number(kvCount),
    architecture: str('general.architecture'),
    name: str('general.name'),
    parameterCount: exactNumber(params),
    metadata,
  };
}
