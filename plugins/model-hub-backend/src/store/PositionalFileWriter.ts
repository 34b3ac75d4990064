import { constants, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { resolveWriteMode, WriteMode } from './SequentialFileWriter';

/** File offsets and lengths of direct I/O are multiples of this. */
export const POSITIONAL_ALIGNMENT = 4096;
const WASM_PAGE = 65536;

/**
 * A fixed set of page-aligned buffers of one size, taken and given back
 * (no allocation, no page faults after the first use). The memory of a
 * `WebAssembly.Memory` starts on a page boundary; a `Buffer`'s does not,
 * and `O_DIRECT` wants page-aligned memory to be fast on a virtual disk.
 * The memory is shared (a `SharedArrayBuffer`, {@link AlignedBufferPool.memory}),
 * so that a worker thread can read the buffers where they are. Where
 * WebAssembly is off (`--jitless`) the buffers are ordinary ones and
 * {@link AlignedBufferPool.aligned} is false.
 *
 * @internal
 */
export class AlignedBufferPool {
  readonly aligned: boolean;
  /** The memory all buffers are views of (undefined: separate buffers). */
  readonly memory: ArrayBufferLike | undefined;
  private readonly free: Buffer[] = [];

  constructor(readonly count: number, readonly size: number) {
    if (size % POSITIONAL_ALIGNMENT !== 0 || count < 1) {
      throw new TypeError(
        `Invalid buffer pool: ${count} buffers of ${size} bytes`,
      );
    }
    const stride = Math.ceil(size / WASM_PAGE) * WASM_PAGE;
    const pages = (stride * count) / WASM_PAGE;
    let all: Buffer | undefined;
    for (const shared of [true, false]) {
      try {
        const memory = new WebAssembly.Memory({
          initial: pages,
          maximum: pages,
          shared,
        });
        all = Buffer.from(memory.buffer as ArrayBuffer);
        break;
      } catch {
        all = undefined;
      }
    }
    this.aligned = all !== undefined;
    this.memory = all?.buffer;
    for (let i = 0; i < count; i++) {
      this.free.push(
        all
          ? all.subarray(i * stride, i * stride + size)
          : Buffer.allocUnsafeSlow(size),
      );
    }
  }

  /** Buffers not taken. */
  get available(): number {
    return this.free.length;
  }

  /** A free buffer, or undefined when all are taken. */
  tryTake(): Buffer | undefined {
    return this.free.pop();
  }

  give(buf: Buffer) {
    this.free.push(buf);
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
    if (bytesWritten <= 0) {
      throw new Error(`Wrote nothing at byte ${position + done}`);
    }
    done += bytesWritten;
  }
}

/**
 * Writes (and reads back) blocks of a file at their offsets, from any
 * number of callers at once, for downloads that fill a file in pieces.
 *
 * In `direct` mode, writes whose offset and length are multiples of 4 KiB
 * from page-aligned memory go past the page cache (`O_DIRECT`): no kernel
 * copy, no dirty pages, and nothing to evict; other writes (a file's
 * unaligned tail) go through the page cache. In `buffered` mode all writes
 * go through the page cache and the caller bounds the dirty data with
 * {@link PositionalFileWriter.datasync}. `auto` takes the mode that
 * {@link resolveWriteMode} measured for the file's filesystem; where the
 * filesystem refuses `O_DIRECT` (tmpfs), the page cache.
 *
 * @internal
 */
export class PositionalFileWriter {
  private constructor(
    private readonly handle: fs.FileHandle,
    private directHandle: fs.FileHandle | undefined,
  ) {}

  /**
   * Opens `path` (it must exist) for positional writes; `alignedMemory`:
   * whether the caller's buffers are page-aligned (else no direct I/O).
   */
  static async open(
    path: string,
    options: { mode?: WriteMode; alignedMemory: boolean },
  ): Promise<PositionalFileWriter> {
    let mode = options.mode ?? 'auto';
    if (mode === 'auto') {
      mode = (await resolveWriteMode(dirname(path))).mode;
    }
    const handle = await fs.open(path, 'r+');
    let direct: fs.FileHandle | undefined;
    if (
      mode === 'direct' &&
      options.alignedMemory &&
      constants.O_DIRECT !== undefined
    ) {
      try {
        // eslint-disable-next-line no-bitwise
        direct = await fs.open(path, constants.O_RDWR | constants.O_DIRECT);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'EOPNOTSUPP' && code !== 'ENOTSUP') {
          await handle.close();
          throw error;
        }
      }
    }
    return new PositionalFileWriter(handle, direct);
  }

  /** Whether aligned writes go past the page cache. */
  get usesDirectIo(): boolean {
    return this.directHandle !== undefined;
  }

  private static aligned(length: number, position: number) {
    return (
      position % POSITIONAL_ALIGNMENT === 0 &&
      length % POSITIONAL_ALIGNMENT === 0
    );
  }

  /** Writes `length` bytes of `buf` at `position`. */
  async write(buf: Buffer, length: number, position: number): Promise<void> {
    const direct = this.directHandle;
    if (direct && PositionalFileWriter.aligned(length, position)) {
      try {
        await writeFully(direct, buf, length, position);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') {
          throw error;
        }
        // a device that wants larger blocks: the page cache from now on
        this.directHandle = undefined;
        await direct.close().catch(() => {});
      }
    }
    await writeFully(this.handle, buf, length, position);
  }

  /**
   * Reads `length` bytes at `position` into `buf` (page-aligned memory for
   * aligned reads in direct mode: they come from the device, not the page
   * cache, where direct writes left nothing).
   */
  async read(buf: Buffer, length: number, position: number): Promise<void> {
    const direct = this.directHandle;
    const handle =
      direct && PositionalFileWriter.aligned(length, position)
        ? direct
        : this.handle;
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(
        buf,
        done,
        length - done,
        position + done,
      );
      if (bytesRead <= 0) {
        throw new Error(`The file ended at byte ${position + done}`);
      }
      done += bytesRead;
    }
  }

  /** `fdatasync`: the bytes written so far (and the file's blocks) are durable. */
  async datasync(): Promise<void> {
    await this.handle.datasync();
  }

  /** `fsync`. */
  async sync(): Promise<void> {
    await this.handle.sync();
  }

  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
  }

  async close(): Promise<void> {
    await this.directHandle?.close().catch(() => {});
    await this.handle.close();
  }
}
