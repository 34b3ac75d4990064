import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  createFixtureHub,
  createMockHfServer,
  makeSafetensors,
  MockHfServer,
} from '@model-hub/mock-hf-server';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { readInspectionLimits } from '../inspection/config';
import {
  inspectBlobIntoChecks,
  VersionChecksStore,
} from '../inspection/VersionChecksStore';
import { JobQueue } from '../jobs/JobQueue';
import { JobWorker } from '../jobs/JobWorker';
import { setupHuggingFace } from '../huggingface/setup';
import { createRouter } from '../tests/__testUtils__/router';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { createScanExecutor, LOCAL_SCAN_JOB } from './routes';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const DANA = 'user:default/dana'; // admin
const ALICE = 'user:default/alice'; // not an admin

describe.each(databases.eachSupportedId())('local scan as a job (%s)', id => {
  let hf: MockHfServer;
  let dir: string;
  const workers: JobWorker[] = [];

  beforeEach(async () => {
    hf = await createMockHfServer({ hub: createFixtureHub() });
    dir = mkdtempSync(join(tmpdir(), 'scan-job-'));
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map(w => w.stop()));
    await hf.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setup(options: { scanRoot?: boolean } = {}) {
    const knex = await databases.init(id);
    const database = mockServices.database({
      knex,
      migrations: { skip: false },
    });
    const store = await DatabaseModelHubStore.create({ database });
    const artifacts = await LocalArtifactStore.create({
      path: join(dir, 'store'),
    });
    const root = join(dir, 'models');
    mkdirSync(root, { recursive: true });
    const config = mockServices.rootConfig({
      data: {
        modelHub: {
          huggingface: { endpoint: hf.url, fetch: 'on-demand' },
          ...(options.scanRoot !== false && { scan: { root } }),
        },
      },
    });
    // every scanned file is inspected like an upload
    const checks = new VersionChecksStore(knex);
    const limits = readInspectionLimits(new ConfigReader({}));
    const inspect = (
      versionId: string,
      file: { path: string; sha256: string; size: number },
    ) =>
      inspectBlobIntoChecks({
        checks,
        artifacts,
        limits,
        versionId,
        path: file.path,
        sha256: file.sha256,
        size: file.size,
      });
    const { routes } = await setupHuggingFace({
      config,
      logger: mockServices.logger.mock(),
      database,
      scheduler: mockServices.scheduler.mock(),
      lifecycle: mockServices.lifecycle.mock(),
      store,
      artifacts,
      onFileStored: inspect,
    });
    const router = await createRouter({
      store,
      artifacts,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({
        defaultCredentials: mockCredentials.user(DANA),
      }),
      userInfo: {
        getUserInfo: async (credentials: any) => ({
          userEntityRef: credentials.principal.userEntityRef,
          ownershipEntityRefs: [credentials.principal.userEntityRef],
        }),
      },
      permissions: mockServices.permissions.mock({
        authorize: (async (requests: any[], o: any) =>
          requests.map(r => ({
            result:
              r.permission.name !== 'model-hub.admin' ||
              o.credentials.principal.userEntityRef === DANA
                ? AuthorizeResult.ALLOW
                : AuthorizeResult.DENY,
          }))) as any,
        authorizeConditional: (async (requests: any[]) =>
          requests.map(() => ({ result: AuthorizeResult.ALLOW }))) as any,
      }),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
      extensions: routes,
    });
    const app = express().use(router).use(mockErrorHandler());
    /** Runs the queued scan jobs as the backend's worker does. */
    const runJobs = () => {
      const worker = new JobWorker({
        queue: new JobQueue(knex, `scan-test-${Math.random()}`),
        logger: mockServices.logger.mock(),
        executors: {
          [LOCAL_SCAN_JOB]: createScanExecutor({
            root,
            namespace: 'default',
            store,
            artifacts,
            inspect,
          }),
        },
        concurrency: 1,
        pollIntervalMs: 20,
        // heartbeats (which notice a cancel) every 300 ms
        leaseMs: 900,
      });
      workers.push(worker);
      worker.start();
    };
    return { app, knex, store, root, runJobs };
  }

  async function finished(app: express.Express, jobId: string) {
    for (let i = 0; i < 500; i++) {
      const res = await request(app).get(`/jobs/${jobId}`).expect(200);
      if (['succeeded', 'failed', 'cancelled'].includes(res.body.state)) {
        return res.body;
      }
      await new Promise(r => setTimeout(r, 20));
    }
    throw new Error(`Job ${jobId} did not finish`);
  }

  it('queues a scan job, reports progress and logs, inspects every file', async () => {
    const { app, knex, store, root, runJobs } = await setup();
    const folder = join(root, 'acme', 'local-llm');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    writeFileSync(join(folder, 'config.json'), '{"model_type":"llama"}');
    writeFileSync(
      join(folder, 'README.md'),
      '---\nlicense: mit\npipeline_tag: text-generation\n---\n# Local\n',
    );
    const weights = makeSafetensors({
      tensors: { 'w.weight': { dtype: 'F32', shape: [4, 4] } },
    });
    writeFileSync(join(folder, 'sub', 'weights.safetensors'), weights);
    mkdirSync(join(root, 'acme', 'not-a-model'), { recursive: true });
    writeFileSync(join(root, 'acme', 'not-a-model', 'notes.txt'), 'x');

    await request(app).get('/scan').expect(200, { enabled: true, root });
    const started = await request(app)
      .post('/scan')
      .send({ path: '.', owner: 'ml-team' })
      .expect(202);
    expect(started.body).toEqual({
      jobId: expect.any(String),
      job: expect.objectContaining({
        id: started.body.jobId,
        type: LOCAL_SCAN_JOB,
        state: 'queued',
        params: { path: '.', owner: 'group:default/ml-team', createdBy: DANA },
      }),
    });
    // one scan at a time
    const second = await request(app).post('/scan').send({ owner: 'ml-team' });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(started.body.jobId);

    runJobs();
    const job = await finished(app, started.body.jobId);
    expect(job.state).toBe('succeeded');
    const bytes = 22 + 59 + weights.length;
    expect(job.progress).toEqual({
      phase: 'done',
      folders: { total: 1, done: 1 },
      files: { total: 3, done: 3 },
      bytes: { total: bytes, done: bytes },
      models: [
        {
          path: 'acme/local-llm',
          modelRef: 'model:default/acme--local-llm',
          version: expect.stringMatching(/^local-[0-9a-f]{12}$/),
          files: 3,
          bytes,
          created: true,
        },
      ],
      skipped: ['acme/not-a-model'],
    });
    const logs = await request(app).get(`/jobs/${job.id}/logs`).expect(200);
    const lines = logs.body.items.map((l: any) => l.message);
    expect(lines).toEqual(
      expect.arrayContaining([
        'Skipped acme/not-a-model: no config.json or model_index.json',
        expect.stringMatching(/^Found 1 model folders \(3 files/),
        expect.stringMatching(
          /^acme\/local-llm\/sub\/weights.safetensors: \d+ bytes, sha256 [0-9a-f]{64}, committed and inspected$/,
        ),
        expect.stringMatching(/^Scan done: 1 models/),
      ]),
    );

    const model = (await store.getModel({
      entityRef: 'model:default/acme--local-llm',
    }))!;
    expect(model).toMatchObject({
      type: 'llm',
      license: 'mit',
      format: 'safetensors',
    });
    const version = (await store.getVersion({
      modelId: model.id,
      label: job.progress.models[0].version,
    }))!;
    const files = await store.listFiles({ versionId: version.id });
    expect(files.map(f => f.path)).toEqual([
      'README.md',
      'config.json',
      'sub/weights.safetensors',
    ]);
    // inspected like an upload: the per-file and aggregate checks
    const checks = await knex('version_checks').where({
      version_id: version.id,
    });
    const byName = new Map(checks.map(c => [c.name, c.status]));
    expect(byName.get('model-hub.format')).toBe('passed');
    expect(byName.get('model-hub.safety')).toBe('passed');
    expect([...byName.keys()].some(n => n.startsWith('inspect:'))).toBe(true);

    // the start is audited
    const audit = await knex('audit_events').where({ event_id: 'local-scan' });
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0].meta)).toMatchObject({
      jobId: job.id,
      path: '.',
    });

    // again: nothing new, the same version
    const again = await request(app)
      .post('/scan')
      .send({ path: 'acme', owner: 'ml-team' })
      .expect(202);
    const rerun = await finished(app, again.body.jobId);
    expect(rerun.state).toBe('succeeded');
    expect(rerun.progress.models[0]).toMatchObject({
      version: version.label,
      created: false,
    });
  });

  it('refuses paths outside the root before queueing, non-admins and a missing root', async () => {
    const { app, knex, root } = await setup();
    mkdirSync(join(dir, 'outside'), { recursive: true });
    symlinkSync(join(dir, 'outside'), join(root, 'escape'));
    for (const path of ['..', '../outside', '/etc', 'escape']) {
      const r = await request(app)
        .post('/scan')
        .send({ path, owner: 'ml-team' });
      expect([r.status, r.body.error.message]).toEqual([
        400,
        `The path ${path} is outside the scan root`,
      ]);
    }
    await request(app)
      .post('/scan')
      .send({ path: 'nope', owner: 'ml-team' })
      .expect(404);
    const denied = await request(app)
      .post('/scan')
      .set('Authorization', mockCredentials.user.header(ALICE))
      .send({ owner: 'ml-team' });
    expect(denied.status).toBe(403);
    await request(app)
      .get('/scan')
      .set('Authorization', mockCredentials.user.header(ALICE))
      .expect(403);
    await request(app).post('/scan').send({ path: 1 }).expect(400);
    expect(await knex('jobs').where({ type: LOCAL_SCAN_JOB })).toEqual([]);
  });

  it('says when scanning is off', async () => {
    const { app } = await setup({ scanRoot: false });
    await request(app).get('/scan').expect(200, { enabled: false });
    const r = await request(app).post('/scan').send({ owner: 'ml-team' });
    expect(r.status).toBe(404);
    expect(r.body.error.message).toBe(
      'Local scanning is off; set modelHub.scan.root to enable it',
    );
  });

  it('a cancelled scan stops', async () => {
    const { app, root, runJobs } = await setup();
    // enough folders that the cancel lands mid-scan
    for (let i = 0; i < 100; i++) {
      const folder = join(root, 'org', `m${i}`);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'config.json'), `{"n":${i}}`);
      writeFileSync(join(folder, 'notes.txt'), 'x'.repeat(50_000));
    }
    const started = await request(app)
      .post('/scan')
      .send({ owner: 'ml-team' })
      .expect(202);
    runJobs();
    // wait until it runs, then cancel
    for (let i = 0; i < 500; i++) {
      const res = await request(app).get(`/jobs/${started.body.jobId}`);
      if (res.body.state === 'running') {
        break;
      }
      await new Promise(r => setTimeout(r, 10));
    }
    await request(app).post(`/jobs/${started.body.jobId}/cancel`).expect(200);
    const job = await finished(app, started.body.jobId);
    expect(job.state).toBe('cancelled');
    expect(job.progress.folders?.done ?? 0).toBeLessThan(100);
  });
});
