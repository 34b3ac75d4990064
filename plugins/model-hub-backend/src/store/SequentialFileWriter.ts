import { randomBytes, randomUUID } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '@backstage/config';
import type { BlockHasher } from './BlockHasher';

/** File offsets and lengths of direct writes are multiples of this. */
export const DIRECT_IO_ALIGNMENT = 4096;
const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
/** Free aligned buffers kept for the next writers, per block size. */
const MAX_POOLED_BUFFERS = 16;
const WASM_PAGE = 65536;
const DEFAULT_SYNC_EVERY_BYTES = 64 * 1024 * 1024;
const DEFAULT_PROBE_BYTES = 32 * 1024 * 1024;

/**
 * How large files are written:
 *
 * - `direct`: whole, aligned blocks with `O_DIRECT`, past the page cache
 *   (unaligned heads and tails through the page cache);
 * - `buffered`: through the page cache, with an `fdatasync` started every
 *   `syncEveryBytes` while the next blocks are written, so dirty data stays
 *   bounded and the final fsync is short;
 * - `auto`: whichever of the two writes durably faster in the file's
 *   folder, measured once per filesystem ({@link resolveWriteMode}).
 *
 * @internal
 */
export type WriteMode = 'auto' | 'direct' | 'buffered';

/** @internal */
export type SequentialFileWriterOptions = {
  /** Default `auto`. */
  mode?: WriteMode;
  /**
   * The old switch: true is `direct`, false is `buffered` (`mode` wins).
   */
  direct?: boolean;
  /** Bytes per write, a multiple of 4096 (default 4 MiB). */
  blockSize?: number;
  /** Writes in flight at most while the next block fills (default 2). */
  maxInflight?: number;
  /**
   * Page-cache writes: start an `fdatasync` each time this many more bytes
   * are written, and hold the caller while more than twice as many are not
   * yet synced (default 64 MiB; 0: only the caller's syncs).
   */
  syncEveryBytes?: number;
  /**
   * Given every block as it is submitted, in file order (a
   * {@link BackgroundHasher} reads it from the writer's shared memory in
   * another thread while it is written); a block's buffer is reused once
   * both its write and its hash are done.
   */
  hasher?: BlockHasher;
};

/**
 * Reads `modelHub.storage.writeMode` (`auto`, `direct` or `buffered`); the
 * older `modelHub.storage.directIo` still works (true: `direct`, false:
 * `buffered`). Default `auto`.
 *
 * @internal
 */
export function readWriteMode(config: Config): WriteMode {
  const mode = config.getOptionalString('modelHub.storage.writeMode');
  if (mode !== undefined) {
    if (mode !== 'auto' && mode !== 'direct' && mode !== 'buffered') {
      throw new Error(
        `modelHub.storage.writeMode must be auto, direct or buffered, got '${mode}'`,
      );
    }
    return mode;
  }
  const direct = config.getOptionalBoolean('modelHub.storage.directIo');
  if (direct === undefined) {
    return 'auto';
  }
  return direct ? 'direct' : 'buffered';
}

const pools = new Map<number, Buffer[]>();
/** The page-aligned buffers (only they are pooled). */
const alignedBuffers = new WeakSet<Buffer>();

function releaseBuffer(buf: Buffer) {
  if (!alignedBuffers.has(buf)) {
    return;
  }
  const pool = pools.get(buf.length) ?? [];
  pools.set(buf.length, pool);
  if (pool.length < MAX_POOLED_BUFFERS) {
    pool.push(buf);
  }
}

/**
 * `count` page-aligned buffers of `size` bytes for `O_DIRECT` writes, or
 * undefined where WebAssembly is off (`--jitless`). The memory of a
 * `WebAssembly.Memory` starts on a page boundary (64 KiB); a `Buffer`'s
 * does not, and a direct write from memory that is only sector-aligned
 * (512 bytes) is accepted by the kernel but was 3-10x slower on a virtual
 * disk (the pages are split into more segments). The memory is shared (a
 * `SharedArrayBuffer`), so that a hashing worker reads the blocks where
 * they are.
 */
