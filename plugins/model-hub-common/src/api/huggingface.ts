import type { HubModel } from './core';
import type { HubDriftVersion } from './models';

/** A preview of a Hugging Face repository before its import. @public */
export type HfRepoPreview = {
  repoId: string;
  revision: string;
  sha?: string;
  private?: boolean;
  gated?: boolean | string;
  pipelineTag?: string;
  libraryName?: string;
  license?: string;
  tags?: string[];
  files: Array<{ path: string; size: number; lfsSha256?: string }>;
  /** The model card (README.md) text. */
  card?: string;
};

/** A Hugging Face repository registered for sync. @public */
export type HfRepo = {
  id: string;
  modelId: string;
  modelRef: string;
  repoId: string;
  revision: string;
  syncState: 'pending' | 'synced' | 'failed';
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  upstreamCommit?: string;
  upstreamCheckedAt?: string;
  /** Upstream has a newer commit than the last synced one. */
  drift: boolean;
  gated?: string;
  /** When the last sync or upstream check failed, and why. */
  lastError?: string;
  lastErrorAt?: string;
  driftVersion?: HubDriftVersion;
  cardData?: Record<string, unknown>;
  config?: Record<string, unknown>;
  /** The model source it is registered from (`GET /sources`). */
  source?: string;
  /** What is wrong with its source; absent while healthy. */
  sourceProblem?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  files?: Array<{
    path: string;
    size: number;
    oid: string;
    lfsSha256?: string;
  }>;
};

/**
 * Registers a Hugging Face repository as a model and queues its sync
 * (`POST /huggingface/repos`).
 *
 * @public
 */
export type HfImportRequest = {
  /** `org/name`. */
  repoId: string;
  /** A branch, tag or commit; default `main`. */
  revision?: string;
  /** Entity ref of the owner; default the caller. */
  owner?: string;
  lifecycle?: string;
  /** The model source (`GET /sources`, a Hub source); default the backend's first Hub source. */
  source?: string;
};

/** What a registration created. @public */
export type HfImportResult = {
  model: HubModel;
  repo: HfRepo;
  jobId: string;
};
