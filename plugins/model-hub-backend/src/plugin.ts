import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { modelHubPermissions } from '@internal/plugin-model-hub-common';
import { readModelHubConfig } from './config';
import { DatabaseModelHubStore } from './database/DatabaseModelHubStore';
import { collectGarbage } from './service/ingest';
import { createRouter } from './service/router';
import { createArtifactStore } from './store/createArtifactStore';

/**
 * Model Hub backend plugin: model versions, a content-addressed artifact
 * store, its REST API under `/api/model-hub`, and its permissions.
 *
 * @public
 */
export const modelHubPlugin = createBackendPlugin({
  pluginId: 'model-hub',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        httpRouter: coreServices.httpRouter,
        auth: coreServices.auth,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        auditor: coreServices.auditor,
        scheduler: coreServices.scheduler,
        catalog: catalogServiceRef,
      },
      async init(deps) {
        const { config, logger, scheduler } = deps;
        const hubConfig = readModelHubConfig(config);
        const store = await DatabaseModelHubStore.create({
          database: deps.database,
        });
        const artifacts = await createArtifactStore(hubConfig.storage);
        // leftovers of writes that a crash or restart interrupted
        const { removed } = await artifacts.cleanup({ olderThan: new Date() });
        if (removed) {
          logger.info(`Removed ${removed} incomplete writes from the store`);
        }

        deps.permissionsRegistry.addPermissions(modelHubPermissions);

        await scheduler.scheduleTask({
          id: 'model-hub-store-gc',
          ...hubConfig.gc.schedule,
          fn: async () => {
            try {
              const result = await collectGarbage({
                store,
                artifacts,
                gracePeriodMs: hubConfig.gc.gracePeriodMs,
              });
              logger.info(
                `Store garbage collection removed ${result.unreferenced} unreferenced blobs, ${result.orphans} orphans and ${result.temporary} temporary files`,
              );
            } catch (error) {
              logger.error('Store garbage collection failed', error as Error);
            }
          },
        });

        deps.httpRouter.use(
          await createRouter({
            store,
            artifacts,
            auth: deps.auth,
            httpAuth: deps.httpAuth,
            userInfo: deps.userInfo,
            permissions: deps.permissions,
            auditor: deps.auditor,
            catalog: deps.catalog,
            logger,
            maxUploadBytes: hubConfig.upload.maxFileSizeBytes,
            gcGracePeriodMs: hubConfig.gc.gracePeriodMs,
          }),
        );
      },
    });
  },
});
