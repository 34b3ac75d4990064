/*
 * Benchmark (issue 19): what the models list's new fields cost. Each item of
 * GET /models now carries `activeVersion` and `worstState`: two more queries
 * per page (fetchSummaryExtras), run alongside the page's versions query.
 * This measures, interleaved round by round on the same seeded database, a
 * page through the store (listModels) with them and with them switched off
 * (the function replaced by one answering nothing), and reports the ratio.
 * SQLite (a file) and PostgreSQL; 10,000 models with 1-3 versions, a failed
 * check on every 7th version, every 3rd model with an active version.
 * Writes extras-results.md next to this file.
 *
 *   node -r @backstage/cli/config/nodeTransform.cjs bench/models-list/extras.ts
 */
/* eslint-disable no-console */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import Knex, { Knex as KnexType } from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';

/** The commit before the store's listModels gained the new fields. */
const BASELINE_COMMIT = 'bc3de0a^';
const STORE = 'plugins/model-hub-backend/src/database/DatabaseModelHubStore.ts';

/**
 * The store as it was at BASELINE_COMMIT, beside the current one: its
 * source from git, with its relative imports pointed at the current folder
 * (only listModels is used; it reads the same tables).
 */
function baselineStoreClass(): typeof DatabaseModelHubStore {
  const root = join(__dirname, '..', '..');
  const source = execFileSync('git', ['show', `${BASELINE_COMMIT}:${STORE}`], {
    cwd: root,
    encoding: 'utf8',
  }).replace(
    /from '\.\/([^']+)'/g,
    (_, file) =>
      `from '${join(root, 'plugins/model-hub-backend/src/database', file)}'`,
  );
  const file = join(TMP, 'BaselineStore.ts');
  writeFileSync(file, source);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(file).DatabaseModelHubStore;
}

const MODELS = Number(process.env.BENCH_MODELS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_REQUESTS ?? 300);
const PG_URL =
  process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const TMP = join(__dirname, '..', '.tmp', 'models-list-extras');
const STATES = [
  'draft',
  'in_review',
  'approved',
  'deprecated',
  'changes_requested',
];

async function seed(knex: KnexType) {
  const base = Date.now() - MODELS * 60_000;
  for (let i = 0; i < MODELS; i += 500) {
    const models = [];
    const versions = [];
    const checks = [];
    const active = [];
    for (let j = i; j < Math.min(i + 500, MODELS); j++) {
      const id = randomUUID();
      const name = `model-${String(j).padStart(5, '0')}`;
      const at = new Date(base + j * 60_000);
      models.push({
        id,
        entity_ref: `model:${j % 4 ? 'default' : 'research'}/${name}`,
        namespace: j % 4 ? 'default' : 'research',
        name,
        type: 'llm',
        lifecycle: 'production',
        owner: 'group:default/ml-engineers',
        source_type: 'upload',
        tags: '[]',
        search_text: name,
        created_by: 'user:default/bench',
        created_at: at,
        updated_at: at,
      });
      for (let v = 0; v < (j % 3) + 1; v++) {
        const versionId = randomUUID();
        const state = STATES[(j + v) % 5];
        versions.push({
          id: versionId,
          model_id: id,
          label: `1.${v}.0`,
          state,
          source_type: 'upload',
          created_by: 'user:default/bench',
          created_at: new Date(at.getTime() + v * 1000),
          updated_at: new Date(at.getTime() + v * 1000),
          revision: 0,
        });
        checks.push({
          id: randomUUID(),
          version_id: versionId,
          name: 'model-hub.safety',
          status: (j + v) % 7 === 0 ? 'failed' : 'passed',
          required: true,
          created_at: at,
          updated_at: at,
        });
        if (v === 0 && j % 3 === 0 && state === 'approved') {
          active.push({
            model_id: id,
            version_id: versionId,
            promoted_by: 'user:default/bench',
            promoted_at: at,
          });
        }
      }
    }
    await knex.batchInsert('models', models, 100);
    await knex.batchInsert('model_versions', versions, 100);
    await knex.batchInsert('version_checks', checks, 100);
    if (active.length) {
      await knex.batchInsert('model_active_versions', active, 100);
    }
  }
}

