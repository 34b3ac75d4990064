import { LoggerService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { ModelHubConfig } from '../config';
import { ModelHubStore } from '../database/ModelHubStore';
import { ArtifactStore } from '../store/ArtifactStore';
import { loggedTask, ModelHubFeature } from './feature';
import { collectGarbage } from './ingest';
import { addNamespaceRoutes } from './routes/namespaces';

/**
 * The contributions of the core itself, installed like a feature's: the
 * store's garbage collection (`model-hub-store-gc`, on
 * `modelHub.gc.schedule`) and the namespaces of the models table.
 *
 * @internal
 */
export function createCoreFeature(options: {
  db: Knex;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  gc: ModelHubConfig['gc'];
  logger: LoggerService;
}): ModelHubFeature {
  const { store, artifacts, gc, logger } = options;
  return {
    id: 'core',
    routes: [(router, ctx) => addNamespaceRoutes(router, ctx, options.db)],
    tasks: [
      {
        id: 'model-hub-store-gc',
        // one run per interval across the instances (the scheduler's
        // default scope)
        schedule: gc.schedule,
        fn: loggedTask(logger, 'Store garbage collection', async () => {
          const result = await collectGarbage({
            store,
            artifacts,
            gracePeriodMs: gc.gracePeriodMs,
          });
          logger.info(
            `Store garbage collection removed ${result.unreferenced} unreferenced blobs, ${result.orphans} orphans and ${result.temporary} temporary files`,
          );
        }),
      },
    ],
  };
}
