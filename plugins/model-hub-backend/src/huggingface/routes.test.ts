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

describe.each(databases.eachSupportedId())('Hugging Face routes (%s)', id => {
  let hf: MockHfServer;
  let dir: string;

  beforeEach(async () => {
    hf = await createMockHfServer({ hub: createFixtureHub() });
    dir = mkdtempSync(join(tmpdir(), 'hf-routes-'));
  });

  afterEach(async () => {
    await hf.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setup(options: { token?: string; deny?: string[] } = {}) {
    const knex = await databases.init(id);
    const database = mockServices.database({ knex, migrations: { skip: false } });
    const store = await DatabaseModelHubStore.create({ database });
    const artifacts = await LocalArtifactStore.create({ path: join(dir, 'store') });
    const config = mockServices.rootConfig({
      data: {
        modelHub: {
          huggingface: {
            endpoint: hf.url,
            token: options.token,
            fetch: 'on-demand',
            exclude: ['*.onnx'],
          },
          scan: { root: join(dir, 'models') },
        },
      },
    });
    const { routes, sync } = await setupHuggingFace({
      config,
      logger: mockServices.logger.mock(),
      database,
      scheduler: mockServices.scheduler.mock(),
      lifecycle: mockServices.lifecycle.mock(),
      store,
      artifacts,
    });
    const router = await createRouter({
      store,
      artifacts,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({ defaultCredentials: mockCredentials.user(ALICE) }),
      userInfo: {
        getUserInfo: async (credentials: any) => ({
          userEntityRef: credentials.principal.userEntityRef,
          ownershipEntityRefs: [credentials.principal.userEntityRef, 'group:default/ml-team'],
        }),
      },
      permissions: mockServices.permissions.mock({
        authorize: (async (requests: any[]) =>
          requests.map(r => ({
            result: options.deny?.includes(r.permission.name)
              ? AuthorizeResult.DENY
              : AuthorizeResult.ALLOW,
          }))) as any,
        // a policy without conditions: the same answers without a resource
        authorizeConditional: (async (requests: any[]) =>
          requests.map(r => ({
            result: options.deny?.includes(r.permission.name)
              ? AuthorizeResult.DENY
              : AuthorizeResult.ALLOW,
          }))) as any,
      }),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
      extensions: routes,
    });
    const app = express().use(router).use(mockErrorHandler());
    return { app, knex, store, sync };
  }

  it('registers, lists, gets and removes repos', async () => {
    const { app, knex } = await setup();
    const res = await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team' })
      .expect(202);
    expect(res.body).toMatchObject({
      model: {
        entityRef: 'model:default/acme--tiny-llm',
        owner: 'group:default/ml-team',
        sourceType: 'huggingface',
      },
      repo: { repoId: 'acme/tiny-llm', syncState: 'pending', drift: false },
      jobId: expect.any(String),
    });
    const job = await knex('jobs').where({ id: res.body.jobId }).first();
    expect(job).toMatchObject({ type: 'huggingface-sync', state: 'queued' });

    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team' })
      .expect(409);
    const list = await request(app).get('/huggingface/repos').expect(200);
    expect(list.body).toMatchObject({ totalCount: 1, items: [{ repoId: 'acme/tiny-llm' }] });
    await request(app).get('/huggingface/repos/acme/tiny-llm').expect(200);

    // not synced yet
    const early = await request(app).post('/huggingface/repos/acme/tiny-llm/download').send({});
    expect(early.status).toBe(400);
    expect(early.body.error.message).toBe('acme/tiny-llm has not been synced yet');

    await request(app).delete('/huggingface/repos/acme/tiny-llm?deleteModel=true').expect(204);
    await request(app).get('/huggingface/repos/acme/tiny-llm').expect(404);
    expect(await knex('models')).toEqual([]);
    expect(await knex('model_tombstones')).toEqual([
      expect.objectContaining({ entity_ref: 'model:default/acme--tiny-llm' }),
    ]);
  });

  it('answers 403 with a clear message for a gated repo without access', async () => {
    const { app, knex } = await setup({ token: FIXTURE_TOKENS.user });
    const res = await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.gated, owner: 'ml-team' })
      .expect(403);
    expect(res.body.error.message).toMatch(
      /^Repository gated-org\/gated-llm is a gated repository and the configured Hugging Face token has no access to it \(403\)/,
    );
    expect(await knex('models')).toEqual([]);
  });

  it('validates input and permissions', async () => {
    const { app } = await setup({ deny: ['model-hub.model.create'] });
    const bad = await request(app).post('/huggingface/repos').send({ repoId: 'no-slash' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^Invalid registration: repoId: must be <org>\/<name>/);
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm })
      .expect(403);
  });

  it('queues downloads of a synced version, filtered by exclude', async () => {
    const { app, knex, sync } = await setup();
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team' })
      .expect(202);
    // run the sync inline: no worker is started in this test
    await sync.syncRepo({ repoId: FIXTURE_REPOS.tinyLlm });

    const all = await request(app).post('/huggingface/repos/acme/tiny-llm/download').send({});
    expect(all.status).toBe(202);
    const job = await knex('jobs').where({ id: all.body.jobId }).first();
    const paths = JSON.parse(job.params).files.map((f: any) => f.path);
    expect(paths).toContain('model.safetensors');
    expect(paths.some((p: string) => p.endsWith('.onnx'))).toBe(false);

    const chosen = await request(app)
      .post('/huggingface/repos/acme/tiny-llm/download')
      .send({ files: ['onnx/model.onnx'] })
      .expect(202);
    const chosenJob = await knex('jobs').where({ id: chosen.body.jobId }).first();
    expect(JSON.parse(chosenJob.params).files.map((f: any) => f.path)).toEqual([
      'onnx/model.onnx',
    ]);
    const missing = await request(app)
      .post('/huggingface/repos/acme/tiny-llm/download')
      .send({ files: ['nope.bin'] });
    expect(missing.status).toBe(400);
  });
});
