import { constants as zlibConstants, gunzipSync, inflateSync } from 'node:zlib';
import { scanPickle } from './pickle';
import {
  compression,
  HEAD_BYTES,
  NPY_MAGIC,
  npyPickle,
  PickleLimits,
  PicklePart,
  scanRawPickle,
  zipPickles,
} from './pickleSources';
import { ByteSource, FormatError } from './source';
import { InspectionLimits, InspectionCheck } from './types';

/** A failed check. */
export function fail(
  name: string,
  summary: string,
  details = {},
): InspectionCheck {
  return { name, status: 'fail', summary, details };
}

/**
 * The safety check of a pickle-based file. Fails unless every pickle in it
 * parses completely within the limits and imports only allowlisted
 * globals; a zip without any pickle, or a NumPy array of numbers, passes.
 */
export async function pickleCheck(
  path: string,
  source: ByteSource,
  limits: InspectionLimits,
  byExtension: boolean,
): Promise<InspectionCheck | undefined> {
  const name = `safety:pickle:${path}`;
  const head = await source.read(0, Math.min(source.size, HEAD_BYTES));
  const pickleLimits: PickleLimits = {
    maxOpcodes: limits.maxPickleOpcodes,
    maxStackItems: limits.maxTensors,
  };
  let parts: PicklePart[];
  let container: string;
  let notes: string[] = [];
  const packed = compression(head);
  if (head.length >= 4 && head.readUInt32BE(0) === 0x504b0304) {
    container = 'zip';
    ({ parts, notes } = await zipPickles(source, limits));
    if (!parts.length && !byExtension && !notes.length) {
      return undefined; // a zip of something else
    }
  } else if (head.subarray(0, 6).equals(NPY_MAGIC)) {
    container = 'NumPy array';
    const header = npyPickle(head, path);
    notes = [header.note];
    parts = [];
    if (header.pickle) {
      const whole = await source.read(
        0,
        Math.min(source.size, limits.maxPickleScanBytes),
      );
      parts.push({
        name: path,
        data: npyPickle(whole, path).pickle!,
        complete: source.size <= limits.maxPickleScanBytes,
      });
    }
  } else if (packed && byExtension) {
    if (packed !== 'gzip' && packed !== 'zlib') {
      return fail(
        name,
        `Cannot scan a ${packed}-compressed file (joblib loads it as a pickle); it is unverified`,
        { unsafeFormat: true, container: `${packed}-compressed (joblib)` },
      );
    }
    container = `${packed}-compressed pickle (joblib)`;
    const compressed = await source.read(
      0,
      Math.min(source.size, limits.maxPickleScanBytes),
    );
    let data: Buffer;
    try {
      data = (packed === 'gzip' ? gunzipSync : inflateSync)(compressed, {
        maxOutputLength: limits.maxPickleScanBytes,
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
      });
    } catch (e) {
      throw new FormatError(
        (e as Error).name === 'RangeError'
          ? `decompressed pickle larger than the scan limit of ${limits.maxPickleScanBytes} bytes`
          : `cannot decompress: ${(e as Error).message}`,
      );
    }
    parts = [
      {
        name: path,
        data,
        complete: source.size <= limits.maxPickleScanBytes,
      },
    ];
  } else {
    container = 'raw pickle';
    parts = [];
  }
  const scans = parts.map(p => ({
    entry: p.name,
    ...scanPickle(p.data, { complete: p.complete, limits: pickleLimits }),
  }));
  if (container === 'raw pickle') {
    const scan = await scanRawPickle(source, head, limits, pickleLimits);
    scans.push({ entry: path, ...scan });
  }
  const imports = scans.flatMap(s => s.imports);
  const list = (severity: string) => [
    ...new Set(
      imports
        .filter(i => i.severity === severity)
        .map(i => `${i.module}.${i.name}`),
    ),
  ];
  const dangerous = list('dangerous');
  const unverified = list('unverified');
  const unresolved = scans.reduce((a, s) => a + s.unresolvedGlobals, 0);
  const errors = scans
    .filter(s => s.error)
    .map(s => (s.entry === path ? s.error! : `${s.entry}: ${s.error}`));
  const details = {
    unsafeFormat: scans.length > 0,
    container,
    dangerousImports: dangerous,
    unverifiedImports: unverified,
    unresolvedGlobals: unresolved,
    ...(notes.length ? { notes: notes.slice(0, 20) } : {}),
    ...(errors.length ? { errors: errors.slice(0, 20) } : {}),
    scans: scans.slice(0, 20).map(s => ({
      entry: s.entry,
      pickles: s.pickles,
      bytesScanned: s.bytesScanned,
      opcodes: s.opcodes,
      imports: s.imports.length,
      error: s.error,
    })),
  };
  const problems: string[] = [];
  if (dangerous.length) {
    problems.push(
      `imports dangerous globals: ${dangerous.slice(0, 5).join(', ')}`,
    );
  }
  if (unverified.length) {
    problems.push(
      `imports globals outside the allowlist: ${unverified
        .slice(0, 5)
        .join(', ')}`,
    );
  }
  if (unresolved) {
    problems.push(`${unresolved} imports whose names are computed`);
  }
  if (errors.length) {
    problems.push(`scan could not complete: ${errors.slice(0, 3).join('; ')}`);
  }
  if (problems.length) {
    return fail(
      name,
      `Pickle-based ${container} ${problems.join(
        '; ',
      )}; never load it unless an admin waives this check`,
      details,
    );
  }
  if (!scans.length) {
    return {
      name,
      status: 'pass',
      summary: `${container} holds no pickle: ${
        notes.slice(0, 3).join(', ') || 'no pickle entries'
      }`,
      details,
    };
  }
  return {
    name,
    status: 'warn',
    summary: `Pickle-based ${container} imports only allowlisted globals (tensors, storages, dtypes, containers); it can still run code when loaded by an unpatched loader; prefer safetensors`,
    details,
  };
}
