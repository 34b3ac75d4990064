import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { inspectGguf } from './gguf';
import { inspectOnnx } from './onnx';
import { constants as zlibConstants, gunzipSync, inflateSync } from 'node:zlib';
import { looksLikePickle, PickleScan, scanPickle } from './pickle';
import { inspectSafetensors } from './safetensors';
import { ByteSource, FormatError } from './source';
import { InspectionLimits, InspectionCheck } from './types';

/**
 * Extensions of pickle-based formats (unsafe to load): PyTorch checkpoints,
 * raw pickles, joblib, NumPy arrays (`np.load` unpickles object arrays and
 * files without the NumPy magic). Files of other names are sniffed too.
 *
 * @internal
 */
export const PICKLE_EXTENSIONS = [
  '.bin',
  '.pt',
  '.pth',
  '.pkl',
  '.pickle',
  '.p',
  '.pk',
  '.pck',
  '.pcl',
  '.joblib',
  '.sav',
  '.ckpt',
  '.npy',
  '.npz',
];

const HEAD_BYTES = 64 * 1024;

function ext(path: string): string {
  const base = path.split('/').pop()!.toLocaleLowerCase('en-US');
  const i = base.lastIndexOf('.');
  return i < 0 ? '' : base.slice(i);
}

class SourceReader extends yauzl.RandomAccessReader {
  constructor(private readonly source: ByteSource) {
    super();
  }
  _readStreamForRange(start: number, end: number) {
    const source = this.source;
    return Readable.from(
      (async function* read() {
        for (let p = start; p < end; p += 1024 * 1024) {
          yield await source.read(p, Math.min(1024 * 1024, end - p));
        }
      })(),
    );
  }
}

/** Reads up to `max` bytes of an entry; `complete` when it had no more. */
function readEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  max: number,
): Promise<{ data: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) {
        reject(err);
        return;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      let done = false;
      const finish = (complete: boolean) => {
        if (!done) {
          done = true;
          const data = Buffer.concat(chunks);
          resolve({ data: data.subarray(0, max), complete });
        }
      };
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        length += c.length;
        if (length > max) {
          stream.destroy();
          finish(false);
        }
      });
      stream.on('error', e => (done ? undefined : reject(e)));
      stream.on('end', () => finish(true));
    });
  });
}

const NPY_MAGIC = Buffer.from('\x93NUMPY', 'latin1');

/** Raw tensor storages of a PyTorch zip: never unpickled by the loader. */
const TORCH_STORAGE_ENTRY = /(^|\/)data\/\d+$/;

type PicklePart = {
  name: string;
  data: Buffer;
  /** False when the data was cut at the scan limit. */
  complete: boolean;
};

type PickleLimits = { maxOpcodes: number; maxStackItems: number };

/** How {@link scanPickle} says a scan ran out of bytes (`complete: false`). */
const PAST_SCAN_LIMIT = 'pickle data continues past the scan limit';

/**
 * The scan of a file that is one raw pickle stream, reading from its start
 * only as far as the stream keeps parsing: the head first, then four times
 * as much each time the scan ran out of bytes, up to the scan limit. The
 * scanner reads the bytes in order and its verdict on a prefix differs from
 * its verdict on more data only when it ran out of bytes (or every pickle
 * of the prefix ended exactly at its end), so a prefix whose scan stopped
 * for any other reason (bytes that are not a pickle opcode, a stack
 * underflow, a legacy PyTorch file's five pickles read) gets the scan, and
 * the failure, that the whole scan limit would have got: a large file that
 * is not a pickle is refused after its head, not after 16 MiB.
 */
async function scanRawPickle(
  source: ByteSource,
  head: Buffer,
  limits: InspectionLimits,
  pickleLimits: PickleLimits,
): Promise<PickleScan> {
  let max = Math.min(source.size, limits.maxPickleScanBytes);
  let data = head.subarray(0, Math.min(head.length, max));
  if (data.length < max && data.length < HEAD_BYTES) {
    max = data.length; // a short read: the source ended early
  }
  for (;;) {
    const whole = data.length >= max;
    // as the full read would: cut at the scan limit, or the whole file
    const complete = whole && source.size <= limits.maxPickleScanBytes;
    const scan = scanPickle(data, { complete, limits: pickleLimits });
    const ranOut = scan.error
      ? scan.error.startsWith(PAST_SCAN_LIMIT)
      : scan.bytesScanned >= data.length;
    if (whole || !ranOut) {
      return scan;
    }
    const next = Math.min(max, Math.max(HEAD_BYTES, data.length * 4));
    const more = await source.read(data.length, next - data.length);
    if (more.length < next - data.length) {
      max = data.length + more.length; // the source ended early
    }
    data = Buffer.concat([data, more], data.length + more.length);
  }
}

