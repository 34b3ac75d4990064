import { readdirSync } from 'node:fs';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import { createHubEnv } from './__testUtils__/hubEnv';
import { createDownloadExecutor } from './downloadExecutor';
import { JobWorker } from '../jobs/JobWorker';
import { PartialDownloadStore } from '../jobs/PartialDownloadStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const REPO = FIXTURE_REPOS.tinyLlm;

describe.each(databases.eachSupportedId())('download jobs (%s)', id => {
  let hub: MockHub;
  let server: MockHfServer;

  beforeEach(async () => {
    hub = createFixtureHub();
    server = await createMockHfServer({ hub });
  });

  afterEach(async () => {
    await server.close();
  });

  async function setup() {
    const knex = await databases.init(id);
    const env = await createHubEnv(knex, { endpoint: server.url });
    const { model } = await env.sync.register({
      repoId: REPO,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    const synced = await env.sync.syncRepo({ repoId: REPO });
    await knex('jobs').delete();
    const onFileStored = jest.fn(async () => undefined);
    const worker = new JobWorker({
      queue: env.queue,
      logger: mockServices.logger.mock(),
      concurrency: 1,
      leaseMs: 5000,
      executors: {
        'huggingface-download': createDownloadExecutor({
          fetcher: env.client,
          store: env.store,
          artifacts: env.artifacts,
          partials: new PartialDownloadStore(knex),
          downloadDir: env.config.downloadDir,
          onFileStored,
        }),
      },
    });
    const download = async (paths?: string[]) => {
      const jobId = (await env.sync.enqueueDownload({
        modelId: model.id,
        versionId: synced.versionId,
        repoId: REPO,
        commit: synced.commit,
        paths,
        createdBy: 'user:default/alice',
      }))!;
      const job = (await env.queue.claim({ types: ['huggingface-download'], leaseMs: 5000 }))!;
      expect(job.id).toBe(jobId);
      await worker.runJob(job);
      return (await env.store.getJob({ id: jobId }))!;
    };
    const sha256Of = (path: string) =>
      hub.getRepo(REPO).commits.get(synced.commit)!.files.get(path)!.sha256;
    return { knex, env, synced, download, sha256Of, onFileStored };
  }

  it('downloads, verifies and stores every file of a version', async () => {
    const { env, synced, download, sha256Of, onFileStored } = await setup();
    const job = await download();
    expect(job).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(job.progress).toMatchObject({ filesDone: 10, filesTotal: 10 });
    expect(job.progress.bytes).toBe(job.progress.totalBytes);
    const files = await env.store.listFiles({ versionId: synced.versionId });
    expect(files.map(f => f.path).sort()).toEqual(
      hub.filePaths(REPO, synced.commit).sort(),
    );
    for (const f of files) {
      expect(f.sha256).toBe(sha256Of(f.path));
      await expect(env.artifacts.stat(f.sha256)).resolves.toMatchObject({ size: f.size });
    }
    expect(files.find(f => f.path === 'onnx/model.onnx')).toMatchObject({ kind: 'weights' });
    // every stored file is handed on to the format inspection
    expect(onFileStored).toHaveBeenCalledTimes(files.length);
    for (const f of files) {
      expect(onFileStored).toHaveBeenCalledWith(synced.versionId, {
        path: f.path,
        sha256: f.sha256,
        size: f.size,
      });
    }

    // a second download of the same content fetches nothing
    hub.clearRequests();
    const again = await download();
    expect(again.state).toBe('succeeded');
    expect(hub.findRequests({ path: `/${REPO}/resolve/*` })).toEqual([]);
    env.cleanup();
  });

  it('fails on wrong bytes with a sha256 mismatch and stores nothing', async () => {
    const { knex, env, synced, download, sha256Of } = await setup();
    hub.script({
      match: { method: 'GET', path: `/${REPO}/resolve/*/model.safetensors` },
      fault: { wrongBytes: true },
    });
    const job = await download(['model.safetensors']);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(
      new RegExp(
        `^sha256 mismatch for model.safetensors: expected sha256 ${sha256Of(
          'model.safetensors',
        )}, got [0-9a-f]{64}; the upstream served wrong bytes and nothing was stored$`,
      ),
    );
    expect(job.attempts).toBe(1);
    const logs = await env.store.listJobLogs({ jobId: job.id, limit: 20 });
    expect(logs.some(l => l.level === 'error' && l.message.startsWith('sha256 mismatch'))).toBe(
      true,
    );
    // nothing in the store, no rows, no partial download left
    const blobs: string[] = [];
    for await (const b of env.artifacts.list()) blobs.push(b.sha256);
    expect(blobs).toEqual([]);
    expect(await knex('blobs')).toEqual([]);
    await expect(env.store.listFiles({ versionId: synced.versionId })).resolves.toEqual([]);
    expect(await knex('hf_partial_downloads')).toEqual([]);
    expect(readdirSync(env.config.downloadDir)).toEqual([]);
    env.cleanup();
  });

  it('fails on wrong bytes of a regular file with a git sha1 mismatch', async () => {
    const { env, download } = await setup();
    hub.script({
      match: { method: 'GET', path: `/${REPO}/resolve/*/config.json` },
      fault: { wrongBytes: true },
    });
    const job = await download(['config.json']);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/^git blob sha1 mismatch for config.json: expected [0-9a-f]{40}, got [0-9a-f]{40}/);
    env.cleanup();
  });

  it('retries 5xx and a cut connection within the job, resuming the bytes', async () => {
    const { knex, env, download, sha256Of } = await setup();
    hub.script({
      match: { method: 'GET', path: `/${REPO}/resolve/*/onnx/model.onnx` },
      times: 1,
      fault: { status: 503 },
    });
    hub.script({
      match: { method: 'GET', path: `/${REPO}/resolve/*/onnx/model.onnx` },
      times: 1,
      fault: { cutAfterBytes: 40_000 },
    });
    const first = await download(['onnx/model.onnx']);
    // the cut connection failed the attempt; the job is queued again
    expect(first).toMatchObject({ state: 'queued', attempts: 1 });
    expect(first.error).toMatch(/broke off at byte|ended at byte/);
    // what arrived before the cut was kept (a cut under load can lose it all)
    const kept = Number((await knex('hf_partial_downloads').first())?.durable_offset ?? 0);
    await knex('jobs').where({ id: first.id }).update({ run_after: null });
    const job = (await env.queue.claim({ types: ['huggingface-download'], leaseMs: 5000 }))!;
    const worker = new JobWorker({
      queue: env.queue,
      logger: mockServices.logger.mock(),
      concurrency: 1,
      executors: {
        'huggingface-download': createDownloadExecutor({
          fetcher: env.client,
          store: env.store,
          artifacts: env.artifacts,
          partials: new PartialDownloadStore(knex),
          downloadDir: env.config.downloadDir,
        }),
      },
    });
    await worker.runJob(job);
    const done = (await env.store.getJob({ id: first.id }))!;
    expect(done).toMatchObject({ state: 'succeeded', attempts: 2 });
    const ranges = hub
      .findRequests({ method: 'GET', path: `/${REPO}/resolve/*/onnx/model.onnx` })
      .map(r => [r.status, r.range ?? 'none']);
    expect(ranges[0]).toEqual([503, 'none']);
    expect(ranges[1]).toEqual([200, 'none']);
    expect(ranges[2]).toEqual(kept > 0 ? [206, `bytes=${kept}-`] : [200, 'none']);
    await expect(env.artifacts.stat(sha256Of('onnx/model.onnx'))).resolves.toBeDefined();
    env.cleanup();
  });

  it('queues the job again after a long Retry-After', async () => {
    const { knex, env, download } = await setup();
    hub.script({
      match: { method: 'GET', path: `/${REPO}/resolve/*/config.json` },
      times: 1,
      fault: { status: 429, retryAfter: 30 },
    });
    const started = Date.now();
    const job = await download(['config.json']);
    expect(job.state).toBe('queued');
    expect(job.error).toMatch(/429.*Retry-After 30 s/);
    const row = await knex('jobs').where({ id: job.id }).first();
    const runAfter = new Date(
      typeof row.run_after === 'number' || /^\d+$/.test(row.run_after)
        ? Number(row.run_after)
        : row.run_after,
    ).getTime();
    expect(runAfter - started).toBeGreaterThanOrEqual(29_000);
    env.cleanup();
  });
});
