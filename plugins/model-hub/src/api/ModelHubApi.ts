import { createApiRef } from '@backstage/core-plugin-api';
import type {
  CreateVersionRequest,
  HfImportRequest,
  HfImportResult,
  HfRepo,
  HfRepoPreview,
  HubActiveVersion,
  HubActiveVersionState,
  HubActivity,
  HubApprovalItem,
  HubAuditEntry,
  HubCheck,
  HubCheckWaiver,
  HubComment,
  HubFileList,
  HubJob,
  HubJobLog,
  HubModel,
  HubModelSummary,
  HubModelWithVersions,
  HubReview,
  HubScanStatus,
  HubStats,
  HubStatsPoint,
  HubTransitionResult,
  HubVersion,
  HubVersionDiff,
  HubVersionReview,
  ListApprovalsRequest,
  ListAuditRequest,
  ListJobsRequest,
  ListModelsRequest,
  Page,
  ReviewDecision,
  TransitionAction,
  UpdateModelRequest,
} from './types';
import type {
  CreateSourceRequest,
  HubSource,
  HubSourceReference,
} from './sourceTypes';

/**
 * A model, as its catalog entity ref (`model:default/llama-3-8b`, kind
 * optional) or as namespace and name.
 *
 * @public
 */
export type ModelRef = string | { namespace: string; name: string };

/**
 * The client of the Model Hub backend (`/api/model-hub`). Every method
 * throws a `ResponseError` when the backend answers with an error status.
 *
 * @public
 */
export interface ModelHubApi {
  /** A page of models, filtered, searched and sorted on the server. */
  listModels(request?: ListModelsRequest): Promise<Page<HubModelSummary>>;
  /** A model with its versions, newest first. */
  getModel(model: ModelRef): Promise<HubModelWithVersions>;
  /** Creates a draft version. */
  createVersion(
    model: ModelRef,
    request: CreateVersionRequest,
  ): Promise<HubVersion>;
  /** A version. */
  getVersion(model: ModelRef, label: string): Promise<HubVersion>;
  /** The files of a version, flat and as a tree. */
  listFiles(model: ModelRef, label: string): Promise<HubFileList>;
  /** The URL of a file's download endpoint. */
  getFileUrl(model: ModelRef, label: string, path: string): Promise<string>;
  /** Downloads a file (with the user's credentials) as a Blob. */
  downloadFile(model: ModelRef, label: string, path: string): Promise<Blob>;
  /**
   * The beginning of a text file (model card, config), at most `maxBytes`
   * bytes (default 256 KiB).
   */
  readTextFile(
    model: ModelRef,
    label: string,
    path: string,
    options?: { maxBytes?: number },
  ): Promise<string>;
  /** Removes a file from a draft version. */
  deleteFile(model: ModelRef, label: string, path: string): Promise<void>;
  /**
   * Deletes a version with its files: the model's owners delete drafts and
   * rejected versions, admins any version.
   */
  deleteVersion(model: ModelRef, label: string): Promise<void>;
  /**
   * Deletes a model with its versions and files (admins); a catalog-defined
   * model only once it is orphaned (removed from the catalog).
   */
  deleteModel(model: ModelRef): Promise<void>;
  /** Edits the metadata of a model created through the API. */
  updateModel(model: ModelRef, request: UpdateModelRequest): Promise<HubModel>;
  /**
   * Fetches files or folders of a synced version from its Hugging Face
   * repository into the hub's store; answers the download job's id.
   */
  downloadFromHuggingFace(
    repoId: string,
    options: { version?: string; files?: string[] },
  ): Promise<{ jobId: string | null }>;
  /** Queues a Hugging Face sync of a model. */
  triggerSync(
    model: ModelRef,
    options?: { revision?: string },
  ): Promise<HubJob>;

  /** Submits a draft version for review. */
  submitVersion(
    model: ModelRef,
    label: string,
    options?: { comment?: string; revision?: number },
  ): Promise<HubTransitionResult>;
  /** Approves, requests changes to or rejects a version in review. */
  reviewVersion(
    model: ModelRef,
    label: string,
    review: { decision: ReviewDecision; comment?: string; revision?: number },
  ): Promise<HubTransitionResult>;
  /** The approval timeline of a version (its audit trail), oldest first. */
  listReviews(model: ModelRef, label: string): Promise<HubReview[]>;
  /** The inspection checks of a version, with their waivers. */
  listChecks(model: ModelRef, label: string): Promise<HubCheck[]>;
  /**
   * The differences to the previous approved version, or to the version
   * `against` (e.g. the active one).
   */
  getVersionDiff(
    model: ModelRef,
    label: string,
    options?: { against?: string },
  ): Promise<HubVersionDiff>;
  /**
   * Any lifecycle transition of a version (submit, approve, request
   * changes, reject, deprecate, archive, revoke). `revision` is the one the
   * caller saw: another one answers 409.
   */
  transitionVersion(
    model: ModelRef,
    label: string,
    request: { action: TransitionAction; comment?: string; revision?: number },
  ): Promise<HubTransitionResult>;
  /** The comment threads of a version (comments with nested replies). */
  listComments(model: ModelRef, label: string): Promise<HubComment[]>;
  /** Comments on a version, or replies to the comment `parentId`. */
  addComment(
    model: ModelRef,
    label: string,
    comment: { body: string; parentId?: string },
  ): Promise<HubComment>;
  /** Waives a failed check of a version (admins; a reason is required). */
  waiveCheck(
    model: ModelRef,
    label: string,
    check: string,
    reason: string,
  ): Promise<HubCheckWaiver>;
  /** The active version of a model and its changes. */
  getActiveVersion(model: ModelRef): Promise<HubActiveVersionState>;
  /**
   * Makes an approved version the active one. `expectedActive` is the label
   * of the active version the caller saw (null: none): another one answers
   * 409.
   */
  promoteVersion(
    model: ModelRef,
    label: string,
    options?: { expectedActive?: string | null },
  ): Promise<HubActiveVersion>;
  /**
   * Rolls the active version back to `label`, or to the previous active
   * approved version.
   */
  rollbackVersion(
    model: ModelRef,
    options?: { label?: string; expectedActive?: string | null },
  ): Promise<HubActiveVersion>;

