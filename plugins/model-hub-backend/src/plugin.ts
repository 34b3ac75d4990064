import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { notificationService } from '@backstage/plugin-notifications-node';
import { modelHubPermissions } from '@model-hub/backstage-plugin-model-hub-common';
import { readModelHubConfig } from './config';
import { DatabaseModelHubStore } from './database/DatabaseModelHubStore';
import { collectGarbage } from './service/ingest';
import { createRouter } from './service/router';
import { listAllModels } from './service/context';
import { ModelAccess } from './service/modelAccess';
import { createArtifactStore } from './store/createArtifactStore';
import { createMirror } from './mirror';
import { createApprovals } from './approvals';
import { signalsServiceRef } from '@backstage/plugin-signals-node';
import { setupHuggingFace } from './huggingface/setup';
import { readUploadsConfig } from './uploads/config';
import { createUploadRoutes } from './uploads/routes';
import { join } from 'node:path';
import { CatalogModelSync } from './catalogSync/CatalogModelSync';
import { readCatalogSyncConfig, readRetentionConfig } from './lifecycle/config';
import { ModelLifecycleStore } from './lifecycle/ModelLifecycleStore';
import { applyRetention } from './lifecycle/retention';
import { addAuditRoutes } from './audit/routes';
import { addNamespaceRoutes } from './service/routes/namespaces';
import { readTransferConfig } from './transfer/config';
import { createTransferRoutes } from './transfer/routes';

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
        notifications: notificationService,
        discovery: coreServices.discovery,
        lifecycle: coreServices.lifecycle,
        signals: signalsServiceRef,
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
        // the one decision path of resource permissions on models, shared by
        // the REST API and the mirror
        const modelAccess = new ModelAccess({
          permissions: deps.permissions,
          catalog: deps.catalog,
          auth: deps.auth,
          store,
          logger,
          listAllModels: () => listAllModels(store),
        });
        const approvals = await createApprovals({
          config,
          database: deps.database,
          hubStore: store,
          logger,
          notifications: deps.notifications,
        });

        // webhook deliveries a stopped instance left between attempts
        await scheduler.scheduleTask({
          id: 'model-hub-webhook-redelivery',
          frequency: { minutes: 1 },
          timeout: { minutes: 5 },
          initialDelay: { seconds: 30 },
          scope: 'local',
          fn: async () => {
            try {
              await approvals.webhooks.resumeStale();
            } catch (error) {
              logger.error(
                'Resuming webhook deliveries failed',
                error as Error,
              );
            }
          },
        });

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

        // Hugging Face sync: job workers, scheduled sync, routes; the files
        // it downloads go through the format inspection of the uploads
        // (bound below, once the upload routes exist)
        const lateInspection: {
          inspectStoredFile?: (
            versionId: string,
            file: { path: string; sha256: string; size: number },
          ) => Promise<unknown>;
        } = {};
        const huggingface = await setupHuggingFace({
          ...deps,
          store,
          artifacts,
          approvals,
          onFileStored: async (versionId, file) =>
            lateInspection.inspectStoredFile?.(versionId, file),
        });
        // the HF-compatible mirror authenticates Hub clients itself;
        // pull-through registers repos with the sync
        const mirror = await createMirror({
          ...deps,
          logger,
          modelAccess,
          registerHubRepo: o => huggingface.sync.register(o),
          // on-demand files come through their model's source and are
          // inspected like downloaded ones
          hubSources: huggingface.registry,
          onFileStored: async (versionId, file) =>
            lateInspection.inspectStoredFile?.(versionId, file),
        });
        deps.httpRouter.addAuthPolicy({
          path: '/hf',
          allow: 'unauthenticated',
        });
        // the public key of the transfer signatures is public
        deps.httpRouter.addAuthPolicy({
          path: '/transfer/public-key',
          allow: 'unauthenticated',
        });
        // tus uploads, multipart uploads, ZIP packages, format inspection
        const localStorePath =
          hubConfig.storage.type === 'local'
            ? hubConfig.storage.path
            : undefined;
        const uploads = await createUploadRoutes({
          db: await deps.database.getClient(),
          config: readUploadsConfig(config, {
            maxFileBytes: hubConfig.upload.maxFileSizeBytes,
            // next to the local store: finished uploads are renamed into it
            defaultDirectory:
              localStorePath && join(localStorePath, '..', 'uploads'),
          }),
          localStorePath,
        });
        lateInspection.inspectStoredFile = (versionId, file) =>
          uploads.inspection.inspectStoredFile(versionId, file, artifacts);
        await scheduler.scheduleTask({
          id: 'model-hub-uploads-cleanup',
          frequency: { hours: 1 },
          timeout: { minutes: 15 },
          initialDelay: { minutes: 5 },
          scope: 'local',
          fn: async () => {
            const cleaned = await uploads.cleanup();
            logger.info(
              `Removed ${cleaned.removed} expired uploads and staging folders`,
            );
          },
        });
        // catalog and hub as one: catalog-defined Models are reconciled
        // into hub rows on a schedule (and on the catalog module's
        // notifications, through POST /catalog-sync/entities)
        const db = await deps.database.getClient();
        const catalogSync = new CatalogModelSync({
          db,
          store,
          catalog: deps.catalog,
          auth: deps.auth,
          discovery: deps.discovery,
          auditor: deps.auditor,
          logger: logger.child({ target: 'catalog-sync' }),
        });
        const catalogSyncConfig = readCatalogSyncConfig(config);
        if (catalogSyncConfig.enabled) {
          await scheduler.scheduleTask({
            id: 'model-hub-catalog-sync',
            scope: 'global',
            ...catalogSyncConfig.schedule,
            fn: async () => {
              try {
                const result = await catalogSync.reconcile();
                logger.info(
                  `Catalog reconcile: ${result.created} created, ${result.updated} updated, ${result.restored} restored, ${result.orphaned} orphaned, ${result.unchanged} unchanged`,
                );
              } catch (error) {
                logger.error('Catalog reconcile failed', error as Error);
              }
            },
          });
        }
        // deletes, metadata edits and the retention policy
        const lifecycle = new ModelLifecycleStore(db);
        const retention = readRetentionConfig(config);
        if (retention) {
          await scheduler.scheduleTask({
            id: 'model-hub-retention',
            scope: 'global',
            ...retention.schedule,
            fn: async () => {
              try {
                const result = await applyRetention({
                  config: retention,
                  lifecycle,
                  store,
                  approvals,
                  auditor: deps.auditor,
                  logger,
                });
                logger.info(
                  `Retention archived ${result.archived} versions and released ${result.releasedFiles} files (${result.releasedBytes} bytes) of ${result.releasedVersions} archived versions`,
                );
              } catch (error) {
                logger.error('Retention failed', error as Error);
              }
            },
          });
        }
        deps.httpRouter.use(
          await createRouter({
            lifecycle,
            catalogSync,
            mirror,
            // the Hugging Face sync state on GET /models/:namespace/:name
            modelSync: huggingface.drift,
            extensions: [
              ...huggingface.routes,
              uploads.routes,
              // the audit search and the namespaces of the models table
              (router, ctx) => {
                addAuditRoutes(router, ctx, db);
                addNamespaceRoutes(router, ctx, db);
              },
            ],
            // air-gapped export and import of approved versions
            transfer: createTransferRoutes({
              knex: db,
              config: readTransferConfig(config, {
                maxBlobBytes: hubConfig.upload.maxFileSizeBytes,
                localStorePath,
              }),
            }),
            approvals,
            modelAccess,
            inspection: uploads.inspection,
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