function pageAlignedBuffers(count: number, size: number): Buffer[] | undefined {
  const pooled = pools.get(size) ?? [];
  const out = pooled.splice(0, count);
  const missing = count - out.length;
  if (missing > 0) {
    const stride = Math.ceil(size / WASM_PAGE) * WASM_PAGE;
    let memory: WebAssembly.Memory;
    try {
      const pages = (stride * missing) / WASM_PAGE;
      memory = new WebAssembly.Memory({
        initial: pages,
        maximum: pages,
        shared: true,
      });
    } catch {
      out.forEach(releaseBuffer);
      return undefined;
    }
    const all = Buffer.from(memory.buffer as ArrayBuffer);
    for (let i = 0; i < missing; i++) {
      const buf = all.subarray(i * stride, i * stride + size);
      alignedBuffers.add(buf);
      out.push(buf);
    }
  }
  return out;
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
 * Writes a stream of chunks to a file from an offset on, in large blocks
 * with up to `maxInflight` positional writes running in libuv's threads
 * while the next block fills. The caller's chunks are copied into the
 * block, so they may be reused as soon as `write` returns.
 *
 * In `direct` mode, blocks that start and end on 4 KiB boundaries are
 * written with `O_DIRECT` from page-aligned memory: the bytes go to the
 * device without passing through (and evicting) the page cache, and little
 * is left for the final fsync. In `buffered` mode every block goes through
 * the page cache and an `fdatasync` runs in the background every
 * `syncEveryBytes`, so dirty data stays bounded. `auto` (the default)
 * takes the faster of the two for the file's filesystem, measured once
 * ({@link resolveWriteMode}): on one virtual disk direct writes win 4x, on
 * tmpfs page-cache writes win 3x.
 *
 * `written` is the offset up to which every byte has been written (not yet
 * fsynced: call {@link SequentialFileWriter.sync}); a failed write or
 * background sync fails the next call.
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
      this.block.set(chunk.subarray(offset, offset + n), this.fill);
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

/** What {@link resolveWriteMode} measured in a folder. @internal */
export type WriteModeDecision = {
  mode: 'direct' | 'buffered';
  /** MB/s of each mode, written and fsynced (of the best run); 0: unavailable. */
  directMBs: number;
  bufferedMBs: number;
};

const decisions = new Map<string, Promise<WriteModeDecision>>();

async function probeOnce(
  dir: string,
  mode: 'direct' | 'buffered',
  bytes: number,
  chunk: Buffer,
): Promise<{ MBs: number; cost: number }> {
  const path = join(dir, `.write-probe-${randomUUID()}`);
  await fs.writeFile(path, '', { mode: 0o600 });
  try {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const writer = await SequentialFileWriter.open(path, 0, { mode });
    try {
      if (mode === 'direct' && !writer.usesDirectIo) {
        return { MBs: 0, cost: Infinity };
      }
      for (let done = 0; done < bytes; done += chunk.length) {
        const wait = writer.write(chunk);
        if (wait) {
          await wait;
        }
      }
      await writer.sync();
    } finally {
      await writer.close();
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    // CPU-seconds count as time too: the hash and the HTTP reads of a
    // download need the same cores (page-cache writes of new data cost
    // seconds of system time per GiB on some VMs)
    return {
      MBs: bytes / secs / 1e6,
      cost: secs + (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    await fs.rm(path, { force: true });
  }
}

/**
 * The write mode for files in `dir`: `direct` and `buffered` are taken as
 * they are; `auto` writes `probeBytes` (default 32 MiB) twice each way into
 * a scratch file there, fsync included, and takes page-cache writes when
 * they cost less than half (wall time plus CPU time of the process, best
 * of two; where direct writes are refused or slow, as on a disk that wants
 * larger blocks), else direct I/O (no eviction of the page cache). The measurement is made once per filesystem (device) and
 * process; concurrent callers share it.
 *
 * @internal
 */
export async function resolveWriteMode(
  dir: string,
  mode: WriteMode = 'auto',
  options: { probeBytes?: number } = {},
): Promise<WriteModeDecision> {
  if (mode !== 'auto') {
    return { mode, directMBs: 0, bufferedMBs: 0 };
  }
  if (constants.O_DIRECT === undefined) {
    return { mode: 'buffered', directMBs: 0, bufferedMBs: 0 };
  }
  const { dev } = await fs.stat(dir);
  const key = String(dev);
  let decision = decisions.get(key);
  if (!decision) {
    const bytes = options.probeBytes ?? DEFAULT_PROBE_BYTES;
    decision = (async () => {
      const chunk = randomBytes(Math.min(bytes, 1024 * 1024));
      const best = {
        direct: { MBs: 0, cost: Infinity },
        buffered: { MBs: 0, cost: Infinity },
      };
      for (let round = 0; round < 2; round++) {
        for (const m of ['direct', 'buffered'] as const) {
          const r = await probeOnce(dir, m, bytes, chunk);
          if (r.cost < best[m].cost) {
            best[m] = r;
          }
        }
      }
      // a short probe flatters the page cache (its first-touch and
      // writeback costs grow with the size written: 2 GiB through it cost
      // 11.5 CPU-s on this VM, direct 4.5): only a clear win counts
      const chosen: 'direct' | 'buffered' =
        best.buffered.cost < best.direct.cost * 0.5 ? 'buffered' : 'direct';
      return {
        mode: chosen,
        directMBs: best.direct.MBs,
        bufferedMBs: best.buffered.MBs,
      };
    })();
    decisions.set(key, decision);
    decision.catch(() => decisions.delete(key));
  }
  return decision;
}

/** Forgets the measurements of {@link resolveWriteMode} (tests). @internal */
export function forgetWriteModeDecisions() {
  decisions.clear();
}
