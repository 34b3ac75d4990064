/*
 * The Model Hub demo backend: a small Backstage backend with the Model Hub
 * plugins installed the way a portal team installs them.
 */
import { createBackend } from '@backstage/backend-defaults';
import { authModuleDevHeaderProvider } from './modules/devHeaderAuth';
import { authModuleModelHubTokenIdentity } from './modules/modelHubTokenIdentity';
import { demoMockHubPlugin } from './modules/demoMockHub';
import { modelHubModuleDemoSeed } from './modules/demoSeed';
import { permissionModuleModelHubDemoPolicy } from './modules/permissionPolicy';

const backend = createBackend();

backend.add(import('@backstage/plugin-app-backend'));
backend.add(import('@backstage/plugin-proxy-backend'));

// auth: guest sign-in for the demo, and the development-only header sign-in
// of the example users (alice, bob, carol, dana) that the demo config
// switches on (auth.environment: development, loopback callers only)
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(authModuleDevHeaderProvider);
// lets personal hf_ tokens of the Model Hub mirror act as their owners
// (auth.providers.model-hub-token-identity in app-config.yaml)
backend.add(authModuleModelHubTokenIdentity);

// catalog, with the Model kind of Model Hub
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(
  import('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'),
);
backend.add(import('@backstage/plugin-catalog-backend-module-logs'));
backend.add(import('@model-hub/backstage-plugin-catalog-backend-module-model-hub'));

// Model Hub: versions, artifact store, REST API under /api/model-hub
backend.add(import('@model-hub/backstage-plugin-model-hub-backend'));

// DEMO ONLY, switched on by the demo config (app-config.yaml) and refused
// outside auth.environment: development: the bundled mock Hugging Face Hub
// at /api/mock-hf, and the demo data seeded on start
backend.add(demoMockHubPlugin);
backend.add(modelHubModuleDemoSeed);

// scaffolder
backend.add(import('@backstage/plugin-scaffolder-backend'));
// Model Hub scaffolder actions: model-hub:model:register, model-hub:gpu:provision
backend.add(import('@model-hub/backstage-plugin-scaffolder-backend-module-model-hub'));

// permissions, with the demo policy of the example org (not allow-all)
backend.add(import('@backstage/plugin-permission-backend'));
backend.add(permissionModuleModelHubDemoPolicy);

// notifications, signals, user settings
backend.add(import('@backstage/plugin-notifications-backend'));
backend.add(import('@backstage/plugin-signals-backend'));
// events: with PostgreSQL, its database-backed bus carries signals (job
// progress) to the browsers connected to every instance
backend.add(import('@backstage/plugin-events-backend'));
backend.add(import('@backstage/plugin-user-settings-backend'));

backend.start();