function percentile(sorted: number[], p: number) {
  return sorted[
    Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  ];
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

async function run(label: string, knex: KnexType) {
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const Baseline = baselineStoreClass();
  const baseline = await Baseline.create({
    database: mockServices.database({ knex, migrations: { skip: true } }),
  } as any);
  await seed(knex);
  const before = loadavg()[0];
  const page: number[] = [];
  const extras: number[] = [];
  let checked = false;
  for (let i = 0; i < 30 + ROUNDS; i++) {
    const query = { offset: (i % 50) * 20, limit: 20 };
    // alternate which side goes first
    const order = i % 2 ? [true, false] : [false, true];
    for (const on of order) {
      const [ms, listed] = await time(() =>
        (on ? store : baseline).listModels(query),
      );
      if (on && !checked && listed.items.some(m => m.activeVersion)) {
        checked = true; // the A side computes the fields
      }
      if (i >= 30) {
        (on ? page : extras).push(ms);
      }
    }
  }
  if (!checked) {
    throw new Error(
      'No page had an active version: the A side is not measured',
    );
  }
  const after = loadavg()[0];
  page.sort((a, b) => a - b);
  extras.sort((a, b) => a - b);
  const row = (name: string, t: number[]) =>
    `| ${name} | ${percentile(t, 50).toFixed(2)} | ${percentile(t, 95).toFixed(
      2,
    )} | ${percentile(t, 99).toFixed(2)} |`;
  const share50 = percentile(page, 50) / percentile(extras, 50);
  const share95 = percentile(page, 95) / percentile(extras, 95);
  console.log(label, {
    with: percentile(page, 95),
    without: percentile(extras, 95),
    share50,
    share95,
  });
  return [
    `## ${label}`,
    '',
    `${MODELS} models, ${ROUNDS} rounds (pages 1-50 of 20, after 30 warm-up rounds); load average ${before.toFixed(
      1,
    )} → ${after.toFixed(1)}.`,
    '',
    '| ms | p50 | p95 | p99 |',
    '|---|---|---|---|',
    row('listModels with activeVersion and worstState', page),
    row(`listModels of ${BASELINE_COMMIT} (baseline, without them)`, extras),
    '',
    `With / without: **${share50.toFixed(2)}x** at p50, **${share95.toFixed(
      2,
    )}x** at p95.`,
    '',
  ].join('\n');
}

async function main() {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  let fs = 'unknown';
  try {
    fs = execFileSync('df', ['-T', TMP], { encoding: 'utf8' })
      .split('\n')[1]
      .split(/\s+/)[1];
  } catch {
    // df is optional
  }
  const sections: string[] = [];
  const sqlite = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(TMP, 'bench.sqlite') },
    useNullAsDefault: true,
  });
  try {
    sections.push(await run(`SQLite (better-sqlite3, file on ${fs})`, sqlite));
  } finally {
    await sqlite.destroy();
  }
  if (!process.env.BENCH_SKIP_PG) {
    const admin = Knex({ client: 'pg', connection: `${PG_URL}/postgres` });
    await admin.raw('drop database if exists model_hub_bench_extras');
    await admin.raw('create database model_hub_bench_extras');
    const pg = Knex({
      client: 'pg',
      connection: `${PG_URL}/model_hub_bench_extras`,
    });
    try {
      const version = (await pg.raw('show server_version')).rows[0]
        .server_version;
      sections.push(await run(`PostgreSQL ${version}`, pg));
    } finally {
      await pg.destroy();
      await admin.raw('drop database if exists model_hub_bench_extras');
      await admin.destroy();
    }
  }
  rmSync(TMP, { recursive: true, force: true });
  writeFileSync(
    join(__dirname, 'extras-results.md'),
    [
      '# Models list: the cost of activeVersion and worstState (issue 19)',
      '',
      `Measured ${new Date().toISOString()} on ${cpus().length} CPUs (${
        cpus()[0]?.model ?? 'unknown'
      }), by`,
      '`node -r @backstage/cli/config/nodeTransform.cjs bench/models-list/extras.ts`.',
      'Both sides run the same pages, interleaved round by round (alternating which',
      'goes first), so the ratio is measured under the same load.',
      '',
      ...sections,
    ].join('\n'),
  );
  console.log(`Wrote ${join(__dirname, 'extras-results.md')}`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
