import { promises as fs } from 'node:fs';
import type { FileResponse } from './types';
import { SequentialFileWriter } from '../store/SequentialFileWriter';
import { BlockHasher, createBlockHasher, HashSpec } from '../store/BlockHasher';
import { offerReadTarget } from '../store/readTarget';
import { RetryableJobError } from './JobWorker';
import { pieceStatePath } from './rangedDownload';
import { downloadInPieces } from './downloadInPieces';
import {
  blobKeyOf,
  DownloadBlobOptions,
  DownloadBlobResult,
  DownloadVerificationError,
  partialPathOf,
  PROGRESS_INTERVAL_MS,
} from './downloadTypes';

/** Size of the reads of a kept prefix. */
const IO_CHUNK = 4 * 1024 * 1024;
const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;

type FileHandle = fs.FileHandle;

/** Feeds the first `length` bytes of a file to the hasher, in large reads. */
async function hashPrefix(
  handle: FileHandle,
  length: number,
  hasher: BlockHasher,
  signal: AbortSignal,
) {
  const buf = Buffer.allocUnsafe(Math.min(IO_CHUNK, length));
  let position = 0;
  while (position < length) {
    signal.throwIfAborted();
    const { bytesRead } = await handle.read(
      buf,
      0,
      Math.min(buf.length, length - position),
      position,
    );
    if (!bytesRead) {
      throw new RetryableJobError(
        `The partial file ended at byte ${position} of ${length}`,
        0,
      );
    }
    await hasher.update(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/**
 * One download into the partial file, which the caller holds alone.
 *
 * @internal
 */
export async function downloadBlobOnce(
  options: DownloadBlobOptions,
): Promise<DownloadBlobResult> {
  const { file, partials, signal } = options;
  const checkpointBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
  const blobKey = blobKeyOf(file);
  const tempPath = partialPathOf(options.dir, blobKey);
  await fs.mkdir(options.dir, { recursive: true });

  const parallel = options.parallel;
  if (
    parallel &&
    parallel.connections > 1 &&
    file.lfsSha256 &&
    file.size >= parallel.minBytes
  ) {
    const stored = await downloadInPieces(
      { ...options, parallel },
      file.lfsSha256,
      blobKey,
      tempPath,
    );
    if (stored) {
      return stored;
    }
    // the upstream ignores ranges: one stream from the start
  }
  await fs.rm(pieceStatePath(tempPath), { force: true });

  // Where to resume: the durable offset, if the partial file still has it.
  let offset = 0;
  const previous = await partials.get(blobKey);
  const stat = await fs.stat(tempPath).catch(() => undefined);
  if (previous && stat && previous.size === file.size) {
    offset = Math.min(previous.durableOffset, stat.size);
  }
  const handle = await fs.open(tempPath, stat ? 'r+' : 'w+');
  let handleClosed = false;
  let resumedFrom = 0;
  let closeWriter: () => Promise<void> = async () => {};
  let hasher: BlockHasher | undefined;
  const closeHandle = async () => {
    if (!handleClosed) {
      handleClosed = true;
      await handle.close();
    }
  };
  try {
    await handle.truncate(offset);
    await partials.put({
      blobKey,
      url: options.url,
      etag: previous?.etag,
      size: file.size,
      durableOffset: offset,
      tempPath,
      jobId: options.jobId,
    });

    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      const etag = file.lfsSha256 ?? file.oid;
      headers['If-Range'] = `"${etag}"`;
    }
    let response: FileResponse;
    try {
      response = await options.fetchRange(headers, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof TypeError)) {
        throw error;
      }
      throw new RetryableJobError(
        `Downloading ${file.path} failed: ${(error as Error).message}`,
      );
    }
    if (offset > 0 && response.status === 206) {
      const m = /^bytes (\d+)-/.exec(
        response.headers.get('content-range') ?? '',
      );
      if (!m || Number(m[1]) !== offset) {
        await response.cancel();
        throw new RetryableJobError(
          `The server answered the range of ${file.path} from ${m?.[1]} instead of ${offset}`,
        );
      }
      await options.log?.(
        `Resuming ${file.path} from byte ${offset} of ${file.size}`,
      );
    } else if (response.status === 200) {
      if (offset > 0) {
        await options.log?.(
          `The server ignored the range of ${file.path}; downloading it from the start`,
        );
        offset = 0;
        await handle.truncate(0);
      }
    } else {
      await response.cancel();
      if (response.status === 416) {
        // the kept bytes do not fit the file upstream: start again
        await fs.rm(tempPath, { force: true });
        await partials.delete(blobKey);
        throw new RetryableJobError(
          `The server refused the range of ${file.path} from byte ${offset}; downloading it again from the start`,
          0,
        );
      }
      const retryable = response.status === 408 || response.status >= 500;
      const message = `Downloading ${file.path} failed: ${response.status} ${response.statusText}`;
      throw retryable
        ? new RetryableJobError(message)
        : new DownloadVerificationError(message);
    }
    resumedFrom = offset;

    // SHA-256, and the git blob SHA-1 of regular files
    const specs: HashSpec[] = [{ algorithm: 'sha256' }];
    if (!file.lfsSha256) {
      specs.push({ algorithm: 'sha1', prefix: `blob ${file.size}\0` });
    }
    hasher = createBlockHasher(
      specs,
      file.size,
      options.backgroundHashMinBytes,
    );
    if (offset > 0) {
      try {
        await hashPrefix(handle, offset, hasher, signal);
      } catch (error) {
        await response.cancel().catch(() => {});
        throw error;
      }
    }

    let lastReport = 0;
    const report = (bytes: number, force = false) => {
      const now = Date.now();
      if (force || now - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = now;
        options.onBytes?.(bytes);
      }
    };
    report(offset, true);

    // Received chunks land in (or are copied into) large blocks that are
    // written (past the page cache where possible) and hashed (in a worker
    // thread for large files) while the next ones fill.
    const writer = await SequentialFileWriter.open(tempPath, offset, {
      mode: options.writeMode,
      hasher,
    });
    closeWriter = () => writer.close();
    let received = offset; // bytes hashed and handed to the writer
    let durable = offset;
    const keep = async () => {
      // keep what arrived, for the next attempt
      try {
        await writer.sync();
        await partials.setOffset(blobKey, writer.written);
      } catch {
        // the last checkpoint stands
      }
    };
    const body = response.body;
    if (body) {
      // the socket reads straight into the writer's blocks where it can
      // (no copy on this thread); withdrawn before the writer closes
      offerReadTarget(body, ahead => writer.readArea(ahead));
      try {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          if (received + chunk.length > file.size) {
            throw new DownloadVerificationError(
              `The upstream sent more than the ${file.size} bytes of ${file.path}`,
            );
          }
          received += chunk.length;
          const wait = writer.write(chunk);
          if (wait) {
            await wait;
          }
          report(received);
          if (writer.written - durable >= checkpointBytes) {
            // The written bytes survive a crash of the process; after a
            // crash of the machine, a resumed file that does not verify is
            // downloaded again from the start.
            durable = writer.written;
            await partials.setOffset(blobKey, durable);
          }
        }
      } catch (error) {
        offerReadTarget(body, undefined);
        if (error instanceof DownloadVerificationError) {
          throw error;
        }
        await keep();
        if (signal.aborted) {
          throw error;
        }
        throw new RetryableJobError(
          `The download of ${file.path} broke off at byte ${received}: ${
            (error as Error).message
          }`,
        );
      }
    }
    offerReadTarget(body, undefined);
    report(received, true);
    if (received !== file.size) {
      await keep();
      throw new RetryableJobError(
        `The download of ${file.path} ended at byte ${received} of ${file.size}`,
      );
    }
    // every block submitted, so every byte hashed
    await writer.flush();
    const [digest, sha1] = await hasher.digest();
    if (sha1 !== undefined) {
      const actual = sha1;
      if (actual !== file.oid) {
        throw new DownloadVerificationError(
          `git blob sha1 mismatch for ${file.path}: expected ${file.oid}, got ${actual}; the upstream served wrong bytes and nothing was stored`,
        );
      }
    }
    if (file.lfsSha256 && digest !== file.lfsSha256) {
      throw new DownloadVerificationError(
        `sha256 mismatch for ${file.path}: expected sha256 ${file.lfsSha256}, got ${digest}; the upstream served wrong bytes and nothing was stored`,
      );
    }
    // An fsync error fails the download; it is never retried (fsyncgate).
    await writer.sync();
    await closeWriter();
    await closeHandle();
    const blob = await options.artifacts.putFile({
      path: tempPath,
      sha256: digest,
      size: file.size,
    });
    await fs.rm(tempPath, { force: true });
    await partials.delete(blobKey);
    return { ...blob, resumedFrom };
  } catch (error) {
    await closeWriter().catch(() => {});
    await hasher?.close().catch(() => {});
    await closeHandle().catch(() => {});
    if (error instanceof DownloadVerificationError) {
      // wrong bytes: start from scratch next time
      await fs.rm(tempPath, { force: true }).catch(() => {});
      await partials.delete(blobKey).catch(() => {});
      if (resumedFrom > 0) {
        // the kept bytes may be what went wrong (a crash of the machine)
        throw new RetryableJobError(
          `${error.message}; the download had resumed from byte ${resumedFrom}, so it starts again from the beginning`,
          0,
        );
      }
    }
    throw error;
  }
}
