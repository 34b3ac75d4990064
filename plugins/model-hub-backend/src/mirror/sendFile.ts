import { ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Response } from 'express';

/** Size of the reads of the fast path. */
const CHUNK = 4 * 1024 * 1024;

/**
 * Read buffers kept between requests (at most 8, 32 MiB): fresh large
 * buffers cost page faults and zeroing on every request.
 */
const POOL: Buffer[] = [];
const POOL_SIZE = 8;

function allocate(size: number): Buffer {
  if (size === CHUNK && POOL.length) {
    return POOL.pop()!;
  }
  return Buffer.allocUnsafeSlow(size);
}

function recycle(buffer: Buffer) {
  if (buffer.length === CHUNK && POOL.length < POOL_SIZE) {
    POOL.push(buffer);
  }
}

/**
 * Writes the inclusive byte range `start`-`end` of a local file to a
 * response, reading with two reused 4 MiB buffers: a buffer is read into
 * again only once the socket has taken its previous chunk. That halves the
 * CPU per byte of a stream that allocates a new buffer for every read
 * (see bench/mirror-serve). Returns false when the client went away.
 */
async function sendLocalFile(
  res: Response,
  path: string,
  start: number,
  end: number,
): Promise<boolean> {
  const total = end - start + 1;
  const size = Math.min(CHUNK, total);
  const handle = await open(path, 'r');
  let closed = false;
  let done = false;
  let onClose: () => void = () => {};
  const closedPromise = new Promise<undefined>(resolve => {
    onClose = () => {
      closed = true;
      resolve(undefined);
    };
  });
  res.once('close', onClose);
  try {
    const free: Buffer[] = [allocate(size)];
    if (total > size) {
      free.push(allocate(size));
    }
    const waiting: ((buffer: Buffer) => void)[] = [];
    const give = (buffer: Buffer) => {
      if (done) {
        // the socket took the last chunks: the buffer may serve others
        recycle(buffer);
        return;
      }
      const waiter = waiting.shift();
      if (waiter) {
        waiter(buffer);
      } else {
        free.push(buffer);
      }
    };
    const take = (): Promise<Buffer | undefined> =>
      free.length
        ? Promise.resolve(free.pop())
        : Promise.race([
            new Promise<Buffer>(resolve => waiting.push(resolve)),
            closedPromise,
          ]);
    // the response's own write: middleware such as compression() replaces
    // `res.write` with one that drops the callback (the mirror's responses
    // are `no-transform`, so the replacement would call this one anyway)
    const write = ServerResponse.prototype.write as (
      this: Response,
      chunk: Buffer,
      callback: () => void,
    ) => boolean;
    let position = start;
    while (position <= end) {
      const buffer = await take();
      if (!buffer || closed || res.destroyed) {
        return false;
      }
      const { bytesRead } = await handle.read(
        buffer,
        0,
        Math.min(size, end + 1 - position),
        position,
      );
      if (bytesRead === 0) {
        throw new Error(`${path} ended before byte ${end}`);
      }
      position += bytesRead;
      write.call(res, buffer.subarray(0, bytesRead), () => give(buffer));
    }
    done = true;
    // buffers the socket had already taken go back to the pool
    free.splice(0).forEach(recycle);
    res.end();
    return true;
  } finally {
    res.off('close', onClose);
    await handle.close();
  }
}

/**
 * Sends the content a store returned: a local file stream (the local
 * artifact store) through {@link sendLocalFile}, anything else (S3) piped.
 *
 * @internal
 */
export async function sendContent(
  res: Response,
  content: Readable,
  range: { start: number; end: number },
): Promise<boolean> {
  if (content instanceof ReadStream && typeof content.path === 'string') {
    const path = content.path;
    content.destroy();
    return sendLocalFile(res, path, range.start, range.end);
  }
  await pipeline(content, res);
  return true;
}
