import { Knex } from 'knex';
import type { ModelSource } from '@model-hub/backstage-plugin-model-hub-common';
import type {
  FileKind,
  HubBlob,
  HubFile,
  HubJob,
  HubJobLog,
  HubModel,
  HubModelSummary,
  HubStats,
  HubVersion,
  JobState,
  SourceType,
  VersionState,
} from './types';
import type { ModelCondition } from './modelReadFilter';
import type { HfRepoHolder } from './hfRepoIdentity';

/** @internal */
export type CreateModelOptions = Omit<
  HubModel,
  'id' | 'entityRef' | 'createdAt' | 'updatedAt'
> & {
  /** The model source it comes from (`modelHub.sources`, issue 22). */
  sourceName?: string;
};

/** @internal */
export const MODEL_SORT_FIELDS = ['name', 'createdAt', 'updatedAt'] as const;

/** @internal */
export type ListModelsOptions = {
  offset: number;
  limit: number;
  filter?: {
    type?: string[];
    state?: VersionState[];
    owner?: string[];
    source?: SourceType[];
    tag?: string[];
    /** Namespaces, case-insensitive (any of them). */
    namespace?: string[];
  };
  /** Case-insensitive text search in name, title, description and tags. */
  search?: string;
  sort?: { field: (typeof MODEL_SORT_FIELDS)[number]; order: 'asc' | 'desc' };
  /** Only the models the caller may read (`model-hub.model.read`). */
  readable?: ModelCondition;
};

/** @internal */
export type CreateVersionOptions = {
  modelId: string;
  label: string;
  sourceType: SourceType;
  source?: ModelSource | unknown;
  resolvedCommit?: string;
  manifestDigest?: string;
  notes?: string;
  createdBy: string;
  /**
   * Files of the new version, added in the same transaction (a ZIP package
   * is imported all or nothing).
   */
  files?: Omit<AddFileOptions, 'versionId' | 'createdBy'>[];
  /**
   * The file list an HF version is synced with: later files of the version
   * must be in it with the same content (sha256 for LFS files, the git blob
   * id for files stored in git).
   */
  expectedFiles?: ExpectedFile[];
};

/** A file an HF version is expected to have. @internal */
export type ExpectedFile = {
  path: string;
  size: number;
  sha256?: string;
  gitOid?: string;
};

/** @internal */
export type AddFileOptions = {
  versionId: string;
  path: string;
  kind: FileKind;
  blob: { sha256: string; size: number; location: string };
  createdBy: string;
  /**
   * The git blob id the bytes were verified against (HF files stored in
   * git, which have no sha256 in the file list).
   */
  gitOid?: string;
};

/** @internal */
export type ListJobsOptions = {
  offset: number;
  limit: number;
  state?: JobState[];
  type?: string;
  modelId?: string;
  /** Only jobs of models the caller may read (and jobs of no model). */
  readable?: ModelCondition;
};

/** @internal */
export type CreateJobOptions = {
  type: string;
  modelId?: string;
  versionId?: string;
  params?: Record<string, unknown>;
  maxAttempts?: number;
  createdBy: string;
};

/** @internal */
export type AuditEventOptions = {
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  meta?: Record<string, unknown>;
};

/** An entry of the hub's audit trail. @internal */
export type HubAuditEvent = {
  id: number;
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  /** Only successful mutations are written to the trail. */
  status: 'succeeded';
  createdAt: string;
};

/** Storage and downloads of one UTC day. @internal */
export type HubStatsPoint = {
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  storageBytes: number;
  downloads: number;
  downloadBytes: number;
};

/**
 * The persistence of Model Hub: models, versions, files, blob references,
 * jobs and the audit trail.
 *
 * @internal
 */
export interface ModelHubStore {
  createModel(options: CreateModelOptions): Promise<HubModel>;
  getModel(options: { entityRef: string }): Promise<HubModel | undefined>;
  /**
   * The model holding a registered Hugging Face repo (by repo id, case
   * insensitive), or the registered repo of a model (by model id).
   */
  getHfRepoHolder(
    filter: { repoId: string } | { modelId: string },
  ): Promise<HfRepoHolder | undefined>;
  listModels(
    options: ListModelsOptions,
  ): Promise<{ items: HubModelSummary[]; totalCount: number }>;

