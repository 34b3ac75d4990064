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
  /** The active version (null: none; absent: an older backend). */
  activeVersion?: {
    label: string;
    state: VersionState;
    promotedAt: string;
    promotedBy: string;
  } | null;
  /**
   * The version that needs most attention: one with failed checks first,
   * then changes requested, in review, draft, deprecated, approved.
   */
  worstState?: {
    label: string;
    state: VersionState;
    failedChecks: string[];
  } | null;
};

/** The version the hub created for an upstream commit (drift). @public */
export type HubDriftVersion = {
  label: string;
  state: VersionState;
  commit: string;
  /** The active approved version it is diffed against. */
  baseLabel?: string;
  status?:
    | 'awaiting_files'
    | 'submitted'
    | 'notified'
    | 'ignored'
    | 'blocked'
    | 'failed'
    | string;
  /** Why it is blocked or failed. */
  detail?: string;
  createdAt?: string;
};

/** The upstream sync state of a model synced from Hugging Face. @public */
export type HubModelSync = {
  repoId: string;
  revision: string;
  syncState: 'pending' | 'synced' | 'failed' | string;
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  upstreamCommit?: string;
  upstreamCheckedAt?: string;
  /** Upstream has a commit no version of the model is pinned to yet. */
  drift: boolean;
  lastError?: string;
  lastErrorAt?: string;
  onDrift?: 'review' | 'notify' | 'ignore' | string;
  driftVersion?: HubDriftVersion;
};

/** A model with its versions. @public */
export type HubModelWithVersions = HubModel & {
  versions: HubVersion[];
  /** The active version (absent: an older backend). */
  activeVersion?: HubActiveVersion | null;
  /** The upstream sync state; null for models not synced from Hugging Face. */
  sync?: HubModelSync | null;
};

/** An entry of the audit trail (`GET /audit`). @public */
export type HubAuditEntry = {
  id: number | string;
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  meta?: Record<string, unknown>;
  createdAt: string;
};

/** Filters and page of the audit trail. @public */
export type ListAuditRequest = {
  actor?: string[];
  model?: string[];
  event?: string[];
  /** ISO 8601 date or date-time. */
  from?: string;
  /** ISO 8601 date (inclusive) or date-time. */
  to?: string;
  offset?: number;
  limit?: number;
  order?: 'asc' | 'desc';
};

/** Whether local scanning is set up (`GET /scan`). @public */
export type HubScanStatus = { enabled: boolean; root?: string };

/** A model folder a local scan registered. @public */
export type HubScannedModel = {
  path: string;
  modelRef: string;
  version: string;
  files: number;
  bytes: number;
  created: boolean;
};

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
  waiver?: { reason: string; waivedBy: string; lapsed?: boolean };
};

/** A waiver of a failed check (`POST …/checks/{check}/waiver`). @public */
export type HubCheckWaiver = {
  checkName: string;
  reason: string;
  waivedBy: string;
  /** Whether the files changed since: a lapsed waiver waives nothing. */
  lapsed?: boolean;
  createdAt: string;
};

/** A comment on a version, with its replies. @public */
export type HubComment = {
  id: string;
  parentId?: string;
  author: string;
  body: string;
  createdAt: string;
  replies: HubComment[];
};

/** The active version of a model. @public */
export type HubActiveVersion = {
  versionId: string;
  label: string;
  state: VersionState;
  promotedBy: string;
  promotedAt: string;
};

/** A change of the active version of a model. @public */
export type HubActiveVersionChange = {
  id: number;
  label?: string;
  action: 'promote' | 'rollback' | 'clear';
  actor: string;
  createdAt: string;
};

/** The active version of a model with its changes, newest first. @public */
export type HubActiveVersionState = {
  active: HubActiveVersion | null;
  history: HubActiveVersionChange[];
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
      lapsed?: boolean;
      createdAt: string;
    }>;
    /** The required checks that block approval (names, or name and status). */
    blocking: Array<string | { name: string; status?: string }>;
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
  namespace?: string[];
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
  lastErrorAt?: string;
  driftVersion?: HubDriftVersion;
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
  /** The model source (`listSources`, a Hub source); default the backend's first Hub source. */
  source?: string;
};

/** What a registration created. @public */
export type HfImportResult = {
  model: HubModel;
  repo: HfRepo;
  jobId: string;
};
