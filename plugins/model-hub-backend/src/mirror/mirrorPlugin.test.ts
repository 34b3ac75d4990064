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
import { makeSafetensors } from '../inspection/__testUtils__/generators';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createMockHfServer, MockHub } from '@model-hub/mock-hf-server';

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

    it('fetches an on-demand file through its model source, with its token, and inspects it (the plugin wiring)', async () => {
      const corpToken = 'hf_corp_plugin_token_0123456789';
      const corpEnv = 'MODEL_HUB_TEST_PLUGIN_CORP_TOKEN';
      const publicHub = new MockHub();
      const corpHub = new MockHub();
      corpHub.addToken(corpToken, { user: 'corp-bot', access: '*' });
      const weights = makeSafetensors([
        { name: 'w', dtype: 'F16', shape: [8, 8] },
      ]);
      const repoId = 'acme/plugin-private';
      corpHub.addRepo({
        id: repoId,
        private: true,
        files: [{ path: 'model.safetensors', content: weights }],
      });
      const publicServer = await createMockHfServer({ hub: publicHub });
      const corpServer = await createMockHfServer({ hub: corpHub });
      process.env[corpEnv] = corpToken;
      const knex = await databases.init(databaseId);
      const backend = await startTestBackend({
        features: [
          modelHubPlugin,
          mockServices.rootConfig.factory({
            data: {
              modelHub: {
                storage: { local: { path: join(mockDir.path, 'od-store') } },
                mirror: { allowAnonymous: true },
                huggingface: {
                  fetch: 'on-demand',
                  downloadDir: join(mockDir.path, 'od-downloads'),
                },
                sources: [
                  { name: 'public', endpoint: publicServer.url },
                  {
                    name: 'corp',
                    endpoint: corpServer.url,
                    tokenEnv: corpEnv,
                    namespace: 'corp',
                  },
                ],
              },
            },
          }),
          mockServices.database.factory({ knex }),
          mockServices.httpAuth.factory({
            defaultCredentials: mockCredentials.none(),
          }),
          catalogServiceMock.factory({ entities: [] }),
        ],
      });
      try {
        const { port } = backend.server.address() as AddressInfo;
        const base = `http://127.0.0.1:${port}/api/model-hub`;
        const registered = await fetch(`${base}/huggingface/repos`, {
          method: 'POST',
          headers: {
            Authorization: mockCredentials.user.header('user:default/alice'),
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({ repoId, owner: 'ml-team', source: 'corp' }),
        });
        expect(registered.status).toBe(202);
        const modelId = (await registered.json()).model.id;
        // the sync job (the plugin's workers) creates the version, no bytes
        const until = Date.now() + 30_000;
        let version: { id: string } | undefined;
        while (!version && Date.now() < until) {
          await new Promise(r => setTimeout(r, 200));
          version = await knex('model_versions')
            .where({ model_id: modelId })
            .whereNotNull('resolved_commit')
            .first('id');
        }
        expect(version).toBeDefined();
        await knex('model_versions')
          .where({ id: version!.id })
          .update({
            state: 'approved',
            approved_digest: knex.ref('content_digest'),
            updated_at: new Date(),
          });
        corpHub.clearRequests();

        const res = await fetch(
          `${base}/hf/${repoId}/resolve/main/model.safetensors`,
        );
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(weights)).toBe(true);
        const gets = corpHub.findRequests({
          method: 'GET',
          path: `/${repoId}/resolve/*/model.safetensors`,
        });
        expect(gets).toHaveLength(1);
        expect(gets[0].user).toBe('corp-bot');
        expect(publicHub.findRequests({ path: /\/resolve\// })).toEqual([]);
        // inspected like a downloaded file (after the verified bytes)
        const name = 'inspect:format:safetensors:model.safetensors';
        let check: { status: string } | undefined;
        while (!check && Date.now() < until + 20_000) {
          await new Promise(r => setTimeout(r, 100));
          check = await knex('version_checks')
            .where({ version_id: version!.id, name })
            .first('status');
        }
        expect(check?.status).toBe('passed');
        const file = await knex('version_files')
          .where({ version_id: version!.id, path: 'model.safetensors' })
          .first('sha256');
        expect(file?.sha256).toBe(
          createHash('sha256').update(weights).digest('hex'),
        );
      } finally {
        await backend.stop();
        await publicServer.close();
        await corpServer.close();
        delete process.env[corpEnv];
      }
    });
  },
);
