import { ByteSource, exactNumber, FormatError } from './source';
import { InspectionLimits } from './types';

/** Bytes per element of the safetensors dtypes (sub-byte types as bits/8). */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  I64: 64,
  U64: 64,
  F64: 64,
  C64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

/** @internal */
export type SafetensorsInfo = {
  headerSize: number;
  tensorCount: number;
  /** Exact: a number up to 2^53, a decimal string beyond. */
  parameterCount: number | string;
  /** Parameters per dtype. */
  dtypes: Record<string, number | string>;
  metadata?: Record<string, string>;
  /** The first tensors, for display. */
  tensors: { name: string; dtype: string; shape: number[] }[];
};

/**
 * Reads and validates a safetensors header: 8-byte little-endian length,
 * bounded JSON header, known dtypes, integer shapes, and data offsets that
 * match each tensor's size and tile the data area exactly (contiguous, no
 * overlap, no gap, ending at the end of the file). The parameter count is
 * the exact sum of the products of the shapes.
 *
 * @internal
 */
export async function inspectSafetensors(
  source: ByteSource,
  limits: Pick<
    InspectionLimits,
    | 'maxSafetensorsHeaderBytes'
    | 'maxTensors'
    | 'maxDimensions'
    | 'maxMetadataEntries'
  >,
): Promise<SafetensorsInfo> {
  if (source.size < 8) {
    throw new FormatError('file shorter than the 8-byte header length');
  }
  const n = (await source.read(0, 8)).readBigUInt64LE(0);
  if (n > BigInt(limits.maxSafetensorsHeaderBytes)) {
    throw new FormatError(
      `header of ${n} bytes is larger than the limit of ${limits.maxSafetensorsHeaderBytes}`,
    );
  }
  const headerSize = Number(n);
  if (8 + headerSize > source.size) {
    throw new FormatError(
      `header of ${headerSize} bytes runs past the end of the file (${source.size} bytes)`,
    );
  }
  const raw = await source.read(8, headerSize);
  let header: unknown;
  try {
    header = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new FormatError(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) {
    throw new FormatError('header is not a JSON object');
  }
  const dataSize = BigInt(source.size - 8 - headerSize);
  const entries = Object.entries(header as Record<string, unknown>);
  let metadata: Record<string, string> | undefined;
  const tensors: {
    name: string;
    dtype: string;
    shape: number[];
    begin: bigint;
    end: bigint;
  }[] = [];
  let total = 0n;
  const dtypes = new Map<string, bigint>();
  for (const [name, value] of entries) {
    if (name === '__metadata__') {
      if (
        !value ||
        typeof value !== 'object' ||
        Array.isArray(value) ||
        Object.values(value).some(v => typeof v !== 'string')
      ) {
        throw new FormatError('__metadata__ must map strings to strings');
      }
      const count = Object.keys(value).length;
      if (count > limits.maxMetadataEntries) {
        throw new FormatError(
          `__metadata__ has ${count} entries (limit ${limits.maxMetadataEntries})`,
        );
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (tensors.length >= limits.maxTensors) {
      throw new FormatError(`more than ${limits.maxTensors} tensors`);
    }
    const t = value as {
      dtype?: unknown;
      shape?: unknown;
      data_offsets?: unknown;
    };
    if (!t || typeof t !== 'object') {
      throw new FormatError(`tensor ${name} is not an object`);
    }
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_BITS)) {
      throw new FormatError(
        `tensor ${name} has unknown dtype ${String(t.dtype)}`,
      );
    }
    if (!Array.isArray(t.shape)) {
      throw new FormatError(`tensor ${name} has an invalid shape`);
    }
    if (t.shape.length > limits.maxDimensions) {
      throw new FormatError(
        `tensor ${name} has ${t.shape.length} dimensions (limit ${limits.maxDimensions})`,
      );
    }
    if (t.shape.some(d => !Number.isSafeInteger(d) || d < 0)) {
      throw new FormatError(`tensor ${name} has an invalid shape`);
    }
    const offsets = t.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some(o => !Number.isSafeInteger(o) || o < 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new FormatError(`tensor ${name} has invalid data_offsets`);
    }
    const shape = t.shape as number[];
    const bits = BigInt(DTYPE_BITS[t.dtype]);
    // at most maxDimensions factors below 2^53: a small bigint product
    const numel = shape.reduce((a, d) => a * BigInt(d), 1n);
    const bytes = (numel * bits + 7n) / 8n;
    const begin = BigInt(offsets[0]);
    const end = BigInt(offsets[1]);
    if (end - begin !== bytes) {
      throw new FormatError(
        `tensor ${name}: data_offsets span ${end - begin} bytes but ${
          t.dtype
        }${JSON.stringify(shape)} needs ${bytes}`,
      );
    }
    total += numel;
    dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0n) + numel);
    tensors.push({
      name,
      dtype: t.dtype,
      shape: t.shape as number[],
      begin,
      end,
    });
  }
  const sorted = [...tensors].sort((a, b) => {
    if (a.begin === b.begin) {
      return 0;
    }
    return a.begin < b.begin ? -1 : 1;
  });
  let expected = 0n;
  for (const t of sorted) {
    if (t.begin !== expected) {
      throw new FormatError(
        t.begin < expected
          ? `tensor ${t.name} overlaps the previous tensor`
          : `gap before tensor ${t.name} (offset ${t.begin}, expected ${expected})`,
      );
    }
    expected = t.end;
  }
  if (expected !== dataSize) {
    throw new FormatError(
      `tensor data covers ${expected} bytes but the file has ${dataSize} bytes after the header`,
    );
  }
  return {
    headerSize,
    tensorCount: tensors.length,
    parameterCount: exactNumber(total),
    dtypes: Object.fromEntries(
      [...dtypes].map(([k, v]) => [k, exactNumber(v)]),
    ),
    ...(metadata ? { metadata } : {}),
    tensors: tensors.slice(0, 20).map(({ name, dtype, shape }) => ({
      name,
      dtype,
      shape,
    })),
  };
}
