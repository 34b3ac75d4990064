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

/** A model in a list, with a summary of its versions. @public */
export type HubModelSummary = HubModel & {
  versionCount: number;
  latestVersion?: { label: string; state: VersionState; createdAt: string };
  /** The active (served) version; null when none is promoted. */
  activeVersion?: import('./modelSummaryExtras').SummaryActiveVersion | null;
  /** The version that needs the most attention; null without versions. */
  worstState?: import('./modelSummaryExtras').SummaryWorstState | null;
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
