import {
  mockCredentials,
  mockServices,
  registerMswTestHooks,
} from '@backstage/backend-test-utils';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { DefaultModelHubClient } from './ModelHubClient';

const BASE = 'http://model-hub.test/api/model-hub';

describe('DefaultModelHubClient', () => {
  const server = setupServer();
  registerMswTestHooks(server);
  const discovery = mockServices.discovery.mock({
    getBaseUrl: async () => BASE,
  });
  const client = new DefaultModelHubClient({
    discovery,
    auth: mockServices.auth({ pluginId: 'scaffolder' }),
  });
  const credentials = mockCredentials.user('user:default/alice');
  const where = { namespace: 'default', name: 'llama 3', label: 'v1+rc' };

  it('reads a version, its files and a file, with a token on behalf of the user', async () => {
    const seen: string[] = [];
    server.use(
      http.get(
        `${BASE}/models/default/llama%203/versions/v1%2Brc`,
        ({ request }) => {
          seen.push(request.headers.get('authorization')!);
          return HttpResponse.json({ label: 'v1+rc', state: 'approved' });
        },
      ),
      http.get(`${BASE}/models/default/llama%203/versions/v1%2Brc/files`, () =>
        HttpResponse.json({
          files: [{ path: 'config.json', size: 2 }],
          tree: {},
        }),
      ),
      http.get(
        `${BASE}/models/default/llama%203/versions/v1%2Brc/files/sub/config.json`,
        () => HttpResponse.text('{}'),
      ),
    );
    await expect(client.getVersion(where, { credentials })).resolves.toEqual({
      label: 'v1+rc',
      state: 'approved',
    });
    expect(seen).toEqual([
      `Bearer ${mockCredentials.service.token({
        onBehalfOf: credentials,
        targetPluginId: 'model-hub',
      })}`,
    ]);
    await expect(client.listFiles(where, { credentials })).resolves.toEqual([
      { path: 'config.json', size: 2 },
    ]);
    await expect(
      client.readTextFile(
        { ...where, path: 'sub/config.json' },
        { credentials },
      ),
    ).resolves.toBe('{}');
    expect(discovery.getBaseUrl).toHaveBeenCalledWith('model-hub');
  });

  it('reads the inspection checks from the review', async () => {
    const check = {
      name: 'inspect:format:safetensors:model.safetensors',
      status: 'pass',
      details: { parameterCount: 7 },
    };
    server.use(
      http.get(`${BASE}/models/default/llama%203/versions/v1%2Brc/review`, () =>
        HttpResponse.json({
          checks: { items: [check], waivers: [], blocking: [] },
        }),
      ),
      http.get(`${BASE}/models/default/old/versions/v1/review`, () =>
        HttpResponse.json(
          {
            error: { name: 'NotFoundError', message: 'no route' },
            response: { statusCode: 404 },
          },
          { status: 404 },
        ),
      ),
    );
    await expect(client.listChecks(where, { credentials })).resolves.toEqual([
      check,
    ]);
    await expect(
      client.listChecks(
        { namespace: 'default', name: 'old', label: 'v1' },
        { credentials },
      ),
    ).resolves.toEqual([]);
  });

  it('answers undefined for 404 and throws other errors', async () => {
    server.use(
      http.get(`${BASE}/models/default/gone/versions/v1`, () =>
        HttpResponse.json(
          {
            error: { name: 'NotFoundError', message: 'nope' },
            response: { statusCode: 404 },
          },
          { status: 404 },
        ),
      ),
      http.get(
        `${BASE}/models/default/gone/versions/v1/files/config.json`,
        () => new HttpResponse(null, { status: 404 }),
      ),
      http.get(`${BASE}/models/default/gone`, () =>
        HttpResponse.json(
          {
            error: { name: 'Error', message: 'boom' },
            response: { statusCode: 500 },
          },
          { status: 500 },
        ),
      ),
    );
    const gone = { namespace: 'default', name: 'gone', label: 'v1' };
    await expect(
      client.getVersion(gone, { credentials }),
    ).resolves.toBeUndefined();
    await expect(
      client.readTextFile({ ...gone, path: 'config.json' }, { credentials }),
    ).resolves.toBeUndefined();
    await expect(client.getModel(gone, { credentials })).rejects.toMatchObject({
      name: 'ResponseError',
      statusCode: 500,
    });
  });
});
