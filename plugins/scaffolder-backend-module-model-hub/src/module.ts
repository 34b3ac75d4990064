import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import { createGpuProvisionAction, createModelRegisterAction } from './actions';
import { readGpuConfig, readKubernetesClusters } from './lib/config';
import { DefaultModelHubClient } from './lib/ModelHubClient';

/**
 * The scaffolder module of Model Hub: the actions `model-hub:model:register`
 * and `model-hub:gpu:provision`.
 *
 * @public
 */
export const scaffolderModuleModelHub = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'model-hub',
  register(reg) {
    reg.registerInit({
      deps: {
        scaffolder: scaffolderActionsExtensionPoint,
        config: coreServices.rootConfig,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        permissions: coreServices.permissions,
      },
      async init({ scaffolder, config, discovery, auth, permissions }) {
        const client = new DefaultModelHubClient({ discovery, auth });
        scaffolder.addActions(
          createModelRegisterAction({
            client,
            appBaseUrl: config.getOptionalString('app.baseUrl') ?? '',
          }),
          createGpuProvisionAction({
            client,
            gpu: readGpuConfig(config),
            clusters: readKubernetesClusters(config),
            permissions,
          }),
        );
      },
    });
  },
});