/**
 * The pickle streams in a zip (PyTorch's format, NumPy's `.npz`): every
 * `*.pkl` entry, the pickle of every object-dtype `.npy` entry, and every
 * other entry (except raw storages) whose content is a pickle.
 */
async function zipPickles(
  source: ByteSource,
  limits: InspectionLimits,
): Promise<{ parts: PicklePart[]; notes: string[] }> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromRandomAccessReader(
      new SourceReader(source),
      source.size,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true },
      (err, z) => (err ? reject(err) : resolve(z!)),
    ),
  );
  const parts: PicklePart[] = [];
  const notes: string[] = [];
  let total = 0;
  let entries = 0;
  const budget = () => Math.max(0, limits.maxPickleScanBytes - total);
  try {
    const list: yauzl.Entry[] = await new Promise((resolve, reject) => {
      const out: yauzl.Entry[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(out));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (++entries > limits.maxTensors) {
          reject(
            new FormatError(`zip of more than ${limits.maxTensors} entries`),
          );
          return;
        }
        out.push(entry);
        zip.readEntry();
      });
      zip.readEntry();
    });
    for (const entry of list) {
      const name = entry.fileName;
      if (name.endsWith('/') || TORCH_STORAGE_ENTRY.test(name)) {
        continue;
      }
      const head = await readEntry(zip, entry, HEAD_BYTES);
      const npy = head.data.subarray(0, 6).equals(NPY_MAGIC);
      if (npy) {
        // a NumPy array holds a pickle only when its dtype has objects
        const header = npyPickle(head.data, name);
        notes.push(header.note);
        if (!header.pickle) {
          continue;
        }
      } else if (!name.endsWith('.pkl') && !looksLikePickle(head.data)) {
        continue;
      }
      if (!budget()) {
        throw new FormatError(
          `pickle data larger than the scan limit of ${limits.maxPickleScanBytes} bytes`,
        );
      }
      const whole = head.complete
        ? head
        : await readEntry(zip, entry, budget());
      total += whole.data.length;
      parts.push({
        name,
        data: npy ? npyPickle(whole.data, name).pickle! : whole.data,
        complete: whole.complete,
      });
    }
  } finally {
    zip.close();
  }
  return { parts, notes };
}

/**
 * The parts of a `.npy` file: the header's dtype, and the pickle that
 * follows the header when the dtype holds Python objects.
 */
