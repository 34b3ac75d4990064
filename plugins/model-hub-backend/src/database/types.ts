import type {
  FileKind,
  HubModel,
  JobState,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';

// The API shapes both the backend and the frontend use live in -common.
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

/** The active version of a model in the models list. @public */
export type SummaryActiveVersion = {
  versionId: string;
  label: string;
  state: VersionState;
  promotedBy: string;
  promotedAt: string;
};

/**
 * The version of a model that needs the most attention, for the models
 * list: a version with a failed check first, then by state. @public
 */
export type SummaryWorstState = {
  label: string;
  state: VersionState;
  /** Checks of the version that failed (or errored) and are not waived. */
  failedChecks: string[];
};

/** A model in a list, with a summary of its versions. @public */
export type HubModelSummary = HubModel & {
  versionCount: number;
  latestVersion?: { label: string; state: VersionState; createdAt: string };
  /** The active (served) version; null when none is promoted. */
  activeVersion?: SummaryActiveVersion | null;
  /** The version that needs the most attention; null without versions. */
  worstState?: SummaryWorstState | null;
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
