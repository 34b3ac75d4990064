import { createBackend } from '@backstage/backend-defaults';
import { mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';

// Runs the plugin alone (`yarn start` in this package): every request is the
// mock user, every permission is allowed, and the catalog holds one Model.
const backend = createBackend();

backend.add(mockServices.auth.factory());
backend.add(mockServices.httpAuth.factory());
backend.add(
  mockServices.permissions.factory({ result: AuthorizeResult.ALLOW }),
);
backend.add(
  catalogServiceMock.factory({
    entities: [
      {
        apiVersion: 'model-hub.dev/v1alpha1',
        kind: 'Model',
        metadata: { name: 'example-model', namespace: 'default' },
        spec: { type: 'llm', lifecycle: 'experimental', owner: 'guests' },
      },
    ],
  }),
);
backend.add(import('../src'));

backend.start();