function npyPickle(
  data: Buffer,
  name: string,
): { pickle?: Buffer; note: string } {
  if (data.length < 10) {
    throw new FormatError(`${name}: truncated NumPy header`);
  }
  const major = data[6];
  const lenSize = major === 1 ? 2 : 4;
  if (major < 1 || major > 3) {
    throw new FormatError(`${name}: unsupported NumPy format version ${major}`);
  }
  const headerLen = lenSize === 2 ? data.readUInt16LE(8) : data.readUInt32LE(8);
  const start = 8 + lenSize + headerLen;
  if (start > data.length || headerLen > HEAD_BYTES - 16) {
    throw new FormatError(`${name}: NumPy header of ${headerLen} bytes`);
  }
  const header = data.subarray(8 + lenSize, start).toString('latin1');
  const descr = /['"]descr['"]\s*:\s*(['"][^'"]*['"]|\[)/.exec(header);
  if (!descr) {
    throw new FormatError(`${name}: NumPy header without descr`);
  }
  // an object dtype, alone or as a field of a structured dtype
  const objects = /['"][|<>=]?O\d*['"]/.test(
    descr[1] === '[' ? header.slice(descr.index) : descr[1],
  );
  return objects
    ? { pickle: data.subarray(start), note: `${name}: object array (pickle)` }
    : { note: `${name}: ${descr[1]} array, no pickle` };
}

/** How a compressed joblib file starts, and whether it can be opened here. */
function compression(head: Buffer): string | undefined {
  if (head.length < 4) {
    return undefined;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x78 && ((head[0] << 8) | head[1]) % 31 === 0) return 'zlib';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bz2';
  if (head.subarray(0, 6).equals(Buffer.from('fd377a585a00', 'hex')))
    return 'xz';
  if (head.subarray(0, 4).equals(Buffer.from('04224d18', 'hex'))) return 'lz4';
  if (head.subarray(0, 2).toString('latin1') === 'ZF') return 'joblib-zlib';
  return undefined;
}

function fail(name: string, summary: string, details = {}): InspectionCheck {
  return { name, status: 'fail', summary, details };
}

/** Whether a file not named like a pickle holds one (by content). */
async function sniffPickle(source: ByteSource): Promise<boolean> {
  const head = await source.read(0, Math.min(source.size, HEAD_BYTES));
  if (head.length < 2) {
    return false;
  }
  if (
    (head.length >= 4 && head.readUInt32BE(0) === 0x504b0304) ||
    head.subarray(0, 6).equals(NPY_MAGIC)
  ) {
    return true;
  }
  return looksLikePickle(head);
}

/**
 * The safety check of a pickle-based file. Fails unless every pickle in it
 * parses completely within the limits and imports only allowlisted
 * globals; a zip without any pickle, or a NumPy array of numbers, passes.
 */
async function pickleCheck(
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

const FORMATS: Record<string, string> = {
  '.safetensors': 'safetensors',
  '.gguf': 'gguf',
  '.onnx': 'onnx',
};

/**
 * The check a file's inspection records when it cannot complete (a
 * malformed file, a worker that ran out of time or memory): the format
 * check of a known format, else the safety check (files of other names are
 * inspected only when they hold pickles).
 *
 * @internal
 */
export function failedInspection(
  path: string,
  reason: string,
): InspectionCheck {
  const e = ext(path);
  const base = path.split('/').pop()!;
  if (FORMATS[e]) {
    return fail(
      `format:${FORMATS[e]}:${path}`,
      `Invalid ${FORMATS[e]}: ${reason}`,
    );
  }
  if (base === 'config.json') {
    return fail(`format:config:${path}`, `Invalid config.json: ${reason}`);
  }
  return fail(
    `safety:pickle:${path}`,
    `Safety scan could not complete: ${reason}; the file is unverified`,
    { unsafeFormat: true },
  );
}

/**
 * Inspects one file of a version by its extension and content, in the
 * calling thread, returning the checks to store (none for files of no
 * known format that hold no pickle). Runs in an inspection worker: see
 * {@link inspectFile}.
 *
 * @internal
 */
export async function inspectFileInThread(
  path: string,
  source: ByteSource,
  limits: InspectionLimits,
): Promise<InspectionCheck[]> {
  const e = ext(path);
  const base = path.split('/').pop()!;
  try {
    if (e === '.safetensors') {
      const info = await inspectSafetensors(source, limits);
      return [
        {
          name: `format:safetensors:${path}`,
          status: 'pass',
          summary: `safetensors: ${info.tensorCount} tensors, ${
            info.parameterCount
          } parameters (${Object.keys(info.dtypes).join(', ')})`,
          details: info,
        },
      ];
    }
    if (e === '.gguf') {
      const info = await inspectGguf(source, limits);
      return [
        {
          name: `format:gguf:${path}`,
          status: info.architecture ? 'pass' : 'warn',
          summary: `GGUF v${info.version}: ${
            info.architecture ?? 'no general.architecture'
          }, ${info.tensorCount} tensors, ${info.parameterCount} parameters`,
          details: info,
        },
      ];
    }
    if (e === '.onnx') {
      const info = await inspectOnnx(source, limits);
      return [
        {
          name: `format:onnx:${path}`,
          status: info.hasGraph ? 'pass' : 'warn',
          summary: `ONNX IR ${info.irVersion}, opset ${info.opsets
            .map(o => `${o.domain || 'ai.onnx'}:${o.version}`)
            .join(', ')}${
            info.producerName ? `, by ${info.producerName}` : ''
          }`,
          details: info,
        },
      ];
    }
    if (base === 'config.json') {
      if (source.size > limits.maxConfigJsonBytes) {
        return [
          fail(
            `format:config:${path}`,
            `config.json larger than ${limits.maxConfigJsonBytes} bytes`,
          ),
        ];
      }
      let json: any;
      try {
        json = JSON.parse((await source.read(0, source.size)).toString('utf8'));
      } catch (err) {
        return [
          fail(
            `format:config:${path}`,
            `config.json is not valid JSON: ${(err as Error).message}`,
          ),
        ];
      }
      if (!json || typeof json !== 'object' || Array.isArray(json)) {
        return [
          fail(`format:config:${path}`, 'config.json is not a JSON object'),
        ];
      }
      const problems: string[] = [];
      if (typeof json.model_type !== 'string') {
        problems.push('no model_type');
      }
      if (
        !Array.isArray(json.architectures) ||
        json.architectures.some((a: unknown) => typeof a !== 'string')
      ) {
        problems.push('no architectures list');
      }
      return [
        {
          name: `format:config:${path}`,
          status: problems.length ? 'warn' : 'pass',
          summary: problems.length
            ? `config.json: ${problems.join(', ')}`
            : `config.json: ${json.model_type} (${json.architectures.join(
                ', ',
              )})`,
          details: {
            modelType: json.model_type,
            architectures: json.architectures,
            problems,
          },
        },
      ];
    }
    const byExtension = PICKLE_EXTENSIONS.includes(e);
    if (byExtension || (await sniffPickle(source))) {
      const check = await pickleCheck(path, source, limits, byExtension);
      return check ? [check] : [];
    }
  } catch (error) {
    // malformed input, a zip yauzl cannot read, a failed read: fail closed
    return [failedInspection(path, String((error as Error)?.message ?? error))];
  }
  return [];
}
