import { HubNetwork } from './proxy';
import { RetryPolicy } from './retryingFetch';

/** The largest answer of the Hub API read (model info, a page of the tree). @internal */
export const MAX_API_RESPONSE_BYTES = 16 * 1024 * 1024;
/** The largest small file read by default (`config.json`, ...). @internal */
export const MAX_TEXT_FILE_BYTES = 5 * 1024 * 1024;
/** The most files of one commit a listing reads. @internal */
export const MAX_LISTED_FILES = 100_000;

/** Upstream content over a size cap. @internal */
export class UpstreamTooLargeError extends Error {
  name = 'UpstreamTooLargeError';
}

/** A file of a repo at a commit, as the tree API lists it. @internal */
export type HfFileEntry = {
  path: string;
  size: number;
  /** git blob sha1 (of the LFS pointer for LFS files). */
  oid: string;
  lfs?: { sha256: string; size: number; pointerSize: number };
};

/** Model info of a repo at a resolved commit. @internal */
export type HfModelInfo = {
  id: string;
  sha: string;
  private: boolean;
  gated: false | 'auto' | 'manual';
  pipelineTag?: string;
  libraryName?: string;
  tags: string[];
  cardData?: Record<string, unknown>;
  lastModified?: string;
};

/** @internal */
export type HuggingFaceClientOptions = {
  /** Base URL of the Hub (or a mirror); no trailing slash needed. */
  endpoint: string;
  token?: string;
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: { url: string; status?: number; delayMs: number }) => void;
  /** Proxies and extra CAs for every request to the Hub. */
  network?: HubNetwork;
};
