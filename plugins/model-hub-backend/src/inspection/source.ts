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
      let done = 0;
      while (done < n) {
        const { bytesRead } = await handle.read(
          buf,
          done,
          n - done,
          start + done,
        );
        if (!bytesRead) {
          break;
        }
        done += bytesRead;
      }
      return buf.subarray(0, done);
    },
    close: () => handle.close(),
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A source over a blob of the artifact store (ranged reads). @internal */
export function blobSource(
  artifacts: ArtifactStore,
  sha256: string,
  size: number,
): ByteSource {
  return {
    size,
    async read(start, length) {
      const end = Math.min(size, start + length) - 1;
      if (end < start) {
        return Buffer.alloc(0);
      }
      return collect(await artifacts.get(sha256, { start, end }));
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
