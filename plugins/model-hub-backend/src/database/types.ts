import type {
  ModelFormat,
  ModelSource,
  ModelType,
} from '@internal/plugin-model-hub-common';

/**
 * The states a model version can be in.
 *
 * @public
 */
export const VERSION_STATES = [
  'draft',
  'in_review',
  'approved',
  'changes_requested',
  'rejected',
  'deprecated',
  'archived',
] as const;

/** @public */
export type VersionState = (typeof VERSION_STATES)[number];

/**
 * The kinds of files of a version.
 *
 * @public
 */
export const FILE_KINDS = [
  'weights',
  'config',
  'tokenizer',
  'docs',
  'other',
] as const;

/** @public */
export type FileKind = (typeof FILE_KINDS)[number];

/** @public */
export const JOB_STATES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const;

/** @public */
export type JobState = (typeof JOB_STATES)[number];

/** Where a model's or version's artifacts come from. @public */
export type SourceType = 'upload' | 'huggingface';

/**
 * A model of the hub, keyed by its catalog entity ref.
 *
 * @public
 */
export type HubModel = {
  id: string;
  entityRef: string;
  namespace: string;
  name: string;
  title?: string;
  description?: string;
  type: ModelType;
  task?: string;
  format?: ModelFormat;
  license?: string;
  lifecycle: string;
  owner: string;
  sourceType: SourceType;
  source?: ModelSource;
  tags: string[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
};

/** A model in a list, with a summary of its versions. @public */
export type HubModelSummary = HubModel & {
  versionCount: number;
  latestVersion?: { label: string; state: VersionState; createdAt: string };
};

/** @public */
export type HubVersion = {
  id: string;
  modelId: string;
  label: string;
  state: VersionState;
  sourceType: SourceType;
  source?: unknown;
  resolvedCommit?: string;
  manifestDigest?: string;
  notes?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  revision: number;
  fileCount: number;
  totalSize: number;
};

/** @public */
export type HubFile = {
  path: string;
  size: number;
  sha256: string;
  kind: FileKind;
  createdBy: string;
  createdAt: string;
};

/** @public */
export type HubBlob = {
  sha256: string;
  size: number;
  refCount: number;
  location: string;
  createdAt: string;
  lastReferencedAt: string;
};

/** @public */
export type HubJob = {
  id: string;
  type: string;
  state: JobState;
  modelId?: string;
  modelRef?: string;
  versionId?: string;
  params: Record<string, unknown>;
  progress: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  leasedBy?: string;
  leaseExpiresAt?: string;
  error?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
};

/** @public */
export type HubJobLog = {
  id: number;
  createdAt: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
};

/** @public */
export type HubStats = {
  models: number;
  versions: { total: number; byState: Record<VersionState, number> };
  storage: { blobs: number; bytes: number; unreferencedBlobs: number };
  jobs: { active: number; failed: number };
};
