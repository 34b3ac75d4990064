import { LoggerService } from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { JobQueue } from '../jobs/JobQueue';
import { HuggingFaceConfig } from './config';
import { HuggingFaceClient } from './HuggingFaceClient';
import { HuggingFaceStore } from './HuggingFaceStore';

/** What the Hugging Face sync works with. @internal */
export type HuggingFaceSyncOptions = {
  client: HuggingFaceClient;
  hfStore: HuggingFaceStore;
  store: ModelHubStore;
  queue: JobQueue;
  config: HuggingFaceConfig;
  logger: LoggerService;
  /** Called after jobs are queued, to wake the worker. */
  onEnqueue?: () => void;
};

/** The job types of the Hugging Face sync. @internal */
export const HF_SYNC_JOB = 'huggingface-sync';
/** @internal */
export const HF_DOWNLOAD_JOB = 'huggingface-download';

export const MAX_METADATA_FILE = 5 * 1024 * 1024;
/** The most of a model card that is read: its front matter comes first. @internal */
export const MAX_CARD_BYTES = 1024 * 1024;

/** Turns a unique-constraint violation of a write into a `ConflictError`. */
export { conflictOnDuplicate } from '../database/rows';

/** The label of the version of a synced commit. @internal */
export function versionLabelOf(commit: string): string {
  return `hf-${commit.slice(0, 12)}`;
}

/** Throws unless the repo's organization is allowed. */
export function checkAllowed(config: HuggingFaceConfig, repoId: string) {
  const allowed = config.allowedOrganizations;
  const org = repoId.split('/')[0].toLocaleLowerCase('en-US');
  if (allowed.length && !allowed.includes(org)) {
    throw new NotAllowedError(
      `The organization ${org} is not in modelHub.huggingface.allowedOrganizations`,
    );
  }
}