  createVersion(options: CreateVersionOptions): Promise<HubVersion>;
  getVersion(options: {
    modelId: string;
    label: string;
  }): Promise<HubVersion | undefined>;
  listVersions(options: { modelId: string }): Promise<HubVersion[]>;

  /**
   * Adds a file to a version, pointing at a blob that is already durable in
   * the artifact store, in one transaction that locks the version row,
   * checks that the version is editable (`draft`, `changes_requested`),
   * creates the blob row or adds a reference to it, inserts the file,
   * records its uploader as a contributor and advances the version's
   * revision and content digest. A version with an expected file list (HF)
   * takes only files of that list with the listed content, and in any
   * state after approval only those (the bytes of an approved list filling
   * in). Adding the same content at the same path again is a no-op; other
   * content at an existing path, or a version that is not editable, is a
   * conflict (`ConflictError`).
   */
  addFile(
    options: AddFileOptions,
  ): Promise<{ file: HubFile; created: boolean }>;
  /**
   * Removes a file of an editable version (`ConflictError` otherwise),
   * advancing its revision and content digest.
   */
  removeFile(options: { versionId: string; path: string }): Promise<void>;
  /** The expected file list of an HF version (empty for other versions). */
  listExpectedFiles(options: { versionId: string }): Promise<ExpectedFile[]>;
  /** Everyone who put a file into a version (its uploaders). */
  listContributors(options: { versionId: string }): Promise<string[]>;
  getFile(options: {
    versionId: string;
    path: string;
  }): Promise<HubFile | undefined>;
  listFiles(options: { versionId: string }): Promise<HubFile[]>;

  getBlob(options: { sha256: string }): Promise<HubBlob | undefined>;
  /** Blobs no file points at, unreferenced since before `before`. */
  listUnreferencedBlobs(options: {
    before: Date;
    limit: number;
  }): Promise<HubBlob[]>;
  /**
   * Deletes the row of a blob if it is still unreferenced since before
   * `before`; `fn` runs inside the same transaction (to delete the bytes)
   * and the row stays when it throws.
   */
  deleteUnreferencedBlob(options: {
    sha256: string;
    before: Date;
    fn: () => Promise<void>;
  }): Promise<boolean>;
  /** Which of the given digests have a blob row. */
  findBlobs(options: { sha256s: string[] }): Promise<Set<string>>;

  /**
   * Queues a job (with the one retry budget of the job store, 5 attempts
   * unless `maxAttempts` says otherwise) and wakes the workers.
   */
  createJob(options: CreateJobOptions): Promise<HubJob>;
  getJob(options: { id: string }): Promise<HubJob | undefined>;
  listJobs(
    options: ListJobsOptions,
  ): Promise<{ items: HubJob[]; totalCount: number }>;
  /** Moves a failed or cancelled job back to queued, with a fresh budget of attempts. */
  retryJob(options: { id: string; actor: string }): Promise<HubJob>;
  /** Cancels a queued or running job. */
  cancelJob(options: { id: string; actor: string }): Promise<HubJob>;
  appendJobLog(options: {
    jobId: string;
    level: HubJobLog['level'];
    message: string;
  }): Promise<void>;
  listJobLogs(options: {
    jobId: string;
    afterId?: number;
    limit: number;
  }): Promise<HubJobLog[]>;

  /** Statistics of the models the caller may read (all by default). */
  getStats(options?: { readable?: ModelCondition }): Promise<HubStats>;

  /** Records an audit event; in `trx` when it must commit with a change. */
  addAuditEvent(
    options: AuditEventOptions,
    trx?: Knex.Transaction,
  ): Promise<void>;
  /** The newest audit events first. */
  listAuditEvents(options: {
    limit: number;
    /** Only events of models the caller may read (and of no model). */
    readable?: ModelCondition;
  }): Promise<HubAuditEvent[]>;

  /** Counts a file download on the (UTC) day of `at`. */
  recordDownload(options: { bytes: number; at?: Date }): Promise<void>;
  /**
   * One point per UTC day for the `days` days up to the day of `now`, oldest
   * first. Blobs are deleted for good by the garbage collection, so the
   * storage of a past day counts the blobs that still exist and were
   * created by the end of that day.
   */
  getStatsHistory(options: {
    days: number;
    now?: Date;
  }): Promise<HubStatsPoint[]>;
}
