import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { ModelEntityProcessor } from '../processor/ModelEntityProcessor';
import { ModelHubSyncProcessor } from '../processor/ModelHubSyncProcessor';
import { ModelHubEntityProvider } from '../providers/ModelHubEntityProvider';

/**
 * Adds the `Model` kind of Model Hub to the catalog: registers the
 * {@link ModelEntityProcessor}, the {@link ModelHubSyncProcessor} that tells
 * the hub about edited catalog-defined Models, and the
 * {@link ModelHubEntityProvider} that emits the hub's models
 * (`catalog.providers.modelHub`; its delta cursors live in the catalog's
 * database, table `model_hub_provider_cursors`).
 *
 * @public
 */
export const catalogModuleModelHub = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'model-hub',
  register(reg) {
    reg.registerInit({
      deps: {
        catalog: catalogProcessingExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        scheduler: coreServices.scheduler,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        // the catalog's database: the providers' delta cursors
        database: coreServices.database,
      },
      async init({ catalog, config, ...services }) {
        catalog.addProcessor(new ModelEntityProcessor());
        // edits of catalog-defined Models reach the hub as they are
        // processed (off with modelHub.catalogSync.enabled or .notify false)
        if (
          config.getOptionalBoolean('modelHub.catalogSync.enabled') !== false &&
          config.getOptionalBoolean('modelHub.catalogSync.notify') !== false
        ) {
          catalog.addProcessor(new ModelHubSyncProcessor(services));
        }
        catalog.addEntityProvider(
          ModelHubEntityProvider.fromConfig(config, services),
        );
      },
    });
  },
});
