import { constants, promises as fs } from 'node:fs';

/** File offsets and lengths of direct writes are multiples of this. @internal */
export const DIRECT_IO_ALIGNMENT = 4096;
/** Free aligned buffers kept for the next writers, per block size. */
const MAX_POOLED_BUFFERS = 16;
const WASM_PAGE = 65536;

const pools = new Map<number, Buffer[]>();
/** The page-aligned buffers (only they are pooled). */
const alignedBuffers = new WeakSet<Buffer>();

/** Gives a buffer of {@link pageAlignedBuffers} back to the pool. @internal */
export function releaseBuffer(buf: Buffer) {
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
 *
 * @internal
 */
export function pageAlignedBuffers(
  count: number,
  size: number,
): Buffer[] | undefined {
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

/** Opens a file for direct writes; undefined where the filesystem refuses. @internal */
export async function openDirect(
  path: string,
): Promise<fs.FileHandle | undefined> {
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

/** Writes `length` bytes of `buf` at `position`, however many calls it takes. @internal */
export async function writeFully(
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
