import { randomUUID } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';

/** File offsets and lengths of direct writes are multiples of this. */
export const DIRECT_IO_ALIGNMENT = 4096;
const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
/** Free aligned buffers kept for the next writers, per block size. */
const MAX_POOLED_BUFFERS = 8;

/** @internal */
export type SequentialFileWriterOptions = {
  /**
   * Write whole, aligned blocks with `O_DIRECT`, past the page cache, where
   * the filesystem allows it (default true). Unaligned heads and tails, and
   * every write on a filesystem without `O_DIRECT` (tmpfs), go through the
   * page cache.
   */
  direct?: boolean;
  /** Bytes per write, a multiple of 4096 (default 4 MiB). */
  blockSize?: number;
  /** Writes in flight at most while the next block fills (default 2). */
  maxInflight?: number;
};

const pools = new Map<number, Buffer[]>();

function releaseBuffer(buf: Buffer) {
  const pool = pools.get(buf.length) ?? [];
  pools.set(buf.length, pool);
  if (pool.length < MAX_POOLED_BUFFERS) {
    pool.push(buf);
  }
}

/** Opens a file for direct writes; undefined where the filesystem refuses. */
async function openDirect(path: string): Promise<fs.FileHandle | undefined> {
  if (constants.O_DIRECT === undefined) {
    return undefined; // macOS and Windows have no O_DIRECT
  }
  try {
    // eslint-disable-next-line no-bitwise
    return await fs.open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP') {
      return undefined;
    }
    throw error;
  }
}

/**
 * An aligned buffer of `size` bytes for `O_DIRECT` writes. JavaScript
 * cannot see the address of a buffer, so a slightly larger one is
 * allocated and the aligned offset inside it is found by probing a scratch
 * file in `dir`: a direct write of one block from an unaligned address
 * fails with `EINVAL`. Returns undefined when no offset works (a device
 * with larger blocks). Buffers are pooled, so probing is rare.
 */
async function alignedBuffer(
  dir: string,
  size: number,
): Promise<Buffer | undefined> {
  const pooled = pools.get(size)?.pop();
  if (pooled) {
    return pooled;
  }
  const path = join(dir, `.direct-io-probe-${randomUUID()}`);
  const probe = await fs
    .open(
      path,
      // eslint-disable-next-line no-bitwise
      constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT,
      0o600,
    )
    .catch(() => undefined);
  try {
    if (!probe) {
      return undefined;
    }
    const raw = Buffer.allocUnsafeSlow(size + DIRECT_IO_ALIGNMENT);
    raw.fill(0, 0, DIRECT_IO_ALIGNMENT * 2);
    // V8 backing stores are at least 8-byte aligned
    for (let offset = 0; offset < DIRECT_IO_ALIGNMENT; offset += 8) {
      try {
        await probe.write(raw, offset, DIRECT_IO_ALIGNMENT, 0);
        return raw.subarray(offset, offset + size);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') {
          throw error;
        }
      }
    }
    return undefined;
  } finally {
    await probe?.close().catch(() => {});
    await fs.rm(path, { force: true });
  }
}

/**
 * Writes a stream of chunks to a file from an offset on, in large blocks
 * with up to `maxInflight` positional writes running in libuv's threads
 * while the next block fills. Blocks that start and end on 4 KiB
 * boundaries are written with `O_DIRECT` where the filesystem allows: the
 * bytes go to the device without passing through (and evicting) the page
 * cache, which costs the process far less CPU for files of many GiB and
 * leaves little dirty data for the final fsync. The caller's chunks are
 * copied into the block, so they may be reused as soon as `write` returns.
 *
 * `written` is the offset up to which every byte has been written (not yet
 * fsynced: call {@link SequentialFileWriter.sync}); a failed write fails
 * the next call.
 *
 * @internal
 */
export class SequentialFileWriter {
  /** The block that fills. */
  private block: Buffer;
  /** File offset of `block[0]`. */
  private blockStart: number;
  private fill = 0;
  private readonly free: Buffer[];
  private readonly inflight: Array<{
    buf: Buffer;
    end: number;
    complete: boolean;
    done: Promise<void>;
  }> = [];
  private error: unknown;
  private writtenOffset: number;
  private closed = false;

  private constructor(
    private readonly handle: fs.FileHandle,
    private directHandle: fs.FileHandle | undefined,
    private readonly blockSize: number,
    private readonly buffers: Buffer[],
    start: number,
  ) {
    this.free = [...buffers];
    this.block = this.free.pop()!;
    this.blockStart = start;
    this.writtenOffset = start;
  }

  /**
   * Opens an existing file for writing from `start` on (bytes beyond it
   * are overwritten, not truncated).
   */
  static async open(
    path: string,
    start: number,
    options: SequentialFileWriterOptions = {},
  ): Promise<SequentialFileWriter> {
    const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (blockSize <= 0 || blockSize % DIRECT_IO_ALIGNMENT !== 0) {
      throw new TypeError(`Invalid block size ${blockSize}`);
    }
    const count = Math.max(1, options.maxInflight ?? 2) + 1;
    const handle = await fs.open(path, 'r+');
    let directHandle: fs.FileHandle | undefined;
    const buffers: Buffer[] = [];
    try {
      if (options.direct ?? true) {
        directHandle = await openDirect(path);
      }
      if (directHandle) {
        for (let i = 0; i < count && directHandle; i++) {
          const buf = await alignedBuffer(dirname(path), blockSize);
          if (buf) {
            buffers.push(buf);
          } else {
            await directHandle.close();
            directHandle = undefined;
          }
        }
      }
    } catch (error) {
      await directHandle?.close().catch(() => {});
      await handle.close();
      throw error;
    }
    if (!directHandle) {
      buffers.forEach(releaseBuffer);
      buffers.length = 0;
      for (let i = 0; i < count; i++) {
        buffers.push(Buffer.allocUnsafeSlow(blockSize));
      }
    }
    return new SequentialFileWriter(
      handle,
      directHandle,
      blockSize,
      buffers,
      start,
    );
  }

