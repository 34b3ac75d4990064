import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { looksLikePickle, PickleScan, scanPickle } from './pickle';
import { ByteSource, FormatError } from './source';
import { InspectionLimits } from './types';

/**
 * Where the pickles of a file are: the pickle streams of a zip (PyTorch,
 * `.npz`), of a NumPy array, of a raw pickle read head first, and how a
 * file's first bytes say it holds one.
 *
 * @internal
 */

export const HEAD_BYTES = 64 * 1024;

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

export const NPY_MAGIC = Buffer.from('\x93NUMPY', 'latin1');

/** Raw tensor storages of a PyTorch zip: never unpickled by the loader. */
const TORCH_STORAGE_ENTRY = /(^|\/)data\/\d+$/;

export type PicklePart = {
  name: string;
  data: Buffer;
  /** False when the data was cut at the scan limit. */
  complete: boolean;
};

export type PickleLimits = { maxOpcodes: number; maxStackItems: number };

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
export async function scanRawPickle(
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
export async function zipPickles(
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
export function npyPickle(
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
export function compression(head: Buffer): string | undefined {
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

/** Whether a file not named like a pickle holds one (by content). */
export async function sniffPickle(source: ByteSource): Promise<boolean> {
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
