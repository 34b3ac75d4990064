import { join } from 'node:path';
import type { PutBlobResult } from '../store/ArtifactStore';
import type { WriteMode } from '../store/SequentialFileWriter';
import type { FileResponse } from './types';
import type { PartialDownloadStore } from './PartialDownloadStore';
import type { ArtifactStore } from '../store/ArtifactStore';
import type { ParallelDownloadOptions } from './rangedDownload';

/** At most one progress report per this many milliseconds. @internal */
export const PROGRESS_INTERVAL_MS = 250;

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

/** The key of a download: the content identity the Hub announces. @internal */
export function blobKeyOf(file: DownloadFile): string {
  return file.lfsSha256 ? `sha256:${file.lfsSha256}` : `gitsha1:${file.oid}`;
}

/** What {@link downloadBlob} takes. @internal */
export type DownloadBlobOptions = {
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
  /** How the partial file is written (default `auto`). */
  writeMode?: WriteMode;
  /** Parallel ranged requests for large LFS files (default: one stream). */
  parallel?: ParallelDownloadOptions;
  /**
   * Files from this size on are hashed in a worker thread, off the thread
   * that receives the bytes (default 32 MiB).
   */
  backgroundHashMinBytes?: number;
};

/** What {@link downloadBlob} returns. @internal */
export type DownloadBlobResult = PutBlobResult & { resumedFrom: number };

/** The partial file of a download. @internal */
export function partialPathOf(dir: string, blobKey: string): string {
  return join(dir, `${blobKey.replace(':', '-')}.partial`);
}