  /** Bytes accepted so far, as a file offset. */
  get position(): number {
    return this.blockStart + this.fill;
  }

  /** Every byte before this offset has been written (not necessarily fsynced). */
  get written(): number {
    return this.writtenOffset;
  }

  /** Whether aligned blocks go past the page cache. */
  get usesDirectIo(): boolean {
    return Boolean(this.directHandle);
  }

  /** Room left in the current block before its (block-aligned) end. */
  private capacity() {
    return this.blockSize - (this.blockStart % this.blockSize) - this.fill;
  }

  /**
   * Accepts a chunk (copied). Returns a promise when the caller must wait
   * before the next chunk (every buffer busy), else undefined.
   */
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.throwIfFailed();
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.capacity());
      this.block.set(chunk.subarray(offset, offset + n), this.fill);
      this.fill += n;
      offset += n;
      if (this.capacity() === 0) {
        this.submit();
        if (!this.nextBlock()) {
          const rest =
            offset < chunk.length
              ? Buffer.from(chunk.subarray(offset))
              : undefined;
          return this.waitForBuffer().then(() => {
            if (rest) {
              return this.write(rest);
            }
            return undefined;
          });
        }
      }
    }
    return undefined;
  }

  private throwIfFailed() {
    if (this.error) {
      throw this.error;
    }
    if (this.closed) {
      throw new Error('The file writer is closed');
    }
  }

  /** Starts the write of the current block. */
  private submit() {
    const buf = this.block;
    const length = this.fill;
    const position = this.blockStart;
    this.blockStart += length;
    this.fill = 0;
    const entry = {
      buf,
      end: position + length,
      complete: false,
      done: Promise.resolve(),
    };
    entry.done = this.writeBlock(buf, length, position).then(
      () => {
        entry.complete = true;
        this.retire();
      },
      error => {
        this.error ??= error;
      },
    );
    this.inflight.push(entry);
  }

  /** Moves completed writes (in file order) to the free buffers. */
  private retire() {
    while (this.inflight.length && this.inflight[0].complete) {
      const entry = this.inflight.shift()!;
      this.writtenOffset = entry.end;
      this.free.push(entry.buf);
    }
  }

  private nextBlock(): boolean {
    const next = this.free.pop();
    if (next) {
      this.block = next;
      return true;
    }
    return false;
  }

  private async waitForBuffer() {
    while (!this.nextBlock()) {
      this.throwIfFailed();
      await this.inflight[0].done;
    }
    this.throwIfFailed();
  }

  private async writeBlock(buf: Buffer, length: number, position: number) {
    const aligned =
      position % DIRECT_IO_ALIGNMENT === 0 &&
      length % DIRECT_IO_ALIGNMENT === 0;
    if (this.directHandle && aligned) {
      try {
        await writeFully(this.directHandle, buf, length, position);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') {
          throw error;
        }
        // a device that wants larger blocks: the page cache from now on
        const h = this.directHandle;
        this.directHandle = undefined;
        await h?.close().catch(() => {});
      }
    }
    await writeFully(this.handle, buf, length, position);
  }

  /** Writes every accepted byte; resolves with the offset written. */
  async flush(): Promise<number> {
    this.throwIfFailed();
    if (this.fill > 0) {
      this.submit();
      await this.waitForBuffer();
    }
    await Promise.all(this.inflight.map(i => i.done));
    this.throwIfFailed();
    return this.writtenOffset;
  }

  /** Writes every accepted byte and fsyncs the file. */
  async sync(): Promise<void> {
    await this.flush();
    // an fsync error is never retried (fsyncgate): it fails the writer
    try {
      await this.handle.sync();
    } catch (error) {
      this.error ??= error;
      throw error;
    }
  }

  /**
   * Fsyncs what has been written so far, while more blocks fill and are
   * written; resolves with the offset that is now durable.
   */
  async syncWritten(): Promise<number> {
    this.throwIfFailed();
    const durable = this.writtenOffset;
    try {
      await this.handle.sync();
    } catch (error) {
      this.error ??= error;
      throw error;
    }
    return durable;
  }

  /**
   * Waits for the writes in flight (the bytes of an unfinished block are
   * not written: call {@link SequentialFileWriter.flush} first) and closes
   * the file.
   */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    await Promise.all(this.inflight.map(i => i.done));
    this.closed = true;
    if (this.error === undefined && this.directHandle !== undefined) {
      this.buffers.forEach(releaseBuffer);
    }
    await this.directHandle?.close().catch(() => {});
    await this.handle.close();
  }
}

async function writeFully(
  handle: fs.FileHandle,
  buf: Buffer,
  length: number,
  position: number,
) {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await handle.write(
      buf,
      done,
      length - done,
      position + done,
    );
    if (bytesWritten === 0) {
      throw new Error(`Writing at offset ${position + done} wrote nothing`);
    }
    done += bytesWritten;
  }
}
