/**
 * Model Hub backend plugin: model versions, a content-addressed artifact
 * store (local filesystem or S3), a REST API and permissions.
 *
 * @packageDocumentation
 */

export { modelHubPlugin as default } from './plugin';
export type {
  FileKind,
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
} from './database/types';
export { FILE_KINDS, JOB_STATES, VERSION_STATES } from './database/types';
export { MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID } from './mirror/tokenIdentity';
