import {
  mockCredentials,
  mockServices,
  registerMswTestHooks,
} from '@backstage/backend-test-utils';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import fs from 'node:fs/promises';
import path from 'node:path';
import yaml from 'yaml';
import { DefaultModelHubClient } from '../lib/ModelHubClient';
import { createModelRegisterAction } from './registerModel';

const BASE = 'http://model-hub.test/api/model-hub';

const input = {
  name: 'mistral-7b-instruct',
  namespace: 'default',
  title: 'Mistral 7B Instruct',
  type: 'llm',
  task: 'text-generation',
  format: 'safetensors',
  lifecycle: 'experimental',
  owner: 'ml-engineers',
  system: 'assistant-platform',
  huggingFaceRepo: 'mistralai/Mistral-7B-Instruct-v0.3',
  huggingFaceRevision: 'main',
  versionLabel: 'v0.3',
  catalogInfoPath: 'catalog-info.yaml',
};

describe('model-hub:model:register', () => {
  const server = setupServer();
  registerMswTestHooks(server);

  const client = new DefaultModelHubClient({
    discovery: mockServices.discovery.mock({ getBaseUrl: async () => BASE }),
    auth: mockServices.auth({ pluginId: 'scaffolder' }),
  });
  const action = createModelRegisterAction({
    client,
    appBaseUrl: 'http://portal.test/',
  });

  function outputs(ctx: { output: unknown }) {
    return Object.fromEntries((ctx.output as jest.Mock).mock.calls) as Record<
      string,
      any
    >;
  }

  it('creates the model and its first version on behalf of the initiator', async () => {
    const requests: Array<{
      method: string;
      url: string;
      auth: string | null;
      body: unknown;
    }> = [];
    server.use(
      http.post(`${BASE}/models`, async ({ request }) => {
        requests.push({
          method: 'POST',
          url: request.url,
          auth: request.headers.get('authorization'),
          body: await request.json(),
        });
        return HttpResponse.json(
          { id: 'm1', entityRef: 'model:default/mistral-7b-instruct' },
          { status: 201 },
        );
      }),
      http.post(
        `${BASE}/models/default/mistral-7b-instruct/versions`,
        async ({ request }) => {
          requests.push({
            method: 'POST',
            url: request.url,
            auth: request.headers.get('authorization'),
            body: await request.json(),
          });
          return HttpResponse.json(
            { label: 'v0.3', state: 'draft' },
            { status: 201 },
          );
        },
      ),
    );
    const ctx = createMockActionContext({ input: input as any });
    await action.handler(ctx as any);

    const source = {
      huggingface: {
        repo: 'mistralai/Mistral-7B-Instruct-v0.3',
        revision: 'main',
      },
    };
    expect(requests).toEqual([
      {
        method: 'POST',
        url: `${BASE}/models`,
        auth: `Bearer ${mockCredentials.service.token({
          onBehalfOf: mockCredentials.user(),
          targetPluginId: 'model-hub',
        })}`,
        body: {
          name: 'mistral-7b-instruct',
          namespace: 'default',
          title: 'Mistral 7B Instruct',
          type: 'llm',
          task: 'text-generation',
          format: 'safetensors',
          lifecycle: 'experimental',
          owner: 'group:default/ml-engineers',
          source,
        },
      },
      {
        method: 'POST',
        url: `${BASE}/models/default/mistral-7b-instruct/versions`,
        auth: expect.stringMatching(/^Bearer /),
        body: { label: 'v0.3', source },
      },
    ]);
    const out = outputs(ctx);
    expect(out.entityRef).toBe('model:default/mistral-7b-instruct');
    expect(out.versionState).toBe('draft');
    expect(out.links).toEqual([
      {
        title: 'Model in the catalog',
        url: 'http://portal.test/catalog/default/model/mistral-7b-instruct',
      },
      {
        title: 'Hugging Face source',
        url: 'https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.3',
      },
    ]);
    const written = yaml.parse(
      await fs.readFile(
        path.join(ctx.workspacePath, 'catalog-info.yaml'),
        'utf8',
      ),
    );
    expect(written).toEqual({
      apiVersion: 'model-hub.dev/v1alpha1',
      kind: 'Model',
      metadata: {
        name: 'mistral-7b-instruct',
        namespace: 'default',
        title: 'Mistral 7B Instruct',
      },
      spec: {
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/ml-engineers',
        system: 'system:default/assistant-platform',
        task: 'text-generation',
        format: 'safetensors',
        source,
      },
    });
  });

  it('supports dry-run: writes the catalog file and calls nothing', async () => {
    const ctx = {
      ...createMockActionContext({
        input: { ...input, huggingFaceRepo: undefined } as any,
      }),
      isDryRun: true,
    };
    // msw fails unhandled requests (onUnhandledRequest: error)
    await action.handler(ctx as any);
    const out = outputs(ctx);
    expect(out.entityRef).toBe('model:default/mistral-7b-instruct');
    expect(out.entity.spec.source).toBe('upload');
    await expect(
      fs.stat(path.join(ctx.workspacePath, 'catalog-info.yaml')),
    ).resolves.toBeTruthy();
  });

  it('turns backend errors into readable action errors', async () => {
    server.use(
      http.post(`${BASE}/models`, () =>
        HttpResponse.json(
          {
            error: {
              name: 'NotAllowedError',
              message:
                'You can only create models owned by you or one of your groups, not group:default/ml-admins',
            },
            response: { statusCode: 403 },
          },
          { status: 403 },
        ),
      ),
    );
    await expect(
      action.handler(
        createMockActionContext({
          input: { ...input, owner: 'ml-admins' } as any,
        }) as any,
      ),
    ).rejects.toThrow(
      'Could not create model:default/mistral-7b-instruct in Model Hub: You can only create models owned by you or one of your groups, not group:default/ml-admins',
    );

    server.use(
      http.post(`${BASE}/models`, () =>
        HttpResponse.json(
          {
            error: {
              name: 'ConflictError',
              message:
                'The catalog already has an entity model:default/mistral-7b-instruct',
            },
            response: { statusCode: 409 },
          },
          { status: 409 },
        ),
      ),
    );
    await expect(
      action.handler(createMockActionContext({ input: input as any }) as any),
    ).rejects.toThrow(
      /^Could not create model:default\/mistral-7b-instruct in Model Hub: The catalog already has an entity/,
    );
  });

  it('explains a refused first version after the model was created', async () => {
    server.use(
      http.post(`${BASE}/models`, () =>
        HttpResponse.json({ id: 'm1' }, { status: 201 }),
      ),
      http.post(`${BASE}/models/default/mistral-7b-instruct/versions`, () =>
        HttpResponse.json(
          {
            error: {
              name: 'NotAllowedError',
              message:
                'Not allowed: model-hub.version.create on model:default/mistral-7b-instruct',
            },
            response: { statusCode: 403 },
          },
          { status: 403 },
        ),
      ),
    );
    await expect(
      action.handler(createMockActionContext({ input: input as any }) as any),
    ).rejects.toThrow(
      /^Created model:default\/mistral-7b-instruct, but Model Hub refused its first version v0\.3 .*: Not allowed: model-hub\.version\.create/,
    );
  });

  it('rejects an invalid Model before calling the backend', async () => {
    await expect(
      action.handler(
        createMockActionContext({
          input: { ...input, owner: 'user:' } as any,
        }) as any,
      ),
    ).rejects.toThrow('Invalid owner or system entity ref');
  });
});
