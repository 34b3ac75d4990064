import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDatabases } from '@backstage/backend-test-utils';
import {
  bigFileRepo,
  createMockHfServer,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import Knex, { Knex as KnexType } from 'knex';
import { createHubEnv } from '../huggingface/__testUtils__/hubEnv';

// Acceptance: a 1 GiB download whose backend process is killed half-way
// resumes after a restart from the partial offset and verifies.

jest.setTimeout(180_000);

const SIZE = 1024 * 1024 * 1024;
const REPO = 'acme/big-model';
const databases = TestDatabases.create({ ids: ['POSTGRES_15'] });

function startWorker(args: string[]) {
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
  child.stdout!.on('data', d => {
    out += d;
  });
  child.stderr!.on('data', d => {
    out += d;
  });
  return { child, output: () => out };
}

function waitFor(
  child: ChildProcess,
  output: () => string,
  predicate: (out: string) => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (predicate(output())) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(timer);
      if (predicate(output())) {
        resolve();
      } else {
        reject(new Error(`worker exited: ${output().slice(-2000)}`));
      }
    });
  });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(d => rmSync(d, { recursive: true, force: true })));

const targets: Array<
  [string, () => Promise<{ knex: KnexType; config: object }>]
> = [
  [
    'SQLite file',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hf-crash-db-'));
      dirs.push(dir);
      const config = {
        client: 'better-sqlite3',
        connection: { filename: join(dir, 'db.sqlite') },
        useNullAsDefault: true,
      };
      return { knex: Knex(config), config };
    },
  ],
];
if (databases.eachSupportedId().length) {
  targets.push([
    'POSTGRES_15',
    async () => {
      const knex = await databases.init('POSTGRES_15');
      const config = {
        client: knex.client.config.client,
        connection: knex.client.config.connection,
      };
      return { knex, config };
    },
  ]);
}

describe.each(targets)('download killed half-way (%s)', (_name, createDb) => {
  let hub: MockHub;
  let server: MockHfServer;

  beforeAll(async () => {
    hub = new MockHub();
    hub.addRepo(bigFileRepo(SIZE, REPO));
    hub.warmUp();
    server = await createMockHfServer({ hub });
  });

  afterAll(async () => {
    await server.close();
  });

  it('resumes from the partial offset after a restart and verifies', async () => {
    const { knex, config } = await createDb();
    const env = await createHubEnv(knex, { endpoint: server.url });
    const { model } = await env.sync.register({
      repoId: REPO,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    const synced = await env.sync.syncRepo({ repoId: REPO });
    await knex('jobs').where({ type: 'huggingface-sync' }).delete();
    const jobId = (await env.sync.enqueueDownload({
      modelId: model.id,
      versionId: synced.versionId,
      repoId: REPO,
      commit: synced.commit,
      paths: ['model.safetensors'],
      createdBy: 'user:default/alice',
    }))!;
    const expected = hub
      .getRepo(REPO)
      .commits.get(synced.commit)!
      .files.get('model.safetensors')!.sha256;

    const args = (workerId: string, throttleMiBps?: number) => [
      JSON.stringify(config),
      server.url,
      join(env.dir, 'store'),
      env.config.downloadDir,
      workerId,
      '2000', // lease ms
      String(32 * 1024 * 1024), // checkpoint every 32 MiB
      '1',
      ...(throttleMiBps ? [String(throttleMiBps)] : []),
    ];

    // first instance: killed with SIGKILL half-way
    // throttled, so that the kill surely lands half-way
    const first = startWorker(args('instance-1', 200));
    await waitFor(first.child, first.output, out => {
      const m = [...out.matchAll(/bytes (\d+)/g)].pop();
      return Boolean(m && Number(m[1]) >= SIZE / 2);
    });
    first.child.kill('SIGKILL');
    await new Promise(r => first.child.on('exit', r));

    const partial = await knex('hf_partial_downloads').first();
    const offset = Number(partial.durable_offset);
    expect(offset).toBeGreaterThanOrEqual(SIZE / 2 - 64 * 1024 * 1024);
    expect(offset).toBeLessThan(SIZE);
    const killed = await knex('jobs').where({ id: jobId }).first();
    expect(killed).toMatchObject({ state: 'running', leased_by: 'instance-1' });
    await expect(env.artifacts.stat(expected)).resolves.toBeUndefined();

    // a restarted instance takes the job over once the lease expired
    const second = startWorker(args('instance-2'));
    await waitFor(second.child, second.output, out => out.includes('idle'));

    const resolves = hub
      .findRequests({
        method: 'GET',
        path: `/${REPO}/resolve/*/model.safetensors`,
      })
      .map(r => r.range ?? 'none');
    expect(resolves).toEqual(['none', `bytes=${offset}-`]);

    const job = await knex('jobs').where({ id: jobId }).first();
    expect(job.state).toBe('succeeded');
    expect(Number(job.attempts)).toBe(2);
    const logs = (
      await knex('job_logs').where({ job_id: jobId }).orderBy('id')
    ).map(l => l.message);
    expect(logs).toEqual(
      expect.arrayContaining([
        `Resuming model.safetensors from byte ${offset} of ${SIZE}`,
        expect.stringMatching(
          new RegExp(
            `model.safetensors: ${SIZE} bytes verified \\(sha256\\) and stored as ${expected}, resumed from byte ${offset}`,
          ),
        ),
      ]),
    );
    const files = await env.store.listFiles({ versionId: synced.versionId });
    expect(files).toEqual([
      expect.objectContaining({
        path: 'model.safetensors',
        sha256: expected,
        size: SIZE,
      }),
    ]);
    await expect(env.artifacts.stat(expected)).resolves.toMatchObject({
      size: SIZE,
    });
    expect(await knex('hf_partial_downloads')).toEqual([]);
    if (knex.client.config.client === 'better-sqlite3') {
      await knex.destroy();
    }
    env.cleanup();
  });
});
