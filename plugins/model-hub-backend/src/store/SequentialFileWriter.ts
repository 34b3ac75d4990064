import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import {
  DIRECT_IO_ALIGNMENT,
  openDirect,
  pageAlignedBuffers,
  releaseBuffer,
  writeFully,
} from './alignedBuffers';
import type { BlockHasher } from './BlockHasher';
import { resolveWriteMode, WriteMode } from './writeMode';

export { DIRECT_IO_ALIGNMENT } from './alignedBuffers';
export {
  forgetWriteModeDecisions,
  readWriteMode,
  resolveWriteMode,
} from './writeMode';
export type { WriteMode, WriteModeDecision } from './writeMode';

const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
const DEFAULT_SYNC_EVERY_BYTES = 64 * 1024 * 1024;
const MIN_READ_AREA = 64 * 1024; // the smallest room readArea offers

/** @internal */
export type SequentialFileWriterOptions = {
  /** Default `auto`. */
  mode?: WriteMode;
  /** The old switch: true is `direct`, false is `buffered` (`mode` wins). */
  direct?: boolean;
  /** Bytes per write, a multiple of 4096 (default 4 MiB). */
  blockSize?: number;
  /** Writes in flight at most while the next block fills (default 2). */
  maxInflight?: number;
  /**
   * Page-cache writes: an `fdatasync` each time this many more bytes are
   * written (default 64 MiB; 0: only the caller's syncs); the caller waits
   * while twice as many are unsynced.
   */
  syncEveryBytes?: number;
  /**
   * Given every block as it is submitted, in file order (a hasher reads it
   * from the writer's shared memory in another thread while it is
   * written); a block's buffer is reused once its write and hash are done.
   */
  hasher?: BlockHasher;
};

/**
 * Writes a stream of chunks to a file from an offset on, in large blocks
 * with up to `maxInflight` positional writes running in libuv's threads
 * while the next block fills. The caller's chunks are copied into the
 * block, so they may be reused as soon as `write` returns; a chunk that
 * already is where it goes (read into {@link SequentialFileWriter.readArea}
 * by a socket) is taken without a copy.
 *
 * In `direct` mode, blocks that start and end on 4 KiB boundaries are
 * written with `O_DIRECT` from page-aligned memory: the bytes go to the
 * device without passing through (and evicting) the page cache, and little
 * is left for the final fsync. In `buffered` mode every block goes through
 * the page cache and an `fdatasync` runs in the background every
 * `syncEveryBytes`, so dirty data stays bounded. `auto` (the default)
 * takes page-cache writes on tmpfs and ramfs, and elsewhere the faster of
 * the two for the file's filesystem, measured once
 * ({@link resolveWriteMode}): on one virtual disk direct writes win 4x.
 *
 * `written`: every byte up to it is written (not yet fsynced: call
 * {@link SequentialFileWriter.sync}); a failed write or sync fails the next call.
 *
 * @internal
 */
export class SequentialFileWriter {
  /** The block that fills. */
  private block: Buffer;
  /** File offset of `block[0]`. */
  private blockStart: number;
  private fill = 0;
  /**
   * The block was submitted and no free buffer has replaced it yet (a
   * `write` waits for one): no room to offer.
   */
  private blockInFlight = false;
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
  /** The background fdatasync in progress (buffered mode). */
  private syncing: Promise<void> | undefined;
  /** Offset written when the last background sync started. */
  private syncStartedAt: number;
  /** Offset known synced (written when a completed sync started). */
  private syncedOffset: number;

