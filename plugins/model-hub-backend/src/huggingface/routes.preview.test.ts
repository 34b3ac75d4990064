import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  FIXTURE_TOKENS,
  MockHfServer,
} from '@model-hub/mock-hf-server';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { createRouter } from '../tests/__testUtils__/router';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { setupHuggingFace } from './setup';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const ALICE = 'user:default/alice';

describe.each(databases.eachSupportedId())(
  'Hugging Face preview route (%s)',
  id => {
    let hf: MockHfServer;
    let dir: string;

    beforeEach(async () => {
      hf = await createMockHfServer({ hub: createFixtureHub() });
      dir = mkdtempSync(join(tmpdir(), 'hf-preview-'));
    });

    afterEach(async () => {
      await hf.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function setup(
      options: { token?: string; deny?: string[]; withHub?: boolean } = {},
    ) {
      const knex = await databases.init(id);
      const database = mockServices.database({
        knex,
        migrations: { skip: false },
      });
      const store = await DatabaseModelHubStore.create({ database });
      const artifacts = await LocalArtifactStore.create({
        path: join(dir, 'store'),
      });
      const config = mockServices.rootConfig({
        data: {
          modelHub: {
            huggingface: { endpoint: hf.url, token: options.token },
          },
        },
      });
      const extensions =
        options.withHub === false
          ? undefined
          : (
              await setupHuggingFace({
                config,
                logger: mockServices.logger.mock(),
                database,
                scheduler: mockServices.scheduler.mock(),
                lifecycle: mockServices.lifecycle.mock(),
                store,
                artifacts,
              })
            ).routes;
      const permissions: { name: string }[] = [];
      const router = await createRouter({
        store,
        artifacts,
        auth: mockServices.auth(),
        httpAuth: mockServices.httpAuth({
          defaultCredentials: mockCredentials.user(ALICE),
        }),
        userInfo: {
          getUserInfo: async (credentials: any) => ({
            userEntityRef: credentials.principal.userEntityRef,
            ownershipEntityRefs: [credentials.principal.userEntityRef],
          }),
        },
        permissions: mockServices.permissions.mock({
          authorize: (async (requests: any[]) =>
            requests.map(r => {
              permissions.push(r.permission);
              return {
                result: options.deny?.includes(r.permission.name)
                  ? AuthorizeResult.DENY
                  : AuthorizeResult.ALLOW,
              };
            })) as any,
        }),
        auditor: mockServices.auditor.mock(),
        catalog: catalogServiceMock({ entities: [] }),
        logger: mockServices.logger.mock(),
        maxUploadBytes: 1000,
        gcGracePeriodMs: 0,
        extensions,
      });
      const app = express().use(router).use(mockErrorHandler());
      return { app, knex, permissions };
    }

    it('previews a repo without registering it', async () => {
      const { app, knex, permissions } = await setup();
      const res = await request(app)
        .get('/huggingface/preview/acme/tiny-llm')
        .expect(200);
      expect(res.body).toMatchObject({
        repoId: FIXTURE_REPOS.tinyLlm,
        revision: 'main',
        sha: expect.stringMatching(/^[0-9a-f]{40}$/),
        gated: false,
        private: false,
        pipelineTag: 'text-generation',
        libraryName: 'transformers',
        license: 'apache-2.0',
        card: expect.stringContaining('# tiny-llm'),
      });
      const paths = res.body.files.map((f: any) => f.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'README.md',
          'config.json',
          'model.safetensors',
          'onnx/model.onnx',
        ]),
      );
      const weights = res.body.files.find(
        (f: any) => f.path === 'model.safetensors',
      );
      expect(weights).toEqual({
        path: 'model.safetensors',
        size: expect.any(Number),
        lfsSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const readme = res.body.files.find((f: any) => f.path === 'README.md');
      expect(readme).not.toHaveProperty('lfsSha256');
      expect(permissions.map(p => p.name)).toEqual(['model-hub.model.create']);

      // nothing was registered
      expect(await knex('models')).toEqual([]);
      expect(await knex('jobs')).toEqual([]);
      await request(app).get('/huggingface/repos/acme/tiny-llm').expect(404);

      const tagged = await request(app)
        .get('/huggingface/preview/acme/tiny-llm?revision=v1.0')
        .expect(200);
      expect(tagged.body).toMatchObject({
        revision: 'v1.0',
        sha: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
    });

    it('answers Hub errors as clear 4xx', async () => {
      const { app } = await setup({ token: FIXTURE_TOKENS.user });
      const gated = await request(app).get(
        '/huggingface/preview/gated-org/gated-llm',
      );
      expect(gated.status).toBe(403);
      expect(gated.body.error.message).toMatch(
        /^Repository gated-org\/gated-llm is a gated repository and the configured Hugging Face token has no access to it/,
      );
      const missing = await request(app).get('/huggingface/preview/acme/nope');
      expect(missing.status).toBe(404);
      expect(missing.body.error.message).toMatch(
        /^Repository acme\/nope was not found on the Hub/,
      );
      const revision = await request(app).get(
        '/huggingface/preview/acme/tiny-llm?revision=no-such-branch',
      );
      expect(revision.status).toBe(404);
      expect(revision.body.error.name).toBe('NotFoundError');
    });

    it('previews a gated repo with a granted token', async () => {
      const { app } = await setup({ token: FIXTURE_TOKENS.granted });
      const res = await request(app)
        .get('/huggingface/preview/gated-org/gated-llm')
        .expect(200);
      expect(res.body).toMatchObject({
        repoId: FIXTURE_REPOS.gated,
        gated: 'manual',
      });
    });

    it('validates input and permissions', async () => {
      const { app } = await setup({ deny: ['model-hub.model.create'] });
      await request(app).get('/huggingface/preview/acme/tiny-llm').expect(403);
      const open = await setup();
      const bad = await request(open.app).get(
        '/huggingface/preview/acme/tiny-llm?revision=a%20b',
      );
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^Invalid query: revision: /);
      const badName = await request(open.app).get(
        '/huggingface/preview/acme/-bad',
      );
      expect(badName.status).toBe(400);
      await request(open.app)
        .get('/huggingface/preview/acme/tiny-llm')
        .set('Authorization', mockCredentials.none.header())
        .expect(401);
    });

    it('answers 503 when Hugging Face is not set up', async () => {
      const { app } = await setup({ withHub: false });
      const res = await request(app).get('/huggingface/preview/acme/tiny-llm');
      expect(res.status).toBe(503);
    });
  },
);
