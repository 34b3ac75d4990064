import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InputError } from '@backstage/errors';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';
import type { FileResponse } from '../huggingface/HuggingFaceClient';
import { PartialDownloadStore } from './PartialDownloadStore';
import { RetryableJobError } from './JobWorker';

/** A file to download, as the Hub's tree lists it. @internal */
export type DownloadFile = {
  path: string;
  size: number;
  /** git blob sha1 (of the LFS pointer for LFS files). */
  oid: string;
  /** SHA-256 of the content, for LFS files. */
  lfsSha256?: string;
};

/** An error of a download that must not be retried. @internal */
export class DownloadVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadVerificationError';
  }
}

const WRITE_CHUNK = 1024 * 1024;
const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;

/** The key of a download: the content identity the Hub announces. @internal */
export function blobKeyOf(file: DownloadFile): string {
  return file.lfsSha256 ? `sha256:${file.lfsSha256}` : `gitsha1:${file.oid}`;
}

/**
 * Downloads a file into the content-addressed store, verified before the
 * blob enters it: SHA-256 against the LFS oid, or the git blob SHA-1 for
 * regular files. Bytes go to a partial file next to the store as they
 * arrive; every `checkpointBytes` the file is fsynced and its length
 * recorded, and a later call (after a crash or a restart) resumes from that
 * offset with `Range: bytes=<offset>-` and `If-Range`. A mismatch removes
 * the partial file, stores nothing and throws a
 * {@link DownloadVerificationError}; network failures throw a
 * {@link RetryableJobError} and keep the partial bytes.
 *
 * The bytes are streamed once: into the partial file and, at the same time,
 * into the store's atomic write (which hashes them), so a fresh download
 * costs no second pass; a resumed one re-reads only its prefix.
 *
 * @internal
 */
export async function downloadBlob(options: {
  file: DownloadFile;
  url: string;
  fetchRange: (
    headers: Record<string, string>,
    signal: AbortSignal,
  ) => Promise<FileResponse>;
  artifacts: ArtifactStore;
  partials: PartialDownloadStore;
  dir: string;
  jobId?: string;
  signal: AbortSignal;
  onBytes?: (bytes: number) => void;
  log?: (message: string) => Promise<void> | void;
  checkpointBytes?: number;
}): Promise<PutBlobResult & { resumedFrom: number }> {
  const { file, partials, signal } = options;
  const checkpointBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
  const blobKey = blobKeyOf(file);
  const tempPath = join(options.dir, `${blobKey.replace(':', '-')}.partial`);
  await fs.mkdir(options.dir, { recursive: true });

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
      throw new RetryableJobError(`Downloading ${file.path} failed: ${(error as Error).message}`);
    }
    if (offset > 0 && response.status === 206) {
      const m = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
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
    options.onBytes?.(offset);

    const sha1 = file.lfsSha256
      ? undefined
      : createHash('sha1').update(`blob ${file.size}\0`);
    let received = offset;
    let durable = offset;

    const source = async function* source(): AsyncGenerator<Buffer> {
      if (offset > 0) {
        for await (const chunk of createReadStream(tempPath, {
          start: 0,
          end: offset - 1,
          highWaterMark: WRITE_CHUNK,
        })) {
          sha1?.update(chunk as Buffer);
          yield chunk as Buffer;
        }
      }
      // Bytes go to the store's write as they arrive, while the previous
      // batch is written to the partial file (at most one write in flight).
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let inflight: Promise<unknown> = Promise.resolve();
      const flush = async (): Promise<Buffer[]> => {
        if (!pendingBytes) {
          return [];
        }
        // one buffer per batch: far cheaper downstream than many chunks
        const buf =
          pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await inflight;
        const position = received;
        received += buf.length;
        inflight = handle.write(buf, 0, buf.length, position);
        sha1?.update(buf);
        options.onBytes?.(received);
        if (received - durable >= checkpointBytes) {
          // The written bytes survive a crash of the process (they are in
          // the page cache); after a crash of the machine, a resumed file
          // that does not verify is downloaded again from the start.
          await inflight;
          durable = received;
          await partials.setOffset(blobKey, durable);
        }
        return [buf];
      };
      const keep = async () => {
        // keep what arrived, for the next attempt
        try {
          await flush();
          await inflight;
          await handle.datasync();
          await partials.setOffset(blobKey, received);
        } catch {
          // the last checkpoint stands
        }
      };
      const body = response.body;
      if (body) {
        try {
          for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
            const buf = Buffer.isBuffer(chunk)
              ? chunk
              : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            pending.push(buf);
            pendingBytes += buf.length;
            if (received + pendingBytes > file.size) {
              throw new DownloadVerificationError(
                `The upstream sent more than the ${file.size} bytes of ${file.path}`,
              );
            }
            if (pendingBytes >= WRITE_CHUNK) {
              yield* await flush();
            }
          }
        } catch (error) {
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
      yield* await flush();
      await inflight;
      if (received !== file.size) {
        await keep();
        throw new RetryableJobError(
          `The download of ${file.path} ended at byte ${received} of ${file.size}`,
        );
      }
      if (sha1) {
        const actual = sha1.digest('hex');
        if (actual !== file.oid) {
          throw new DownloadVerificationError(
            `git blob sha1 mismatch for ${file.path}: expected ${file.oid}, got ${actual}; the upstream served wrong bytes and nothing was stored`,
          );
        }
      }
    };

    let blob: PutBlobResult;
    try {
      blob = await options.artifacts.put(Readable.from(source(), { highWaterMark: 4 }), {
        expectedSha256: file.lfsSha256,
        expectedSize: file.size,
      });
    } catch (error) {
      if (
        error instanceof InputError &&
        /checksum mismatch|size mismatch/i.test(error.message)
      ) {
        throw new DownloadVerificationError(
          `sha256 mismatch for ${file.path}: ${error.message.replace(
            /^Checksum mismatch: /,
            '',
          )}; the upstream served wrong bytes and nothing was stored`,
        );
      }
      throw error;
    }
    await closeHandle();
    await fs.rm(tempPath, { force: true });
    await partials.delete(blobKey);
    return { ...blob, resumedFrom };
  } catch (error) {
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
