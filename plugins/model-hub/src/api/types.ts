import type {
  HubCheckWaiver,
  HubFile as ApiFile,
  HubFileTreeNode as ApiFileTreeNode,
  HubVersionCheck,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';

// The shapes of the REST API live in -common (one definition for the
// backend, this plugin, the scaffolder actions and the catalog module); this
// plugin re-exports them under the names of its public API.
export {
  FILE_KINDS,
  JOB_STATES,
  VERSION_STATES,
} from '@model-hub/backstage-plugin-model-hub-common';
export type {
  CreateVersionRequest,
  FileKind,
  HfImportRequest,
  HfImportResult,
  HfRepo,
  HfRepoPreview,
  HubActiveVersion,
  HubActiveVersionChange,
  HubActiveVersionState,
  HubActivity,
  HubApprovalItem,
  HubAuditEntry,
  HubCheckWaiver,
  HubComment,
  HubDiffFile,
  HubDriftVersion,
  HubJob,
  HubJobLog,
  HubModel,
  HubModelSummary,
  HubModelSync,
  HubModelWithVersions,
  HubScanStatus,
  HubScannedModel,
  HubStats,
  HubStatsPoint,
  HubTransitionResult,
  HubValueChange,
  HubVersion,
  HubVersionDiff,
  HubVersionReview,
  JobState,
  ListApprovalsRequest,
  ListAuditRequest,
  ListJobsRequest,
  ListModelsRequest,
  Page,
  ReviewDecision,
  SourceType,
  TransitionAction,
  UpdateModelRequest,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';

/**
 * The result of an inspection check of a version, with its waiver. Not a
 * shape of the REST API: the client merges the review data's waivers into
 * its checks (`listChecks`).
 *
 * @public
 */
export type HubCheck = HubVersionCheck & {
  /** Why a failed required check was waived, and by whom. */
  waiver?: Pick<HubCheckWaiver, 'reason' | 'waivedBy' | 'lapsed'>;
};

/**
 * A step in the approval timeline of a version. Not a shape of the REST
 * API: the client reads it from the version's audit trail
 * (`GET …/history`, `listReviews`).
 *
 * @public
 */
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

/**
 * A file of a version, with where its bytes are: `location` is not a field
 * of the REST API; the file browser marks the files of a synced commit the
 * hub has not stored yet.
 *
 * @public
 */
export type HubFile = ApiFile & {
  /**
   * Whether the bytes are in the hub's store (`local`) or still only at the
   * source (`remote`, e.g. a Hugging Face file not fetched yet). Absent means
   * local.
   */
  location?: 'local' | 'remote';
};

/** A node of the file tree of a version, with where its bytes are. @public */
export type HubFileTreeNode = Omit<ApiFileTreeNode, 'children'> & {
  location?: 'local' | 'remote';
  children?: HubFileTreeNode[];
};

/** The files of a version, flat and as a tree. @public */
export type HubFileList = { files: HubFile[]; tree: HubFileTreeNode };
