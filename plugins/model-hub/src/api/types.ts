import type {
  ModelFormat,
  ModelSource,
  ModelType,
} from '@internal/plugin-model-hub-common';

/**
 * The states of a model version.
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

/** @public */
export type FileKind = 'weights' | 'config' | 'tokenizer' | 'docs' | 'other';

/** Where a model's artifacts come from. @public */
export type SourceType = 'upload' | 'huggingface';

/** A page of results of a paginated list. @public */
export type Page<T> = {
  items: T[];
  totalCount: number;
  offset: number;
  limit: number;
};

/** A model of the hub (`GET /models/{ns}/{name}`). @public */
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

/** A model in the models list, with a summary of its versions. @public */
export type HubModelSummary = HubModel & {
  versionCount?: number;
  latestVersion?: { label: string; state: VersionState; createdAt: string };
};

/** A version of a model. @public */
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

/** A model with its versions. @public */
export type HubModelWithVersions = HubModel & { versions: HubVersion[] };

/** A file of a version. @public */
export type HubFile = {
  path: string;
  size: number;
  sha256: string;
  kind: FileKind;
  createdBy?: string;
  createdAt?: string;
  /**
   * Whether the bytes are in the hub's store (`local`) or still only at the
   * source (`remote`, e.g. a Hugging Face file not fetched yet). Absent means
   * local.
   */
  location?: 'local' | 'remote';
};

/** A node of the file tree of a version. @public */
export type HubFileTreeNode = {
  type: 'directory' | 'file';
  name: string;
  path: string;
  size?: number;
  sha256?: string;
  kind?: FileKind;
  location?: 'local' | 'remote';
  children?: HubFileTreeNode[];
};

/** The files of a version, flat and as a tree. @public */
export type HubFileList = { files: HubFile[]; tree: HubFileTreeNode };

/** A background job (sync, import, inspection). @public */
export type HubJob = {
  id: string;
  type: string;
  state: JobState;
  modelRef?: string;
  params?: Record<string, unknown>;
  progress?: {
    /** 0 to 1, or absent when unknown. */
    fraction?: number;
    bytesDone?: number;
    bytesTotal?: number;
    filesDone?: number;
    filesTotal?: number;
    message?: string;
    [key: string]: unknown;
  };
  attempts?: number;
  maxAttempts?: number;
  error?: string;
  createdBy?: string;
  createdAt: string;
  updatedAt?: string;
  startedAt?: string;
  finishedAt?: string;
};

/** A log line of a job. @public */
export type HubJobLog = {
  id: number;
  createdAt: string;
  level: string;
  message: string;
};

/** Counts of the hub (`GET /stats`). @public */
export type HubStats = {
  models: number;
  versions: { total: number; byState: Partial<Record<VersionState, number>> };
  storage: { blobs: number; bytes: number; unreferencedBlobs?: number };
  jobs: { active: number; failed: number };
};

/** One day of the storage and downloads history. @public */
export type HubStatsPoint = {
  /** The day, `YYYY-MM-DD`. */
  date: string;
  storageBytes: number;
  downloads: number;
  downloadBytes?: number;
};

/** An entry of the recent activity (the audit trail). @public */
export type HubActivity = {
  id: string | number;
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  status?: 'succeeded' | 'failed' | string;
  message?: string;
  createdAt: string;
};

/** The decision of a review. @public */
export type ReviewDecision = 'approve' | 'request_changes' | 'reject';

/** A review (or another step) in the approval timeline of a version. @public */
export type HubReview = {
  id: string | number;
  /** `submit`, `approve`, `request_changes`, `reject`, `comment`, ... */
  action: string;
  actor: string;
  comment?: string;
  fromState?: VersionState;
  toState?: VersionState;
  createdAt: string;
};

/** The result of an automatic inspection check of a version. @public */
export type HubCheck = {
  id: string;
  name: string;
  status: 'passed' | 'warning' | 'failed' | 'pending' | string;
  message?: string;
  path?: string;
};

/** The differences of a version to the previous approved version. @public */
export type HubVersionDiff = {
  baseLabel?: string;
  added: HubFile[];
  removed: HubFile[];
  changed: Array<{ path: string; before: HubFile; after: HubFile }>;
  unchanged?: number;
};

/** A version waiting for (or done with) review, in the approvals queue. @public */
export type HubApprovalItem = {
  modelRef: string;
  modelTitle?: string;
  owner?: string;
  version: HubVersion;
  submittedBy?: string;
  submittedAt?: string;
};

/** Filters of the approvals queue. @public */
export type ListApprovalsRequest = {
  state?: VersionState[];
  owner?: string;
  q?: string;
  offset?: number;
  limit?: number;
};

/** Filters, search, sort and page of the models list. @public */
export type ListModelsRequest = {
  offset?: number;
  limit?: number;
  type?: string[];
  state?: VersionState[];
  owner?: string[];
  source?: SourceType[];
  tag?: string[];
  q?: string;
  sort?: 'name' | 'createdAt' | 'updatedAt';
  order?: 'asc' | 'desc';
};

/** Filters and page of the jobs list. @public */
export type ListJobsRequest = {
  offset?: number;
  limit?: number;
  state?: JobState[];
  type?: string;
  model?: string;
};

/** A new draft version. @public */
export type CreateVersionRequest = {
  label: string;
  notes?: string;
  source?: ModelSource;
};

/** A preview of a Hugging Face repository before its import. @public */
export type HfRepoPreview = {
  repo: string;
  revision: string;
  sha?: string;
  private?: boolean;
  gated?: boolean | string;
  pipelineTag?: string;
  libraryName?: string;
  license?: string;
  tags?: string[];
  files: Array<{ path: string; size: number; sha256?: string; lfs?: boolean }>;
  card?: string;
  /** Suggested catalog fields for the new model. */
  suggested?: {
    name?: string;
    type?: ModelType;
    task?: string;
    format?: ModelFormat;
  };
};

/** Imports a Hugging Face repository as a model. @public */
export type HfImportRequest = {
  repo: string;
  revision?: string;
  name: string;
  namespace?: string;
  owner: string;
  type: ModelType;
  title?: string;
  description?: string;
  tags?: string[];
};

/** What an import created. @public */
export type HfImportResult = {
  model: HubModel;
  job?: HubJob;
  version?: HubVersion;
};
