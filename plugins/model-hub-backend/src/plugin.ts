import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { notificationService } from '@backstage/plugin-notifications-node';
import { modelHubPermissions } from '@model-hub/backstage-plugin-model-hub-common';
import { signalsServiceRef } from '@backstage/plugin-signals-node';
import { besideLocalStore, readModelHubConfig } from './config';
import { DatabaseModelHubStore } from './database/DatabaseModelHubStore';
import { createFileInspection } from './inspection/FileInspection';
import { readInspectionLimits } from './inspection/config';
import { JobRunner } from './jobs/JobRunner';
import { listAllModels } from './service/context';
import { installFeatures } from './service/feature';
import { createCoreFeature } from './service/featureCore';
import { ModelAccess } from './service/modelAccess';
import { createCoreRouter } from './service/router';
import {
  createArtifactStore,
  readMultipartStaleAfterMs,
} from './store/createArtifactStore';
import { createApprovalsFeature } from './approvals';
import { createAuditFeature } from './audit/routes';
import { createCatalogSyncFeature } from './catalogSync/feature';
import { setupHuggingFace } from './huggingface/setup';
import { createLifecycleFeature } from './lifecycle/feature';
import { createMirror } from './mirror';
import { readTransferConfig } from './transfer/config';
import { createTransferRoutes } from './transfer/routes';
import { createStoreCheckFeature } from './storeCheck';
import {
  createUploadsFeature,
  readPluginUploadsConfig,
} from './uploads/feature';

/**
 * Model Hub backend plugin: model versions, a content-addressed artifact
 * store, its REST API under `/api/model-hub`, and its permissions.
 *
 * The composition root: builds the core (stores, artifact store, format
 * inspection, jobs, access decisions), then the features (see
 * `service/feature.ts`), installs their tasks, job executors and auth
 * policies, and serves the core routes followed by theirs.
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
        const { config, logger } = deps;
        // the core
        const hubConfig = readModelHubConfig(config);
        const store = await DatabaseModelHubStore.create({
          database: deps.database,
        });
        const db = await deps.database.getClient();
        const uploadsConfig = readPluginUploadsConfig(config, hubConfig);
        // no clean-up by age at boot: the writes of the other instances are
        // live; the store check feature removes leftovers older than the
        // upload expiration. S3 multipart uploads are registered in the
        // database with a heartbeat: those of dead writers are aborted at
        // boot and by every clean-up
        const artifacts = await createArtifactStore(hubConfig.storage, {
          uploadExpirationMs: uploadsConfig.expirationMs,
          multipartRegistry: {
            db,
            staleAfterMs: readMultipartStaleAfterMs(config),
            logger,
          },
        });
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
        // every file that enters a version is inspected into its checks:
        // PUT, uploads, Hugging Face downloads, on-demand mirror fetches
        const inspection = createFileInspection({
          db,
          limits: readInspectionLimits(config),
        });
        const inspectStoredFile = (
          versionId: string,
          file: { path: string; sha256: string; size: number },
        ) => inspection.inspectStoredFile(versionId, file, artifacts);
        const jobs = new JobRunner({
          db,
          logger,
          signals: deps.signals,
          lifecycle: deps.lifecycle,
        });

        // the features
        const approvals = await createApprovalsFeature({
          config,
          database: deps.database,
          hubStore: store,
          logger,
          notifications: deps.notifications,
        });
        const huggingface = await setupHuggingFace({
          ...deps,
          jobs,
          store,
          artifacts,
          approvals: approvals.approvals,
          onFileStored: inspectStoredFile,
        });
        // the HF-compatible mirror; pull-through registers repos with the
        // sync, on-demand files come through their model's source
        const mirror = await createMirror({
          ...deps,
          logger,
          modelAccess,
          downloads: approvals.approvals.downloads,
          registerHubRepo: o => huggingface.sync.register(o),
          hubSources: huggingface.registry,
          // the Hugging Face feature reads modelHub.huggingface.fetch
          onDemandFetch: huggingface.onDemandFetch ?? false,
          onFileStored: inspectStoredFile,
        });
        const uploads = await createUploadsFeature({
          config: uploadsConfig,
          hubConfig,
          db,
          logger,
        });
        const catalogSync = createCatalogSyncFeature({
          config,
          db,
          store,
          catalog: deps.catalog,
          auth: deps.auth,
          discovery: deps.discovery,
          auditor: deps.auditor,
          logger,
        });
        const lifecycle = createLifecycleFeature({
          config,
          db,
          store,
          approvals: approvals.approvals,
          auditor: deps.auditor,
          logger,
        });
        // air-gapped export and import of approved versions
        const transfer = createTransferRoutes({
          knex: db,
          approvals: approvals.approvals,
          config: readTransferConfig(config, {
            maxBlobBytes: hubConfig.upload.maxFileSizeBytes,
            stagingDirectory: besideLocalStore(
              hubConfig.storage,
              'transfer-staging',
            ),
          }),
        });

        const routes = await installFeatures(
          [
            createCoreFeature({
              db,
              store,
              artifacts,
              gc: hubConfig.gc,
              logger,
            }),
            lifecycle,
            catalogSync,
            approvals,
            mirror,
            transfer,
            huggingface,
            uploads,
            createAuditFeature(db),
            // POST /admin/store-check and the store clean-up task
            createStoreCheckFeature({
              db,
              artifacts,
              logger,
              uploadExpirationMs: uploadsConfig.expirationMs,
            }),
          ],
          {
            scheduler: deps.scheduler,
            jobs,
            httpRouter: deps.httpRouter,
            logger,
          },
        );
        deps.httpRouter.use(
          await createCoreRouter(
            {
              store,
              artifacts,
              modelAccess,
              // GET /jobs records who receives the live job signals
              jobSignals: jobs.signals,
              inspection,
              approvals: approvals.approvals,
              downloadAuthorizer: approvals.downloadAuthorizer,
              // the Hugging Face sync state on GET /models/:namespace/:name
              modelSync: huggingface.drift,
              auth: deps.auth,
              httpAuth: deps.httpAuth,
              userInfo: deps.userInfo,
              permissions: deps.permissions,
              auditor: deps.auditor,
              catalog: deps.catalog,
              logger,
              maxUploadBytes: hubConfig.upload.maxFileSizeBytes,
              gcGracePeriodMs: hubConfig.gc.gracePeriodMs,
            },
            routes,
          ),
        );
      },
    });
  },
});
