import type {
  FileKind,
  HubModel,
  HubVersion,
  JobState,
  ModelSource,
  SourceType,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';

// The API shapes the backend and the frontend share live in -common.
export {
  FILE_KINDS,
  JOB_STATES,
  VERSION_STATES,
} from '@model-hub/backstage-plugin-model-hub-common';
export type {
  FileKind,
  HubModel,
  HubVersion,
  JobState,
  SourceType,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';

/** A page of results of a paginated list. @public */
export type Page<T> = {
  items: T[];
  totalCount: number;
  offset: number;
  limit: number;
};

/** A model in the models list, with a summary of its versions. @public */
export type HubModelSummary = HubModel & {
  versionCount?: number;
  latestVersion?: { label: string; state: VersionState; createdAt: string };
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

/** A lifecycle transition of a version. @public */
export type TransitionAction =
  | 'submit'
  | ReviewDecision
  | 'deprecate'
  | 'archive'
  | 'revoke';

/** The answer to a transition. @public */
export type HubTransitionResult = {
  version: HubVersion;
  from: VersionState;
  to: VersionState;
  round: number;
  approvals: { count: number; required: number; reviewers: string[] };
};

/** A step in the approval timeline of a version (from its audit trail). @public */
export type HubReview = {
  id: string | number;
  /** `submit`, `approve`, `request_changes`, `reject`, `upload-create`, ... */
  action: string;
  actor: string;
  comment?: string;
  fromState?: VersionState;
  toState?: VersionState;
  createdAt: string;
};

/** The result of an inspection check of a version. @public */
export type HubCheck = {
  name: string;
  status: 'pending' | 'running' | 'passed' | 'failed' | 'error' | 'skipped';
  required?: boolean;
  summary?: string;
  detailsUrl?: string;
  /** Why a failed required check was waived, and by whom. */
  waiver?: { reason: string; waivedBy: string };
};

/** A file in a diff. @public */
export type HubDiffFile = { path: string; size: number; sha256: string };

/** A change of a value between two versions. @public */
export type HubValueChange<T> = { from?: T; to?: T; changed: boolean };

/** The differences of a version to the previous approved version. @public */
export type HubVersionDiff = {
  base?: { label: string; state: string };
  files: {
    added: HubDiffFile[];
    removed: HubDiffFile[];
    changed: Array<{
      path: string;
      from: { size: number; sha256: string };
      to: { size: number; sha256: string };
    }>;
    unchanged: number;
  };
  totalSize?: HubValueChange<number>;
  parameters?: HubValueChange<number>;
  license?: HubValueChange<string>;
};

/** Everything a reviewer needs about a version (`GET …/review`). @public */
export type HubVersionReview = {
  version: HubVersion;
  round: number;
  submission?: {
    round: number;
    submittedBy: string;
    comment?: string;
    submittedAt: string;
  };
  approvals: { count: number; required: number; reviewers: string[] };
  decisions: Array<{
    id: string;
    round: number;
    reviewer: string;
    decision: string;
    comment?: string;
    createdAt: string;
  }>;
  checks: {
    items: HubCheck[];
    waivers: Array<{
      checkName: string;
      reason: string;
      waivedBy: string;
      createdAt: string;
    }>;
    blocking: string[];
  };
  diff?: HubVersionDiff;
};

/** A version waiting for review, in the review queue. @public */
export type HubApprovalItem = {
  modelRef: string;
  owner: string;
  type: string;
  lifecycle: string;
  label: string;
  revision: number;
  createdBy: string;
  round: number;
  submittedBy?: string;
  submittedAt?: string;
  /** The reviewers who approved in the current round. */
  approvals: string[];
};

/** Page and filter of the review queue. @public */
export type ListApprovalsRequest = {
  /** Only versions of this model (entity ref). */
  model?: string;
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

/**
 * Metadata of a model created through the API, for `updateModel`; `null`
 * clears an optional field. Catalog-defined models are edited in their
 * catalog YAML.
 *
 * @public
 */
export type UpdateModelRequest = {
  title?: string | null;
  description?: string | null;
  type?: HubModel['type'];
  task?: string | null;
  format?: HubModel['format'] | null;
  license?: string | null;
  lifecycle?: string;
  owner?: string;
  system?: string | null;
  tags?: string[];
  /** The model's `updatedAt` as read: the change fails (409) if it changed since. */
  expectedUpdatedAt?: string;
};

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
  drift: boolean;
  gated?: string;
  lastError?: string;
  cardData?: Record<string, unknown>;
  config?: Record<string, unknown>;
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

/** Registers a Hugging Face repository as a model and queues its sync. @public */
export type HfImportRequest = {
  /** `org/name`. */
  repoId: string;
  /** A branch, tag or commit; default `main`. */
  revision?: string;
  /** Entity ref of the owner; default the caller. */
  owner?: string;
  lifecycle?: string;
};

/** What a registration created. @public */
export type HfImportResult = {
  model: HubModel;
  repo: HfRepo;
  jobId: string;
};
