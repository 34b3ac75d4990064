import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { createMockHfServer, MockHfServer, MockHub } from '@model-hub/mock-hf-server';
import { Knex as KnexType } from 'knex';
import { createHubEnv } from '../huggingface/__testUtils__/hubEnv';
import { createDownloadExecutor } from '../huggingface/downloadExecutor';
import { JobQueue } from './JobQueue';
import { JobWorker } from './JobWorker';
import { PartialDownloadStore } from './PartialDownloadStore';

// Acceptance: two backend instances on one PostgreSQL run a batch of 50
// download jobs, and every job runs exactly once.

jest.setTimeout(180_000);

const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
const REPO = 'acme/fifty-files';
const COUNT = 50;

function runInstance(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        require.resolve('@backstage/cli/config/nodeTransform.cjs'),
        join(__dirname, '__fixtures__', 'downloadWorker.ts'),
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', d => {
      out += d;
    });
    child.stderr.on('data', d => {
      out += d;
    });
    child.on('exit', code =>
      code === 0 ? resolve(out) : reject(new Error(`instance failed: ${out}`)),
    );
  });
}

// PostgreSQL (FOR UPDATE SKIP LOCKED): two backend processes. SQLite
// serves one instance only, so there the two workers share one process and
// its database (compare-and-set claims); it runs without PostgreSQL too.
const targets: Array<[string, 'processes' | 'in-process']> = [
  ...databases
    .eachSupportedId()
    .filter(([id]) => id === 'POSTGRES_15')
    .map(([id]) => [id, 'processes'] as [string, 'processes']),
  ['SQLITE_3', 'in-process'],
];

async function runInProcess(
  env: Awaited<ReturnType<typeof createHubEnv>>,
  knex: KnexType,
  workerId: string,
): Promise<string> {
  let out = '';
  const executor = createDownloadExecutor({
    fetcher: env.client,
    store: env.store,
    artifacts: env.artifacts,
    partials: new PartialDownloadStore(knex),
    downloadDir: env.config.downloadDir,
  });
  const worker = new JobWorker({
    queue: new JobQueue(knex, workerId),
    logger: mockServices.logger.mock(),
    concurrency: 3,
    pollIntervalMs: 20,
    executors: {
      'huggingface-download': async ctx => {
        out += `claimed ${ctx.job.id} attempt ${ctx.job.attempts}\n`;
        await executor(ctx);
      },
    },
  });
  worker.start();
  for (;;) {
    await new Promise(r => setTimeout(r, 100));
    const open = await knex('jobs').whereIn('state', ['queued', 'running']).count({ n: '*' }).first();
    if (Number(open?.n ?? 0) === 0) break;
  }
  await worker.stop();
  return out;
}

describe.each(targets)('two instances on one database (%s, %s)', (id, mode) => {
  let hub: MockHub;
  let server: MockHfServer;

  beforeAll(async () => {
    hub = new MockHub();
    hub.addRepo({
      id: REPO,
      files: Array.from({ length: COUNT }, (_, i) => ({
        path: `shards/part-${String(i).padStart(2, '0')}.bin`,
        content: { size: 256 * 1024, seed: `part-${i}` },
      })),
    });
    server = await createMockHfServer({ hub });
  });

  afterAll(async () => {
    await server.close();
  });

  it('runs each of 50 download jobs exactly once', async () => {
    const knex = await databases.init(id as 'SQLITE_3' | 'POSTGRES_15');
    const env = await createHubEnv(knex, { endpoint: server.url });
    const { model } = await env.sync.register({
      repoId: REPO,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    const synced = await env.sync.syncRepo({ repoId: REPO });
    await knex('jobs').delete();
    const jobIds: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      jobIds.push(
        (await env.sync.enqueueDownload({
          modelId: model.id,
          versionId: synced.versionId,
          repoId: REPO,
          commit: synced.commit,
          paths: [`shards/part-${String(i).padStart(2, '0')}.bin`],
          createdBy: 'user:default/alice',
        }))!,
      );
    }
    // slow answers, so that both instances are busy at the same time
    hub.script({ match: { method: 'GET', path: `/${REPO}/resolve/*` }, fault: { delayMs: 40 } });
    hub.clearRequests();

    const config = JSON.stringify({
      client: knex.client.config.client,
      connection: knex.client.config.connection,
      useNullAsDefault: true,
    });
    const args = (workerId: string) => [
      config,
      server.url,
      join(env.dir, 'store'),
      env.config.downloadDir,
      workerId,
      '10000',
      String(64 * 1024 * 1024),
      '3',
    ];
    const [out1, out2] = await Promise.all(
      mode === 'processes'
        ? [runInstance(args('instance-1')), runInstance(args('instance-2'))]
        : [runInProcess(env, knex, 'instance-1'), runInProcess(env, knex, 'instance-2')],
    );

    const claimedBy = (out: string) => [...out.matchAll(/claimed (\S+) attempt (\d+)/g)];
    const c1 = claimedBy(out1);
    const c2 = claimedBy(out2);
    // both instances worked, and no job was claimed twice
    expect(c1.length).toBeGreaterThan(0);
    expect(c2.length).toBeGreaterThan(0);
    const claimed = [...c1, ...c2].map(m => m[1]);
    expect(claimed).toHaveLength(COUNT);
    expect(new Set(claimed)).toEqual(new Set(jobIds));
    expect([...c1, ...c2].every(m => m[2] === '1')).toBe(true);

    const jobs = await knex('jobs').whereIn('id', jobIds);
    expect(jobs).toHaveLength(COUNT);
    for (const job of jobs) {
      expect([job.state, job.error]).toEqual(['succeeded', null]);
      expect(Number(job.attempts)).toBe(1);
    }
    // the mock server saw exactly one download of every file
    const gets = hub
      .findRequests({ method: 'GET', path: `/${REPO}/resolve/*` })
      .map(r => decodeURIComponent(r.path.split('/').slice(-2).join('/')));
    expect(gets).toHaveLength(COUNT);
    expect(new Set(gets).size).toBe(COUNT);
    await expect(env.store.listFiles({ versionId: synced.versionId })).resolves.toHaveLength(
      COUNT,
    );
    env.cleanup();
  });
});
