import { promises as fs } from 'node:fs';
import { ServerResponse } from 'node:http';
import { Response } from 'express';
import { SharedFetch } from './onDemandFetch';

/** Size of the reads from the partial file. */
const CHUNK = 1024 * 1024;

/**
 * Writes the inclusive range `start`-`end` of a file that a
 * {@link SharedFetch} is still writing: bytes are read from its partial
 * file as soon as they are written, and the response waits for the others.
 * The last byte of the file is only sent once the fetch verified and stored
 * the whole file. Returns `stored` when the partial file was gone before it
 * could be opened (the fetch has finished: send from the store instead);
 * throws when the fetch fails, after which the response must be destroyed
 * (its Content-Length is never met).
 *
 * @internal
 */
export async function sendGrowingFile(
  res: Response,
  fetch: SharedFetch,
  start: number,
  end: number,
): Promise<'sent' | 'closed' | 'stored'> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(fetch.tempPath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
    // renamed into the store between the check and the open
    await fetch.waitFor(fetch.size - 1);
    return 'stored';
  }
  let onClose: () => void = () => {};
  const closed = new Promise<void>(resolve => {
    onClose = resolve;
  });
  res.once('close', onClose);
  // the response's own write (see sendFile.ts: compression() replaces it)
  const write = ServerResponse.prototype.write as (
    this: Response,
    chunk: Buffer,
    callback: () => void,
  ) => boolean;
  // two buffers, each read into again once the socket took its last chunk
  // (fresh buffers per read cost page faults and zeroing on every read)
  const size = Math.min(CHUNK, end - start + 1);
  const free: Buffer[] = [Buffer.allocUnsafeSlow(size)];
  if (end - start + 1 > size) {
    free.push(Buffer.allocUnsafeSlow(size));
  }
  const waiting: Array<() => void> = [];
  const give = (buffer: Buffer) => {
    free.push(buffer);
    waiting.splice(0).forEach(wake => wake());
  };
  const freed = () =>
    new Promise<void>(resolve => {
      waiting.push(resolve);
      closed.then(resolve);
    });
  const take = async (): Promise<Buffer | undefined> => {
    while (!free.length) {
      if (res.destroyed) {
        return undefined;
      }
      await freed();
    }
    return free.pop();
  };
  try {
    let position = start;
    while (position <= end) {
      if (res.destroyed) {
        return 'closed';
      }
      if (position >= fetch.readable) {
        await fetch.waitFor(position, closed);
        continue;
      }
      const buffer = await take();
      if (!buffer || res.destroyed) {
        return 'closed';
      }
      const length = Math.min(
        buffer.length,
        fetch.readable - position,
        end + 1 - position,
      );
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead === 0) {
        throw new Error(`${fetch.tempPath} ended before byte ${position}`);
      }
      position += bytesRead;
      write.call(res, buffer.subarray(0, bytesRead), () => give(buffer));
    }
    res.end();
    return 'sent';
  } finally {
    res.off('close', onClose);
    await handle.close();
  }
}
