import { promises as fs } from 'node:fs';
import type { PutBlobResult } from '../store/ArtifactStore';
import { RetryableJobError } from './JobWorker';
import {
  downloadPieces,
  ParallelDownloadOptions,
  pieceStatePath,
  RangesUnsupportedError,
} from './rangedDownload';
import {
  DownloadBlobOptions,
  DownloadVerificationError,
  PROGRESS_INTERVAL_MS,
} from './downloadTypes';

/**
 * The parallel path of {@link downloadBlob}: pieces fetched with ranged
 * requests ({@link downloadPieces}), verified against the LFS SHA-256,
 * then handed to the store. Undefined when the upstream ignores ranges.
 *
 * @internal
 */
export async function downloadInPieces(
  options: DownloadBlobOptions & {
    parallel: ParallelDownloadOptions;
  },
  sha256: string,
  blobKey: string,
  tempPath: string,
): Promise<(PutBlobResult & { resumedFrom: number }) | undefined> {
  const { file, partials } = options;
  const previous = await partials.get(blobKey);
  // the row marks the temporary file as a download in progress
  await partials.put({
    blobKey,
    url: options.url,
    etag: previous?.etag,
    size: file.size,
    durableOffset: 0,
    tempPath,
    jobId: options.jobId,
  });
  let resumedFrom = 0;
  const discard = async () => {
    await fs.rm(tempPath, { force: true }).catch(() => {});
    await fs.rm(pieceStatePath(tempPath), { force: true }).catch(() => {});
    await partials.delete(blobKey).catch(() => {});
  };
  let lastReport = 0;
  try {
    const result = await downloadPieces({
      size: file.size,
      sha256,
      path: file.path,
      tempPath,
      fetchRange: options.fetchRange,
      connections: options.parallel.connections,
      pieceBytes: options.parallel.pieceBytes,
      signal: options.signal,
      checkpointBytes: options.checkpointBytes,
      log: options.log,
      onBytes: bytes => {
        const now = Date.now();
        if (now - lastReport >= PROGRESS_INTERVAL_MS || bytes === file.size) {
          lastReport = now;
          options.onBytes?.(bytes);
        }
      },
    });
    resumedFrom = result.resumedBytes;
    if (result.sha256 !== sha256) {
      throw new DownloadVerificationError(
        `sha256 mismatch for ${file.path}: expected sha256 ${sha256}, got ${result.sha256}; the upstream served wrong bytes and nothing was stored`,
      );
    }
    const blob = await options.artifacts.putFile({
      path: tempPath,
      sha256,
      size: file.size,
    });
    await discard();
    return { ...blob, resumedFrom };
  } catch (error) {
    if (error instanceof RangesUnsupportedError) {
      await options.log?.(
        `The server ignores ranges for ${file.path}; downloading it in one stream`,
      );
      await discard();
      return undefined;
    }
    if (error instanceof DownloadVerificationError) {
      await discard();
      if (resumedFrom > 0) {
        throw new RetryableJobError(
          `${error.message}; the download had resumed ${resumedFrom} bytes, so it starts again from the beginning`,
          0,
        );
      }
    }
    throw error;
  }
}
