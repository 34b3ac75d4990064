import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'yaml';
import { scaffolderModuleModelHub } from './module';

describe('scaffolderModuleModelHub', () => {
  it('registers the Model Hub actions', async () => {
    const addActions = jest.fn();
    await startTestBackend({
      extensionPoints: [[scaffolderActionsExtensionPoint, { addActions }]],
      features: [
        scaffolderModuleModelHub,
        mockServices.rootConfig.factory({
          data: {
            backend: { baseUrl: 'http://localhost:7007' },
            app: { baseUrl: 'http://localhost:3000' },
            modelHub: { gpu: { profiles: [{ name: 'a100', memoryGiB: 80 }] } },
          },
        }),
      ],
    });
    expect(
      addActions.mock.calls.flat().map((a: { id: string }) => a.id),
    ).toEqual(['model-hub:model:register', 'model-hub:gpu:provision']);
  });

  it('starts with the modelHub.gpu section of the demo app-config.yaml', async () => {
    const demo = yaml.parse(
      fs.readFileSync(
        path.resolve(__dirname, '../../../app-config.yaml'),
        'utf8',
      ),
    );
    const addActions = jest.fn();
    await startTestBackend({
      extensionPoints: [[scaffolderActionsExtensionPoint, { addActions }]],
      features: [
        scaffolderModuleModelHub,
        mockServices.rootConfig.factory({
          data: {
            backend: demo.backend,
            app: demo.app,
            modelHub: demo.modelHub,
          },
        }),
      ],
    });
    expect(addActions).toHaveBeenCalledTimes(1);
  });
});