  private constructor(
    private readonly handle: fs.FileHandle,
    private directHandle: fs.FileHandle | undefined,
    private readonly blockSize: number,
    private readonly buffers: Buffer[],
    start: number,
    private readonly syncEveryBytes: number,
    private readonly hasher: BlockHasher | undefined,
  ) {
    this.free = [...buffers];
    this.block = this.free.pop()!;
    this.blockStart = start;
    this.writtenOffset = start;
    this.syncStartedAt = start;
    this.syncedOffset = start;
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
    let buffers: Buffer[] | undefined;
    let mode: WriteMode;
    try {
      mode = options.mode ?? 'auto';
      if (!options.mode && options.direct !== undefined) {
        mode = options.direct ? 'direct' : 'buffered';
      }
      if (mode === 'auto') {
        mode = (await resolveWriteMode(dirname(path))).mode;
      }
      // pooled for both modes: fresh memory costs page faults per write
      buffers = pageAlignedBuffers(count, blockSize);
      if (mode === 'direct' && buffers) {
        directHandle = await openDirect(path);
      }
    } catch (error) {
      buffers?.forEach(releaseBuffer);
      await handle.close();
      throw error;
    }
    if (!buffers) {
      buffers = [];
      for (let i = 0; i < count; i++) {
        // shared, for a hashing worker
        buffers.push(
          Buffer.from(new SharedArrayBuffer(blockSize) as ArrayBuffer),
        );
      }
    }
    return new SequentialFileWriter(
      handle,
      directHandle,
      blockSize,
      buffers!,
      start,
      directHandle ? 0 : options.syncEveryBytes ?? DEFAULT_SYNC_EVERY_BYTES,
      options.hasher,
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

  /**
   * Every byte before this offset is durable through the background syncs
   * of buffered mode (the caller's own syncs are not counted).
   */
  get synced(): number {
    return this.syncedOffset;
  }

  /** The mode the writer uses (`auto` resolved). */
  get mode(): 'direct' | 'buffered' {
    return this.directHandle ? 'direct' : 'buffered';
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
      if (!this.inPlace(chunk, offset)) {
        this.block.set(chunk.subarray(offset, offset + n), this.fill);
      }
      this.fill += n;
      offset += n;
      if (this.capacity() === 0) {
        this.submit();
        const throttled = this.tooMuchUnsynced();
        if (throttled || !this.nextBlock()) {
          const rest =
            offset < chunk.length
              ? Buffer.from(chunk.subarray(offset))
              : undefined;
          return (async () => {
            if (throttled) {
              await this.waitForSyncs();
            }
            await this.waitForBuffer();
            if (rest) {
              await this.write(rest);
            }
          })();
        }
      }
    }
    return undefined;
  }

  /** Whether `chunk[offset]` is already where it goes (a read into {@link readArea}). */
  private inPlace(chunk: Uint8Array, offset: number): boolean {
    return (
      chunk.buffer === this.block.buffer &&
      chunk.byteOffset + offset === this.block.byteOffset + this.fill
    );
  }

  /**
   * Free room of this writer's memory where the bytes that follow the
   * next `ahead` bytes will go (in the current block, or at the start of
   * the next one), for a socket to read into: a chunk written from there
   * is not copied ({@link SequentialFileWriter.write} sees it in place).
   * Undefined when there is not enough room, while a `write` waits for a
   * free block, or when the writer failed or is closed. Valid until the
   * next `write`, `flush` or `close`: bytes read into it must be written
   * (in order, after the `ahead` bytes) before anything else is.
   */
  readArea(ahead: number): Buffer | undefined {
    if (
      this.error !== undefined ||
      this.closed ||
      this.blockInFlight ||
      ahead < 0
    ) {
      return undefined;
    }
    const room = this.capacity();
    let block = this.block;
    let start = this.fill + ahead;
    let end = this.fill + room;
    if (ahead >= room) {
      // the block fills first: the next one is the free buffer on top
      // (if another is freed meanwhile, the chunk is copied from here)
      block = this.free[this.free.length - 1];
      start = ahead - room;
      end = this.blockSize;
      if (!block) {
        return undefined;
      }
    }
    return end - start >= MIN_READ_AREA
      ? block.subarray(start, end)
      : undefined;
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
    this.blockInFlight = true;
    const entry = {
      buf,
      end: position + length,
      complete: false,
      done: Promise.resolve(),
    };
    // the hash reads the block while it is written (or right here, for a
    // hasher on this thread)
    let hashed: Promise<void> | undefined;
    try {
      hashed = this.hasher?.update(buf.subarray(0, length));
    } catch (error) {
      hashed = Promise.reject(error);
    }
    entry.done = Promise.all([
      this.writeBlock(buf, length, position),
      hashed,
    ]).then(
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
    this.maybeStartSync();
  }

  /**
   * Buffered mode: starts an fdatasync of what is written once
   * `syncEveryBytes` more are, one at a time, off the caller's path.
   */
  private maybeStartSync() {
    if (
      this.syncEveryBytes <= 0 ||
      this.syncing ||
      this.closed ||
      this.error !== undefined ||
      this.writtenOffset - this.syncStartedAt < this.syncEveryBytes
    ) {
      return;
    }
    const startedAt = this.writtenOffset;
    this.syncStartedAt = startedAt;
    this.syncing = this.handle.datasync().then(
      () => {
        this.syncedOffset = Math.max(this.syncedOffset, startedAt);
        this.syncing = undefined;
        this.maybeStartSync();
      },
      error => {
        // never retried (fsyncgate): the writer fails
        this.error ??= error;
        this.syncing = undefined;
      },
    );
  }

  /** Whether the caller must wait for background syncs (bounded dirty data). */
  private tooMuchUnsynced() {
    return (
      this.syncEveryBytes > 0 &&
      this.blockStart - this.syncedOffset > 2 * this.syncEveryBytes
    );
  }

  private async waitForSyncs() {
    while (this.tooMuchUnsynced()) {
      this.throwIfFailed();
      if (this.syncing) {
        await this.syncing;
      } else if (this.inflight.length) {
        await this.inflight[0].done;
      } else {
        this.syncStartedAt = Math.min(this.syncStartedAt, this.syncedOffset);
        this.maybeStartSync();
        if (!this.syncing) {
          return;
        }
      }
    }
    this.throwIfFailed();
  }

  private nextBlock(): boolean {
    const next = this.free.pop();
    if (next) {
      this.block = next;
      this.blockInFlight = false;
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
    await this.syncing;
    this.throwIfFailed();
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
    await this.syncing;
    if (this.error === undefined) {
      this.buffers.forEach(releaseBuffer);
    }
    await this.directHandle?.close().catch(() => {});
    await this.handle.close();
  }
}
