import { InputError } from '@backstage/errors';

/**
 * A minimal streaming tar (POSIX ustar) writer and reader for transfer
 * bundles: the writer yields headers and padding around the caller's data,
 * the reader hands out each entry's data as a sequence of the source's own
 * chunks. Neither ever holds more than one chunk plus a header, whatever
 * the size of an entry.
 */

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** The largest size the 11 octal digits of a ustar header hold. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/** A tar entry type the bundles use. @internal */
export type TarEntryType = 'file' | 'directory';

/** @internal */
export type TarHeader = {
  name: string;
  size: number;
  type: TarEntryType | 'other';
  /** The raw type flag, for messages. */
  typeFlag: string;
};

function writeOctal(
  block: Buffer,
  value: number,
  offset: number,
  length: number,
) {
  const digits = value.toString(8).padStart(length - 1, '0');
  block.write(`${digits}\0`, offset, length, 'ascii');
}

/** The 512-byte ustar header of an entry. @internal */
export function tarHeader(options: {
  name: string;
  size: number;
  type: TarEntryType;
  mtime?: Date;
}): Buffer {
  const name = Buffer.from(options.name, 'utf8');
  if (name.length > 100) {
    throw new Error(`Tar entry name ${options.name} is longer than 100 bytes`);
  }
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0);
  writeOctal(block, options.type === 'directory' ? 0o755 : 0o644, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  if (options.size <= MAX_OCTAL_SIZE) {
    writeOctal(block, options.size, 124, 12);
  } else {
    // GNU base-256: the high bit of the first byte, then big-endian
    block[124] = 0x80;
    let rest = BigInt(options.size);
    for (let i = 135; i > 124; i--) {
      block[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  }
  writeOctal(
    block,
    Math.floor((options.mtime?.getTime() ?? 0) / 1000),
    136,
    12,
  );
  block.fill(0x20, 148, 156);
  block.write(options.type === 'directory' ? '5' : '0', 156, 1, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** Zero bytes that pad an entry of `size` bytes to whole blocks. @internal */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest ? ZERO_BLOCK.subarray(0, BLOCK - rest) : Buffer.alloc(0);
}

/** The two zero blocks that end an archive. @internal */
export function tarEnd(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, length: number): number {
  if (block[offset] & 0x80) {
    let value = 0n;
    for (let i = offset + 1; i < offset + length; i++) {
      value = (value << 8n) | BigInt(block[i]);
    }
    value |= BigInt(block[offset] & 0x7f) << BigInt((length - 1) * 8);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new InputError('Tar entry size is out of range');
    }
    return Number(value);
  }
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) {
    throw new InputError(`Tar header has a malformed number '${text}'`);
  }
  return text ? parseInt(text, 8) : 0;
}

function parseHeader(block: Buffer): TarHeader {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= 148 && i < 156 ? 0x20 : block[i];
  }
  if (readNumber(block, 148, 8) !== sum) {
    throw new InputError('Not a tar archive: a header checksum does not match');
  }
  const magic = block.toString('ascii', 257, 262);
  let name = readString(block, 0, 100);
  if (magic === 'ustar') {
    const prefix = readString(block, 345, 155);
    if (prefix) {
      name = `${prefix}/${name}`;
    }
  }
  const typeFlag = String.fromCharCode(block[156] || 0x30);
  let type: TarHeader['type'] = 'other';
  if (typeFlag === '0' || typeFlag === '7') {
    type = 'file';
  } else if (typeFlag === '5') {
    type = 'directory';
  }
  return { name, size: readNumber(block, 124, 12), type, typeFlag };
}

/**
 * Pulls exact byte counts out of a stream of chunks, without copying the
 * data of entries (their chunks are handed out as they arrive).
 */
class ChunkReader {
  private pending: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes read from the source so far. */
  bytesRead = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    if (this.done) {
      return false;
    }
    const next = await this.source.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value)
      ? next.value
      : Buffer.from(next.value);
    this.bytesRead += chunk.length;
    this.pending = this.pending.length
      ? Buffer.concat([this.pending, chunk])
      : chunk;
    return true;
  }

  /** Exactly `n` bytes (small), or fewer at the end of the stream. */
  async readExact(n: number): Promise<Buffer> {
    while (this.pending.length < n && (await this.fill())) {
      // filled
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  /** `n` bytes as chunks; throws when the stream ends before. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.pending.length && !(await this.fill())) {
        throw new InputError('Truncated tar archive: an entry is cut short');
      }
      const out = this.pending.subarray(0, Math.min(left, this.pending.length));
      this.pending = this.pending.subarray(out.length);
      left -= out.length;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) {
      // discarded
    }
  }
}

/** An entry of an archive being read. @internal */
export type TarEntry = TarHeader & {
  /** The entry's data; must be consumed (or left) before the next entry. */
  body: AsyncIterable<Buffer>;
};

/**
 * Reads the entries of a tar archive from a stream. The body of an entry
 * the caller does not consume is skipped. PAX and GNU long-name extension
 * headers are refused: bundles never need them.
 *
 * @internal
 */
export async function* readTar(
  source: AsyncIterable<Buffer>,
): AsyncGenerator<TarEntry> {
  const reader = new ChunkReader(source[Symbol.asyncIterator]());
  for (;;) {
    const block = await reader.readExact(BLOCK);
    if (block.length === 0) {
      return; // no end blocks; tolerated like GNU tar does
    }
    if (block.length < BLOCK) {
      throw new InputError('Truncated tar archive: a header is cut short');
    }
    if (block.equals(ZERO_BLOCK)) {
      return;
    }
    const header = parseHeader(block);
    let consumed = false;
    let left = header.size;
    const body = {
      async *[Symbol.asyncIterator]() {
        if (consumed) {
          throw new Error(`The data of ${header.name} was read already`);
        }
        consumed = true;
        for await (const chunk of reader.chunks(left)) {
          left -= chunk.length;
          yield chunk;
        }
      },
    };
    yield { ...header, body };
    await reader.skip(left);
    await reader.skip(tarPadding(header.size).length);
  }
}
