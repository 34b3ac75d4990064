import { AddressInfo } from 'node:net';
import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { downloadFile, listFiles } from '@huggingface/hub';
import { authServiceFactory } from '@backstage/backend-defaults/auth';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { EMPTY_CONTENT_DIGEST } from '../database/contentDigest';
import { modelHubPlugin } from '../plugin';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const STATIC_TOKEN = 'static-external-access-token-0123456789';

describe.each(databases.eachSupportedId())(
  'the mirror in the backend on %p',
  databaseId => {
    async function start(allowAnonymous: boolean, realAuth = false) {
      const knex = await databases.init(databaseId);
      const backend = await startTestBackend({
        features: [
          modelHubPlugin,
          mockServices.rootConfig.factory({
            data: {
              backend: {
                auth: {
                  externalAccess: [
                    {
                      type: 'static',
                      options: { token: STATIC_TOKEN, subject: 'ci-runner' },
                    },
                  ],
                },
              },
              modelHub: {
                storage: { local: { path: mockDir.path } },
                mirror: { allowAnonymous },
              },
            },
          }),
          mockServices.database.factory({ knex }),
          ...(realAuth
            ? [authServiceFactory, httpAuthServiceFactory]
            : [
                mockServices.httpAuth.factory({
                  defaultCredentials: mockCredentials.none(),
                }),
              ]),
          catalogServiceMock.factory({ entities: [] }),
        ],
      });
      const { port } = backend.server.address() as AddressInfo;
      return {
        stop: () => backend.stop(),
        knex,
        base: `http://127.0.0.1:${port}/api/model-hub`,
      };
    }

    it('is reachable without Backstage credentials and serves approved versions', async () => {
      const { base, knex, stop } = await start(true);
      try {
        const user = mockCredentials.user.header('user:default/alice');
        const post = (path: string, body: unknown) =>
          fetch(`${base}${path}`, {
            method: 'POST',
            headers: {
              Authorization: user,
              'Content-Type': 'application/json',
            },
            body: JSON.stringify(body),
          });
        expect(
          (
            await post('/models', {
              name: 'tiny',
              type: 'llm',
              owner: 'user:default/alice',
            })
          ).status,
        ).toBe(201);
        expect(
          (await post('/models/default/tiny/versions', { label: 'v1' })).status,
        ).toBe(201);
        const put = await fetch(
          `${base}/models/default/tiny/versions/v1/files/config.json`,
          {
            method: 'PUT',
            headers: {
              Authorization: user,
              'Content-Type': 'application/octet-stream',
            },
            body: '{"a":1}',
          },
        );
        expect(put.status).toBe(201);

        // not approved yet: not served
        const before = await fetch(
          `${base}/hf/default/tiny/resolve/v1/config.json`,
        );
        expect(before.status).toBe(404);
        expect(before.headers.get('x-error-code')).toBe('RepoNotFound');

        await knex('model_versions').update({
          state: 'approved',
          approved_digest: knex.ref('content_digest'),
          updated_at: new Date(),
        });
        const blob = await downloadFile({
          repo: 'default/tiny',
          path: 'config.json',
          hubUrl: `${base}/hf`,
        });
        expect(await blob!.text()).toBe('{"a":1}');
        const files = [];
        for await (const f of listFiles({
          repo: 'default/tiny',
          hubUrl: `${base}/hf`,
        })) {
          files.push(f.path);
        }
        expect(files).toEqual(['config.json']);

        // the rest of the API still needs credentials
        expect((await fetch(`${base}/tokens`)).status).toBe(401);
        expect((await fetch(`${base}/models`)).status).toBe(401);
      } finally {
        await stop();
      }
    });

    it('answers anonymous callers with a Hub 401 when anonymous reads are off', async () => {
      const { base, stop } = await start(false);
      try {
        const res = await fetch(`${base}/hf/api/models/default/tiny`);
        expect(res.status).toBe(401);
        expect(res.headers.get('x-error-code')).toBe('RepoNotFound');
        expect(await res.json()).toEqual({
          error: expect.stringContaining('HF_TOKEN'),
        });
      } finally {
        await stop();
      }
    });

    it('accepts static external-access tokens of the real auth services', async () => {
      const { base, knex, stop } = await start(false, true);
      try {
        const now = new Date();
        await knex('models').insert({
          id: 'm1',
          entity_ref: 'model:acme/static',
          namespace: 'acme',
          name: 'static',
          type: 'llm',
          lifecycle: 'production',
          owner: 'group:default/a',
          source_type: 'upload',
          tags: '[]',
          search_text: 'static',
          created_by: 'user:default/a',
          created_at: now,
          updated_at: now,
        });
        await knex('model_versions').insert({
          id: 'v1',
          model_id: 'm1',
          label: 'v1',
          state: 'approved',
          // approved without files, and still without files
          content_digest: EMPTY_CONTENT_DIGEST,
          approved_digest: EMPTY_CONTENT_DIGEST,
          source_type: 'upload',
          created_by: 'user:default/a',
          created_at: now,
          updated_at: now,
        });
        const files = [];
        for await (const f of listFiles({
          repo: 'acme/static',
          hubUrl: `${base}/hf`,
          fetch: (url, init) =>
            fetch(url, {
              ...init,
              headers: { Authorization: `Bearer ${STATIC_TOKEN}` },
            }),
        })) {
          files.push(f.path);
        }
        expect(files).toEqual([]);
        const bad = await fetch(`${base}/hf/api/models/acme/static`, {
          headers: { Authorization: 'Bearer not-a-known-token' },
        });
        expect(bad.status).toBe(401);
        const none = await fetch(`${base}/hf/api/models/acme/static`);
        expect(none.status).toBe(401);
        expect(none.headers.get('x-error-code')).toBe('RepoNotFound');
      } finally {
        await stop();
      }
    });
  },
);
