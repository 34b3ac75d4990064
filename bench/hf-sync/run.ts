/*
 * Benchmark: metadata sync of 1,000 repos from the local mock Hugging Face
 * Hub (resolve the revision, list every file, read config.json and the model
 * card, write the model, the file list and the version), run as the
 * scheduled `huggingface-sync` task does, on SQLite (a file database) and
 * PostgreSQL. See README.md. Writes results.md next to this file.
 */
/* eslint-disable no-console */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import Knex, { Knex as KnexType } from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceClient';
import { HuggingFaceStore } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceStore';
import { HuggingFaceSync } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceSync';
import { JobQueue } from '../../plugins/model-hub-backend/src/jobs/JobQueue';

const REPOS = Number(process.env.BENCH_REPOS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const TMP = join(__dirname, '..', '.tmp', 'hf-sync');

function startMock(): Promise<{ url: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(__dirname, '..', '..', 'packages', 'mock-hf-server', 'bin', 'mock-hf-server.js'),
        '--port',
        '0',
        '--repos',
        String(REPOS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', d => {
      out += d;
      const m = /MOCK_HF_URL=(\S+)/.exec(out);
      if (m) resolve({ url: m[1], stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', code => reject(new Error(`mock exited ${code}: ${out}`)));
  });
}

const logger: any = {
  info: () => {},
  debug: () => {},
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
  child: () => logger,
};

async function run(name: string, knex: KnexType, url: string) {
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const hfStore = new HuggingFaceStore(knex);
  const client = new HuggingFaceClient({ endpoint: url });
  const sync = new HuggingFaceSync({
    client,
    hfStore,
    store,
    queue: new JobQueue(knex, 'bench'),
    logger,
    config: {
      endpoint: url,
      schedule: { frequency: { hours: 1 }, timeout: { hours: 1 } },
      include: [],
      exclude: [],
      allowedOrganizations: [],
      downloadConcurrency: 2,
      fetchMode: 'on-demand',
      downloadDir: join(TMP, 'downloads'),
      namespace: 'default',
    },
  });
  // registration (one model-info request each), not timed
  const r0 = Date.now();
  const ids = Array.from({ length: REPOS }, (_, i) => `bulk/model-${String(i).padStart(4, '0')}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ids.length) {
        const repoId = ids[next++];
        await sync.register({
          repoId,
          revision: 'main',
          owner: 'group:default/ml-team',
          createdBy: 'bench',
        });
      }
    }),
  );
  const registerSecs = (Date.now() - r0) / 1000;

  const t0 = Date.now();
  const result = await sync.runScheduled({ concurrency: CONCURRENCY, logger });
  const syncSecs = (Date.now() - t0) / 1000;
  if (result.synced !== REPOS || result.failed) {
    throw new Error(`sync incomplete: ${JSON.stringify(result)}`);
  }
  const files = Number((await knex('hf_repo_files').count({ n: '*' }).first())?.n);
  const versions = Number((await knex('model_versions').count({ n: '*' }).first())?.n);

  // a second run: every repo checked for drift
  const t1 = Date.now();
  const check = await sync.runScheduled({ concurrency: CONCURRENCY, logger });
  const checkSecs = (Date.now() - t1) / 1000;
  console.log(
    `${name}: register ${registerSecs.toFixed(1)} s, sync ${syncSecs.toFixed(1)} s (${files} files, ${versions} versions), drift check ${checkSecs.toFixed(1)} s (${check.checked} checked)`,
  );
  return { name, registerSecs, syncSecs, checkSecs, files, versions };
}

async function main() {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const results = [];
  const mock = await startMock();
  try {
    const sqlite = Knex({
      client: 'better-sqlite3',
      connection: { filename: join(TMP, 'db.sqlite') },
      useNullAsDefault: true,
    });
    results.push(await run('SQLite', sqlite, mock.url));
    await sqlite.destroy();

    const admin = Knex({ client: 'pg', connection: PG_URL });
    await admin.raw('DROP DATABASE IF EXISTS model_hub_bench_hf_sync');
    await admin.raw('CREATE DATABASE model_hub_bench_hf_sync');
    const pg = Knex({
      client: 'pg',
      connection: `${PG_URL.replace(/\/$/, '')}/model_hub_bench_hf_sync`,
    });
    try {
      results.push(await run('PostgreSQL 15', pg, mock.url));
    } finally {
      await pg.destroy();
      await admin.raw('DROP DATABASE IF EXISTS model_hub_bench_hf_sync');
      await admin.destroy();
    }
  } finally {
    mock.stop();
    rmSync(TMP, { recursive: true, force: true });
  }
  const lines = [
    '# Results: Hugging Face metadata sync',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}; mock Hub in its own process on 127.0.0.1; ${REPOS} repos, ${CONCURRENCY} repos at a time.`,
    '',
    '| database | registration (not timed by the target) | sync of every repo (target ≤ 120 s) | drift check of every repo |',
    '| -------- | -------------------------------------- | ----------------------------------- | ------------------------- |',
    ...results.map(
      r =>
        `| ${r.name} | ${r.registerSecs.toFixed(1)} s | **${r.syncSecs.toFixed(1)} s** (${r.files} files, ${r.versions} versions) | ${r.checkSecs.toFixed(1)} s |`,
    ),
    '',
    `Target (issue 4, acceptance 4): sync of ${REPOS} mock repos in ≤ 2 minutes: **${
      results.every(r => r.syncSecs <= 120) ? 'met' : 'not met'
    }**.`,
    '',
  ];
  writeFileSync(join(__dirname, 'results.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
