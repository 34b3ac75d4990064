import { LoggerService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { ModelHubFeature } from '../service/feature';
import { ArtifactStore } from '../store/ArtifactStore';
import { createBlobRows } from './blobRows';
import { addStoreCheckRoutes } from './routes';

export { checkStore } from './checkStore';
export type { StoreCheckReport } from './checkStore';
export { addStoreCheckRoutes } from './routes';
export { createBlobRows } from './blobRows';

/**
 * The store check and clean-up: `POST /admin/store-check`, and the task
 * `model-hub-store-cleanup` (hourly, on one instance at a time) that removes
 * leftovers of interrupted writes (temporary and spool files, this
 * deployment's incomplete S3 multipart uploads) older than the upload
 * expiration; never at boot, never by "started before I booted": the writes
 * of the other instances are live.
 *
 * @internal
 */
export function createStoreCheckFeature(options: {
  db: Knex;
  artifacts: ArtifactStore;
  logger: LoggerService;
  /** `modelHub.uploads.expiration`: leftovers younger than it stay. */
  uploadExpirationMs: number;
}): ModelHubFeature {
  const rows = createBlobRows(options.db);
  return {
    id: 'store-check',
    routes: [(router, ctx) => addStoreCheckRoutes(router, ctx, { rows })],
    tasks: [
      {
        id: 'model-hub-store-cleanup',
        schedule: {
          frequency: { hours: 1 },
          timeout: { minutes: 30 },
          initialDelay: { minutes: 5 },
        },
        fn: async () => {
          await cleanupStore(options);
        },
      },
    ],
  };
}

/**
 * Removes leftovers of interrupted writes older than the upload
 * expiration; logs what it removed, and a failure instead of throwing it.
 *
 * @internal
 */
export async function cleanupStore(options: {
  artifacts: ArtifactStore;
  logger: LoggerService;
  uploadExpirationMs: number;
  now?: Date;
}): Promise<{ removed: number }> {
  const now = options.now ?? new Date();
  try {
    const result = await options.artifacts.cleanup({
      olderThan: new Date(now.getTime() - options.uploadExpirationMs),
    });
    if (result.removed) {
      options.logger.info(
        `Removed ${result.removed} leftovers of interrupted writes from the store`,
      );
    }
    return result;
  } catch (error) {
    options.logger.error('Store clean-up failed', error as Error);
    return { removed: 0 };
  }
}