  /** A page of the audit trail, filtered (audit readers and admins). */
  listAudit(request?: ListAuditRequest): Promise<Page<HubAuditEntry>>;
  /** The event ids present in the audit trail. */
  listAuditEvents(): Promise<string[]>;
  /**
   * The audit trail under the same filters as CSV; `truncated` when the
   * backend cut it at its row limit.
   */
  exportAudit(
    request?: Omit<ListAuditRequest, 'offset' | 'limit'>,
  ): Promise<{ blob: Blob; filename: string; truncated: boolean }>;
  /** The namespaces of the models the caller may read, with their counts. */
  listNamespaces(): Promise<Array<{ namespace: string; count: number }>>;

  /** Whether local scanning is set up, and its root (admins). */
  getScanStatus(): Promise<HubScanStatus>;
  /** Starts a local scan job of a folder under the scan root (admins). */
  startLocalScan(request?: {
    path?: string;
    owner?: string;
  }): Promise<{ jobId: string; job: HubJob }>;
  /** Everything a reviewer needs about a version. */
  getVersionReview(model: ModelRef, label: string): Promise<HubVersionReview>;
  /** The review queue: versions in review, oldest first. */
  listApprovals(request?: ListApprovalsRequest): Promise<Page<HubApprovalItem>>;

  /** A page of jobs, newest first. */
  listJobs(request?: ListJobsRequest): Promise<Page<HubJob>>;
  /** A job. */
  getJob(id: string): Promise<HubJob>;
  /** The log lines of a job after the line `after`. */
  getJobLogs(
    id: string,
    options?: { after?: number; limit?: number },
  ): Promise<HubJobLog[]>;
  /** Requeues a failed or cancelled job. */
  retryJob(id: string): Promise<HubJob>;
  /** Cancels a queued or running job. */
  cancelJob(id: string): Promise<HubJob>;

  /** Counts of the hub. */
  getStats(): Promise<HubStats>;
  /** Storage and downloads per day. */
  getStatsHistory(options?: { days?: number }): Promise<HubStatsPoint[]>;
  /** The most recent activity. */
  listActivity(options?: { limit?: number }): Promise<HubActivity[]>;

  /** Files, card and metadata of a Hugging Face repository, before import. */
  previewHuggingFaceRepo(
    repoId: string,
    options?: { revision?: string; source?: string },
  ): Promise<HfRepoPreview>;
  /**
   * A registered Hugging Face repository with its files; `source` picks it
   * when the same id is registered from several sources.
   */
  getHuggingFaceRepo(
    repoId: string,
    options?: { source?: string },
  ): Promise<HfRepo>;
  /** Registers a Hugging Face repository as a model and queues its sync. */
  importHuggingFaceRepo(request: HfImportRequest): Promise<HfImportResult>;
  /** The registered Hugging Face repositories with sync state and drift. */
  listHuggingFaceRepos(options?: {
    offset?: number;
    limit?: number;
    syncState?: Array<HfRepo['syncState']>;
  }): Promise<Page<HfRepo>>;

  /** The tus endpoint of resumable uploads. */
  getUploadEndpoint(): Promise<string>;
  /**
   * The endpoint that imports a ZIP model package (raw body) into a version
   * of a model (a new one when `label` is absent).
   */
  getPackageUploadUrl(model: ModelRef, label?: string): Promise<string>;
  /** The base URL of the Hugging Face compatible mirror (`HF_ENDPOINT`). */
  getMirrorEndpoint(): Promise<string>;

  /** The model sources with their status (no secrets). */
  listSources(): Promise<Page<HubSource>>;
  /** The models that came from a source. */
  listSourceModels(
    name: string,
    options?: { offset?: number; limit?: number },
  ): Promise<Page<HubSourceReference>>;
  /** The source a model came from, with its status; undefined when it came from none. */
  getSourceOfModel(model: ModelRef): Promise<HubSource | undefined>;
  /** Checks a source now (model-hub.admin). */
  checkSource(name: string): Promise<HubSource>;
  /** Adds a source at run time (model-hub.admin). */
  createSource(request: CreateSourceRequest): Promise<HubSource>;
  /** Removes a run-time source no model refers to (model-hub.admin). */
  deleteSource(name: string): Promise<void>;
}

/**
 * The API reference of {@link ModelHubApi}.
 *
 * @public
 */
export const modelHubApiRef = createApiRef<ModelHubApi>({
  id: 'plugin.model-hub.service',
});
