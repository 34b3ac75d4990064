import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import yaml from 'yaml';
import { createFakeModelHubClient } from './__fixtures__/fakes';
import { createModelRegisterAction } from './registerModel';
import { examples } from './registerModel.examples';

describe('model-hub:model:register examples', () => {
  it.each(examples.map(e => [e.description, e] as const))(
    '%s',
    async (_d, example) => {
      const client = createFakeModelHubClient();
      client.createModel.mockResolvedValue({
        id: 'm1',
        entityRef: 'model:default/x',
        namespace: 'default',
        name: 'x',
        owner: 'group:default/ml-engineers',
        type: 'llm',
      });
      client.createVersion.mockResolvedValue({ label: 'v1', state: 'draft' });
      const action = createModelRegisterAction({
        client,
        appBaseUrl: 'http://localhost:3000',
      });
      const step = yaml.parse(example.example).steps[0];
      expect(step.action).toBe(action.id);
      const ctx = createMockActionContext({ input: step.input });
      await action.handler(ctx as any);
      expect(client.createModel).toHaveBeenCalledWith(
        expect.objectContaining({
          name: step.input.name,
          owner: 'group:default/ml-engineers',
        }),
        { credentials: expect.anything() },
      );
      expect(client.createVersion).toHaveBeenCalledWith(
        { namespace: 'default', name: step.input.name },
        expect.objectContaining({ label: step.input.versionLabel ?? 'v1' }),
        { credentials: expect.anything() },
      );
      expect(ctx.output).toHaveBeenCalledWith(
        'entityRef',
        `model:default/${step.input.name}`,
      );
    },
  );
});
