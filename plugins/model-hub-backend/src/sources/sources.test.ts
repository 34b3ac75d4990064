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
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { setupHuggingFace } from '../huggingface/setup';
import { JobRunner } from '../jobs/JobRunner';
import { installFeatures } from '../service/feature';
import { createRouter } from '../tests/__testUtils__/router';
import { LocalArtifactStore } from '../store/LocalArtifactStore';

// Issue 22: two mock Hubs at once (the bundled mock, twice, on two ports);
// the second one serves a private repo that needs its token.

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const ALICE = 'user:default/alice';
const CORP_TOKEN = 'hf_corp_secret_token_0123456789';
const CORP_ENV = 'MODEL_HUB_TEST_CORP_TOKEN';

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) {
      return value;
    }
    if (Date.now() > end) {
      throw new Error(`Timed out waiting for ${what}`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
}

describe.each(databases.eachSupportedId())('model sources (%s)', id => {
  let publicHub: MockHub;
  let corpHub: MockHub;
  let publicServer: MockHfServer;
  let corpServer: MockHfServer;
  let dir: string;
  const shutdown: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    publicHub = createFixtureHub();
    corpHub = createFixtureHub();
    corpHub.addToken(CORP_TOKEN, { user: 'corp-bot', access: '*' });
    publicServer = await createMockHfServer({ hub: publicHub });
    corpServer = await createMockHfServer({ hub: corpHub });
    dir = mkdtempSync(join(tmpdir(), 'model-sources-'));
    process.env[CORP_ENV] = CORP_TOKEN;
  });

  afterEach(async () => {
    for (const fn of shutdown.splice(0)) {
      await fn();
    }
    await publicServer.close();
    await corpServer.close();
    delete process.env[CORP_ENV];
    rmSync(dir, { recursive: true, force: true });
  });

  async function setup(modelHub: Record<string, unknown>, deny: string[] = []) {
    const knex = await databases.init(id);
    const database = mockServices.database({ knex, migrations: { skip: false } });
    const store = await DatabaseModelHubStore.create({ database });
    const artifacts = await LocalArtifactStore.create({ path: join(dir, 'store') });
    const scheduler = mockServices.scheduler.mock();
    const lifecycle = mockServices.lifecycle.mock();
    const notifications = { send: jest.fn(async () => {}) };
    const config = mockServices.rootConfig({ data: { modelHub } as any });
    // the plugin's jobs and scheduler, as plugin.ts installs the feature
    const jobs = new JobRunner({ db: knex, logger: mockServices.logger.mock(), lifecycle });
    const hf = await setupHuggingFace({
      config,
      logger: mockServices.logger.mock(),
      database,
      lifecycle,
      jobs,
      notifications: notifications as any,
      store,
      artifacts,
    });
    await installFeatures([hf], { scheduler, jobs, logger: mockServices.logger.mock() });
    const decide = (requests: any[]) =>
      requests.map(r => ({
        result: deny.includes(r.permission.name)
          ? AuthorizeResult.DENY
          : AuthorizeResult.ALLOW,
      }));
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
        authorize: (async (requests: any[]) => decide(requests)) as any,
        authorizeConditional: (async (requests: any[]) => decide(requests)) as any,
      }),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
      extensions: hf.routes,
    });
    const app = express().use(router).use(mockErrorHandler());
    const task = (taskId: string) => {
      const call = (scheduler.scheduleTask as jest.Mock).mock.calls.find(
        ([t]) => t.id === taskId,
      );
      if (!call) {
        throw new Error(`No task ${taskId}`);
      }
      return call[0] as { fn: (signal?: AbortSignal) => Promise<void>; frequency: unknown };
    };
    const startWorkers = async () => {
      for (const [hook] of (lifecycle.addStartupHook as jest.Mock).mock.calls) {
        await hook();
      }
      shutdown.push(async () => {
        for (const [hook] of (lifecycle.addShutdownHook as jest.Mock).mock.calls) {
          await hook();
        }
      });
    };
    return { app, knex, store, hf, notifications, task, startWorkers };
  }

  const twoSources = () => ({
    huggingface: { fetch: 'registration', downloadDir: join(dir, 'downloads') },
    sources: [
      { name: 'public', endpoint: publicServer.url },
      {
        name: 'corp',
        endpoint: corpServer.url,
        tokenEnv: CORP_ENV,
        namespace: 'corp',
        exclude: ['*.onnx'],
      },
    ],
    sourceStatus: { frequency: { minutes: 2 }, notify: ['group:default/ml-admins'] },
  });

  async function jobsDone(store: DatabaseModelHubStore, count: number) {
    return waitFor(`${count} finished jobs`, async () => {
      const jobs = await store.listJobs({ offset: 0, limit: 100 } as any);
      const failed = jobs.items.filter(j => j.state === 'failed');
      if (failed.length) {
        throw new Error(`Jobs failed: ${JSON.stringify(failed.map(j => [j.type, j.error]))}`);
      }
      const done = jobs.items.filter(j => j.state === 'succeeded');
      return done.length >= count && jobs.items.length === done.length && jobs;
    });
  }

  it('registers, syncs and downloads from two Hubs, each with its own credentials', async () => {
    const { app, knex, store, startWorkers } = await setup(twoSources());
    await startWorkers();

    const list = await request(app).get('/sources').expect(200);
    expect(list.body.items.map((s: any) => [s.name, s.kind, s.default, s.hasToken])).toEqual([
      ['public', 'huggingface', true, false],
      ['corp', 'huggingface', false, true],
    ]);
    // never the token itself, only where it comes from
    expect(JSON.stringify(list.body)).not.toContain(CORP_TOKEN);
    expect(list.body.items[1].tokenRef).toBe(`env:${CORP_ENV}`);

    // the same repo id on both: two upstreams, two models
    const fromPublic = await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team' })
      .expect(202);
    expect(fromPublic.body.model.entityRef).toBe('model:default/acme--tiny-llm');
    expect(fromPublic.body.repo.source).toBe('public');
    const fromCorp = await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team', source: 'corp' })
      .expect(202);
    expect(fromCorp.body.model.entityRef).toBe('model:corp/acme--tiny-llm');
    expect(fromCorp.body.repo.source).toBe('corp');
    // the private repo: only the corp Hub's token reads it
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.privateModel, owner: 'ml-team', source: 'corp' })
      .expect(202);
    const anonymous = await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.privateModel, owner: 'ml-team' });
    expect(anonymous.status).toBeGreaterThanOrEqual(400);
    expect(anonymous.status).toBeLessThan(500);
    // a second registration on the same source is refused
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team', source: 'corp' })
      .expect(409);
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.tinyLlm, owner: 'ml-team', source: 'nope' })
      .expect(400);

    // three syncs and three downloads
    await jobsDone(store, 6);

    // each model and version records its source
    const models = await knex('models').orderBy('entity_ref').select('entity_ref', 'source_name');
    expect(models).toEqual([
      { entity_ref: 'model:corp/acme--private-model', source_name: 'corp' },
      { entity_ref: 'model:corp/acme--tiny-llm', source_name: 'corp' },
      { entity_ref: 'model:default/acme--tiny-llm', source_name: 'public' },
    ]);
    const versions = await knex('model_versions as v')
      .join('models as m', 'm.id', 'v.model_id')
      .select('m.entity_ref', 'v.source_name');
    expect(versions).toHaveLength(3);
    for (const v of versions) {
      expect(v.source_name).toBe(v.entity_ref.startsWith('model:corp/') ? 'corp' : 'public');
    }
    const files = await knex('version_files as f')
      .join('model_versions as v', 'v.id', 'f.version_id')
      .join('models as m', 'm.id', 'v.model_id')
      .select('m.entity_ref', 'f.path');
    const pathsOf = (ref: string) => files.filter(f => f.entity_ref === ref).map(f => f.path).sort();
    expect(pathsOf('model:corp/acme--private-model').length).toBeGreaterThan(0);
    expect(pathsOf('model:default/acme--tiny-llm').length).toBeGreaterThan(0);
    // corp excludes *.onnx, public does not (its own globs)
    expect(pathsOf('model:corp/acme--tiny-llm').some(p => p.endsWith('.onnx'))).toBe(false);

    // the public Hub never saw a token; every request to the corp Hub came
    // with the corp token (its user)
    const publicRequests = publicHub.findRequests({});
    expect(publicRequests.length).toBeGreaterThan(0);
    expect(publicRequests.filter(r => r.authenticated)).toEqual([]);
    const corpFiles = corpHub.findRequests({ path: /\/resolve\// });
    expect(corpFiles.length).toBeGreaterThan(0);
    expect(new Set(corpHub.findRequests({}).map(r => r.user))).toEqual(new Set(['corp-bot']));

    // referenced by: the source's models, and the source of a model
    const refs = await request(app).get('/sources/corp/models').expect(200);
    expect(refs.body.items.map((m: any) => [m.entityRef, m.repoId, m.versions])).toEqual([
      ['model:corp/acme--private-model', FIXTURE_REPOS.privateModel, 1],
      ['model:corp/acme--tiny-llm', FIXTURE_REPOS.tinyLlm, 1],
    ]);
    const sources = await request(app).get('/sources').expect(200);
    expect(sources.body.items.map((s: any) => [s.name, s.references])).toEqual([
      ['public', { models: 1, versions: 1 }],
      ['corp', { models: 2, versions: 2 }],
    ]);
    const of = await request(app).get('/sources/of-model/corp/acme--tiny-llm').expect(200);
    expect(of.body).toMatchObject({ name: 'corp', configured: true });
    expect(of.body.status.lastSuccessfulSyncAt).toBeDefined();

    // the same id on two sources needs ?source= where it is ambiguous
    await request(app).get('/huggingface/repos/acme/tiny-llm').expect(409);
    const corpRepo = await request(app)
      .get('/huggingface/repos/acme/tiny-llm?source=corp')
      .expect(200);
    expect(corpRepo.body).toMatchObject({ source: 'corp', modelRef: 'model:corp/acme--tiny-llm' });
    const listed = await request(app).get('/huggingface/repos?source=public').expect(200);
    expect(listed.body.items.map((r: any) => r.modelRef)).toEqual(['model:default/acme--tiny-llm']);
  });

  it('turns a revoked token into "credentials invalid" within one check, notifying once', async () => {
    const { app, notifications, task, startWorkers, store } = await setup(twoSources());
    await startWorkers();
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.privateModel, owner: 'ml-team', source: 'corp' })
      .expect(202);
    await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.embedding, owner: 'ml-team', source: 'corp' })
      .expect(202);
    await jobsDone(store, 4);

    const check = task('model-hub-source-status');
    expect(check.frequency).toEqual({ minutes: 2 });
    await check.fn();
    let corp = (await request(app).get('/sources/corp').expect(200)).body;
    expect(corp.status).toMatchObject({ reachable: true, credentials: 'valid', account: 'corp-bot' });
    expect(corp.problem).toBeUndefined();
    const pub = (await request(app).get('/sources/public').expect(200)).body;
    expect(pub.status).toMatchObject({ reachable: true, credentials: 'none' });

    // revoked upstream
    corpHub.tokens.delete(CORP_TOKEN);
    await check.fn();
    corp = (await request(app).get('/sources/corp').expect(200)).body;
    expect(corp.status).toMatchObject({ reachable: true, credentials: 'invalid' });
    expect(corp.status.lastError).toMatch(/401/);
    expect(corp.problem).toMatch(/^credentials invalid/);
    expect(corp.status.failingSince).toBeDefined();
    // one notification for the source, not one per model
    expect(notifications.send).toHaveBeenCalledTimes(1);
    expect(notifications.send).toHaveBeenCalledWith(
      expect.objectContaining({
        recipients: { type: 'entity', entityRef: ['group:default/ml-admins'] },
        payload: expect.objectContaining({
          title: expect.stringMatching(/corp: credentials invalid/),
          description: expect.stringContaining('2 models'),
          topic: 'model-hub:sources',
        }),
      }),
    );
    await check.fn();
    await request(app).post('/sources/corp/check').expect(200);
    expect(notifications.send).toHaveBeenCalledTimes(1);

    // its models show the problem
    const repo = await request(app).get('/huggingface/repos/acme/private-model').expect(200);
    expect(repo.body.sourceProblem).toMatch(/^credentials invalid/);
    const of = await request(app).get('/sources/of-model/corp/acme--private-model').expect(200);
    expect(of.body.problem).toMatch(/^credentials invalid/);

    // a new token: healthy again; a later failure notifies again
    corpHub.addToken(CORP_TOKEN, { user: 'corp-bot', access: '*' });
    const healed = await request(app).post('/sources/corp/check').expect(200);
    expect(healed.body.status).toMatchObject({ credentials: 'valid' });
    expect(healed.body.problem).toBeUndefined();
    corpHub.tokens.delete(CORP_TOKEN);
    await check.fn();
    expect(notifications.send).toHaveBeenCalledTimes(2);
  });

  it('keeps an existing single modelHub.huggingface config working as the source huggingface', async () => {
    const { app, knex, store, task, startWorkers } = await setup({
      huggingface: {
        endpoint: corpServer.url,
        token: CORP_TOKEN,
        fetch: 'registration',
        downloadDir: join(dir, 'downloads'),
        schedule: { frequency: { minutes: 30 }, timeout: { minutes: 10 } },
      },
    });
    await startWorkers();
    const list = await request(app).get('/sources').expect(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({
        name: 'huggingface',
        kind: 'huggingface',
        origin: 'config',
        default: true,
        endpoint: corpServer.url,
        namespace: 'default',
        hasToken: true,
        tokenRef: 'config:modelHub.huggingface.token',
      }),
    ]);
    expect(JSON.stringify(list.body)).not.toContain(CORP_TOKEN);
    // the scheduled sync keeps its id and schedule
    expect(task('huggingface-sync').frequency).toEqual({ minutes: 30 });
    const res = await request(app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.privateModel, owner: 'ml-team' })
      .expect(202);
    expect(res.body.model.entityRef).toBe('model:default/acme--private-model');
    expect(res.body.repo.source).toBe('huggingface');
    await jobsDone(store, 2);
    expect(await knex('models').select('source_name')).toEqual([{ source_name: 'huggingface' }]);
    expect(await knex('model_versions').select('source_name')).toEqual([{ source_name: 'huggingface' }]);
    await request(app).get('/huggingface/repos/acme/private-model').expect(200);
  });

  it('lets admins add and remove sources at run time, audited; others only read them', async () => {
    const admin = await setup(twoSources());
    const created = await request(admin.app)
      .post('/sources')
      .send({ name: 'mirror', kind: 'huggingface', endpoint: `${corpServer.url}/`, tokenRef: `env:${CORP_ENV}` })
      .expect(201);
    expect(created.body).toMatchObject({
      name: 'mirror',
      origin: 'runtime',
      endpoint: corpServer.url,
      namespace: 'mirror',
      hasToken: true,
      status: { credentials: 'valid', reachable: true },
    });
    const stored = await admin.knex('model_sources').first();
    expect(stored.token_ref).toBe(`env:${CORP_ENV}`);
    expect(JSON.stringify(stored)).not.toContain(CORP_TOKEN);
    // a token in plain text, another config secret, another variable: refused
    for (const tokenRef of [CORP_TOKEN, 'config:backend.database.connection.password', 'env:PATH']) {
      const bad = await request(admin.app)
        .post('/sources')
        .send({ name: 'bad', kind: 'huggingface', endpoint: corpServer.url, tokenRef })
        .expect(400);
      expect(bad.body.error.message).toMatch(/tokenRef must be/);
    }
    await request(admin.app)
      .post('/sources')
      .send({ name: 'files', kind: 'local', endpoint: '/srv' })
      .expect(400);
    await request(admin.app)
      .post('/sources')
      .send({ name: 'corp', kind: 'huggingface', endpoint: corpServer.url })
      .expect(409);
    // registration through it
    const reg = await request(admin.app)
      .post('/huggingface/repos')
      .send({ repoId: FIXTURE_REPOS.privateModel, owner: 'ml-team', source: 'mirror' })
      .expect(202);
    expect(reg.body.model.entityRef).toBe('model:mirror/acme--private-model');
    await request(admin.app).delete('/sources/mirror').expect(409);
    await request(admin.app).delete('/sources/corp').expect(409);
    await request(admin.app)
      .delete('/huggingface/repos/acme/private-model?source=mirror&deleteModel=true')
      .expect(204);
    await request(admin.app).delete('/sources/mirror').expect(204);
    const audit = await admin.knex('audit_events').select('event_id', 'meta');
    expect(audit.map(a => a.event_id)).toEqual(
      expect.arrayContaining(['source-create', 'source-delete']),
    );
    expect(JSON.stringify(audit)).not.toContain(CORP_TOKEN);

    // without model-hub.admin: the list (no token references), no changes
    const user = await setup(twoSources(), ['model-hub.admin']);
    const list = await request(user.app).get('/sources').expect(200);
    expect(list.body.items.map((s: any) => s.tokenRef)).toEqual([undefined, undefined]);
    expect(list.body.items[1].hasToken).toBe(true);
    await request(user.app)
      .post('/sources')
      .send({ name: 'other', kind: 'huggingface', endpoint: corpServer.url })
      .expect(403);
    await request(user.app).post('/sources/corp/check').expect(403);
    await request(user.app).delete('/sources/corp').expect(403);
  });
});
