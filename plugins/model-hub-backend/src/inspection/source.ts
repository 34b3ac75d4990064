import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { ArtifactStore } from '../store/ArtifactStore';

/**
 * Random access to the bytes of a file being inspected: a staged temporary
 * file, a blob of the artifact store, or a buffer (tests). Inspectors only
 * read the parts they need (headers), never whole multi-GB files.
 *
 * @internal
 */
export interface ByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `start`; shorter only at the end. */
  read(start: number, length: number): Promise<Buffer>;
}

/** A source over a buffer. @internal */
export function bufferSource(buffer: Buffer): ByteSource {
  return {
    size: buffer.length,
    read: async (start, length) =>
      buffer.subarray(start, Math.min(buffer.length, start + length)),
  };
}

/** A source over a local file; closed by the caller. @internal */
export async function fileSource(
  path: string,
): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await fs.open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(start, length) {
      const n = Math.max(0, Math.min(length, size - start));
      const buf = Buffer.allocUnsafe(n);
      const done = await readAt(handle, buf, start);
      return buf.subarray(0, done);
    },
    close: () => handle.close(),
  };
}

/** Reads `buf.length` bytes at `start` (fewer only at the end of the file). */
async function readAt(
  handle: fs.FileHandle,
  buf: Buffer,
  start: number,
): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(
      buf,
      done,
      buf.length - done,
      start + done,
    );
    if (!bytesRead) {
      break;
    }
    done += bytesRead;
  }
  return done;
}

/**
 * The local file of a blob when the store keeps blobs as files (the local
 * store, found by its `blobPath`), so that reads are positional reads into
 * the buffer returned instead of a read stream per range (whose chunks and
 * their concatenation were live at once: twice every read as garbage).
 */
function localBlobPath(
  artifacts: ArtifactStore,
  sha256: string,
): string | undefined {
  const local = artifacts as unknown as {
    blobPath?: (sha256: string) => unknown;
  };
  if (typeof local.blobPath !== 'function') {
    return undefined;
  }
  const path = local.blobPath(sha256);
  return typeof path === 'string' ? path : undefined;
}

/** Copies a ranged read stream into one buffer of the range's length. */
async function collectInto(stream: Readable, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafeSlow(length);
  let done = 0;
  for await (const chunk of stream) {
    const c = chunk as Buffer;
    const n = Math.min(c.length, length - done);
    c.copy(out, done, 0, n);
    done += n;
  }
  return done === length ? out : out.subarray(0, done);
}

/**
 * A source over a blob of the artifact store. Reads of a local store are
 * positional reads into a buffer of exactly the bytes asked for (owned by
 * the caller, so the inspection pool hands it to its worker without a
 * copy); other stores are read through ranged streams copied into such a
 * buffer.
 *
 * @internal
 */
export function blobSource(
  artifacts: ArtifactStore,
  sha256: string,
  size: number,
): ByteSource {
  const path = localBlobPath(artifacts, sha256);
  return {
    size,
    async read(start, length) {
      const n = Math.max(0, Math.min(length, size - start));
      if (!n) {
        return Buffer.alloc(0);
      }
      if (path === undefined) {
        return collectInto(
          await artifacts.get(sha256, { start, end: start + n - 1 }),
          n,
        );
      }
      const handle = await fs.open(path, 'r');
      try {
        const buf = Buffer.allocUnsafeSlow(n);
        const done = await readAt(handle, buf, start);
        return done === n ? buf : buf.subarray(0, done);
      } finally {
        await handle.close();
      }
    },
  };
}

/** Thrown by parsers for malformed input; becomes a `fail` check. @internal */
export class FormatError extends Error {
  name = 'FormatError';
}

const CHUNK = 1024 * 1024;

/**
 * Sequential little-endian reads over a {@link ByteSource}, buffered in
 * 1 MiB chunks, with a budget of bytes it may read in total.
 *
 * @internal
 */
export class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  private consumed = 0;

  constructor(
    private readonly source: ByteSource,
    public pos = 0,
    private readonly budget = 64 * 1024 * 1024,
  ) {}

  get remaining() {
    return this.source.size - this.pos;
  }

  async take(n: number): Promise<Buffer> {
    if (n < 0 || this.pos + n > this.source.size) {
      throw new FormatError(
        `unexpected end of file reading ${n} bytes at offset ${this.pos}`,
      );
    }
    this.consumed += n;
    if (this.consumed > this.budget) {
      throw new FormatError(
        `metadata larger than the limit of ${this.budget} bytes`,
      );
    }
    const rel = this.pos - this.bufStart;
    if (rel < 0 || rel + n > this.buf.length) {
      this.buf = await this.source.read(this.pos, Math.max(n, CHUNK));
      this.bufStart = this.pos;
    }
    const out = this.buf.subarray(
      this.pos - this.bufStart,
      this.pos - this.bufStart + n,
    );
    this.pos += n;
    return out;
  }

  skip(n: number) {
    if (n < 0 || this.pos + n > this.source.size) {
      throw new FormatError(
        `field of ${n} bytes runs past the end of the file`,
      );
    }
    this.pos += n;
  }

  async u8() {
    return (await this.take(1)).readUInt8(0);
  }
  async u16() {
    return (await this.take(2)).readUInt16LE(0);
  }
  async u32() {
    return (await this.take(4)).readUInt32LE(0);
  }
  async i32() {
    return (await this.take(4)).readInt32LE(0);
  }
  async u64(): Promise<bigint> {
    return (await this.take(8)).readBigUInt64LE(0);
  }
  async i64(): Promise<bigint> {
    return (await this.take(8)).readBigInt64LE(0);
  }
  async f32() {
    return (await this.take(4)).readFloatLE(0);
  }
  async f64() {
    return (await this.take(8)).readDoubleLE(0);
  }

  /** A protobuf base-128 varint, as a bigint. */
  async varint(): Promise<bigint> {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = await this.u8();
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        return result;
      }
      shift += 7n;
    }
    throw new FormatError('varint longer than 10 bytes');
  }
}

/** A bigint as a number when exact, else as a decimal string. @internal */
export function exactNumber(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}
