/*
 * Benchmark: the first page of GET /api/model-hub/models with 10,000 models,
 * on SQLite (a file database) and on PostgreSQL, through the real router over
 * HTTP. See README.md. Writes results.md next to this file.
 */
/* eslint-disable no-console */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import Knex, { Knex as KnexType } from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { createRouter } from '../../plugins/model-hub-backend/src/service/router';
import { LocalArtifactStore } from '../../plugins/model-hub-backend/src/store/LocalArtifactStore';

const MODELS = Number(process.env.BENCH_MODELS ?? 10_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const WARMUP = 30;
const PG_URL =
  process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const TMP = join(__dirname, '..', '.tmp', 'models-list');

const TYPES = ['llm', 'embedding', 'vision', 'audio', 'diffusion', 'tabular'];
const TAGS = ['nlp', 'chat', 'cv', 'speech', 'rag', 'finetuned', 'quantized'];
const OWNERS = ['ml-engineers', 'ml-research', 'platform', 'search', 'vision'];
const STATES = ['draft', 'in_review', 'approved', 'deprecated'];

async function seed(knex: KnexType) {
  const start = Date.now();
  const base = Date.now() - MODELS * 60_000;
  for (let i = 0; i < MODELS; i += 500) {
    const models = [];
    const tags = [];
    const versions = [];
    for (let j = i; j < Math.min(i + 500, MODELS); j++) {
      const id = randomUUID();
      const name = `model-${String(j).padStart(5, '0')}-${TYPES[j % 6]}`;
      const modelTags = [TAGS[j % 7], TAGS[(j * 3 + 1) % 7]].filter(
        (t, k, a) => a.indexOf(t) === k,
      );
      const at = new Date(base + j * 60_000);
      models.push({
        id,
        entity_ref: `model:default/${name}`,
        namespace: 'default',
        name,
        title: `Model ${j}`,
        description: `A ${TYPES[j % 6]} model number ${j} for benchmarks`,
        type: TYPES[j % 6],
        task: 'text-generation',
        format: 'safetensors',
        license: 'apache-2.0',
        lifecycle: 'production',
        owner: `group:default/${OWNERS[j % 5]}`,
        source_type: j % 3 === 0 ? 'huggingface' : 'upload',
        source:
          j % 3 === 0
            ? JSON.stringify({ huggingface: { repo: `org/${name}` } })
            : JSON.stringify('upload'),
        tags: JSON.stringify(modelTags),
        search_text: `${name} model ${j} a ${
          TYPES[j % 6]
        } model number ${j} for benchmarks ${modelTags.join(' ')}`,
        created_by: 'user:default/bench',
        created_at: at,
        updated_at: at,
      });
      modelTags.forEach(tag => tags.push({ model_id: id, tag }));
      for (let v = 0; v < (j % 3) + 1; v++) {
        versions.push({
          id: randomUUID(),
          model_id: id,
          label: `1.${v}.0`,
          state: STATES[(j + v) % 4],
          source_type: 'upload',
          created_by: 'user:default/bench',
          created_at: new Date(at.getTime() + v * 1000),
          updated_at: new Date(at.getTime() + v * 1000),
          revision: 0,
        });
      }
    }
    await knex.batchInsert('models', models, 100);
    await knex.batchInsert('model_tags', tags, 200);
    await knex.batchInsert('model_versions', versions, 100);
  }
  return Date.now() - start;
}

function percentile(sorted: number[], p: number) {
  return sorted[
    Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  ];
}

async function measure(baseUrl: string, path: string) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    const res = await fetch(`${baseUrl}${path}`);
    const body = await res.arrayBuffer();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status !== 200) {
      throw new Error(`${path}: ${res.status} ${Buffer.from(body).toString()}`);
    }
    if (i >= WARMUP) {
      times.push(ms);
      bytes = body.byteLength;
    }
  }
  times.sort((a, b) => a - b);
  return {
    path,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    max: times[times.length - 1],
    bytes,
  };
}

const SCENARIOS = [
  '/models',
  '/models?sort=updatedAt&order=desc',
  '/models?type=llm&tag=nlp&state=approved',
  '/models?owner=ml-engineers&source=huggingface',
  '/models?q=number%20123',
];

/**
 * The permission policies the list is measured with: allow-all, and a
 * restrictive conditional one (model-hub.model.read only on the models the
 * caller's group owns, as `catalogConditions.isEntityOwner` decides; 1 in 5
 * of the seeded models), which the router translates into the list's query.
 */
const POLICIES = {
  'allow-all': () => mockServices.permissions(),
  'conditional (owner only)': () => {
    const decide = async (requests: any[]) =>
      requests.map((r: any) =>
        r.permission.name === 'model-hub.model.read'
          ? {
              result: AuthorizeResult.CONDITIONAL,
              pluginId: 'catalog',
              resourceType: 'catalog-entity',
              conditions: {
                rule: 'IS_ENTITY_OWNER',
                resourceType: 'catalog-entity',
                params: {
                  claims: ['user:default/mock', 'group:default/ml-engineers'],
                },
              },
            }
          : { result: AuthorizeResult.ALLOW },
      );
    // a plain object: the service mocks need jest
    return {
      authorize: async (requests: any[]) =>
        requests.map(() => ({ result: AuthorizeResult.DENY })),
      authorizeConditional: decide,
    } as unknown as ReturnType<typeof mockServices.permissions>;
  },
} as const;

async function runOn(label: string, knex: KnexType) {
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const seedMs = await seed(knex);
  const policies = [];
  for (const [policy, permissions] of Object.entries(POLICIES)) {
    policies.push({
      policy,
      ...(await measureWith(store, permissions())),
    });
  }
  const total = await knex('models').count({ c: '*' }).first();
  console.log(label, `models=${total?.c}`, JSON.stringify(policies));
  return { label, seedMs, models: Number(total?.c), policies };
}

async function measureWith(
  store: DatabaseModelHubStore,
  permissions: ReturnType<typeof mockServices.permissions>,
) {
  const load = loadavg()[0];
  const router = await createRouter({
    store,
    artifacts: await LocalArtifactStore.create({ path: join(TMP, 'store') }),
    auth: mockServices.auth(),
    httpAuth: mockServices.httpAuth(),
    userInfo: mockServices.userInfo(),
    permissions,
    auditor: {
      createEvent: async () => ({
        success: async () => {},
        fail: async () => {},
      }),
    },
    catalog: catalogServiceMock(),
    logger: mockServices.rootLogger({ level: 'none' }),
    maxUploadBytes: 1024 * 1024,
    gcGracePeriodMs: 3_600_000,
  });
  const app = express().use('/api/model-hub', router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise(r => server.once('listening', r));
  const baseUrl = `http://127.0.0.1:${
    (server.address() as AddressInfo).port
  }/api/model-hub`;
  const results = [];
  for (const path of SCENARIOS) {
    results.push(await measure(baseUrl, path));
  }
  const first = await (await fetch(`${baseUrl}/models`)).json();
  server.close();
  return {
    results,
    totalCount: first.totalCount as number,
    load: { before: load, after: loadavg()[0] },
  };
}

async function main() {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const runs = [];

  const sqlite = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(TMP, 'bench.sqlite') },
    useNullAsDefault: true,
  });
  runs.push(await runOn('SQLite (better-sqlite3, file)', sqlite));
  await sqlite.destroy();

  if (process.env.BENCH_SKIP_PG !== '1') {
    const admin = Knex({ client: 'pg', connection: `${PG_URL}/postgres` });
    await admin.raw('DROP DATABASE IF EXISTS model_hub_bench');
    await admin.raw('CREATE DATABASE model_hub_bench');
    const pg = Knex({ client: 'pg', connection: `${PG_URL}/model_hub_bench` });
    const version = await pg.raw('show server_version');
    runs.push(await runOn(`PostgreSQL ${version.rows[0].server_version}`, pg));
    await pg.destroy();
    await admin.raw('DROP DATABASE IF EXISTS model_hub_bench');
    await admin.destroy();
  }

  const fmt = (n: number) => n.toFixed(1);
  const lines = [
    '# Models list benchmark',
    '',
    `Generated by \`bench/models-list/run.ts\` on ${new Date()
      .toISOString()
      .slice(0, 10)}: ${MODELS.toLocaleString(
      'en-US',
    )} models (1-3 versions and 1-2 tags each) seeded,`,
    `then ${REQUESTS} sequential HTTP requests per scenario (after ${WARMUP} warm-up requests) to the real router`,
    `(\`createRouter\` on express, mock auth; an allow-all policy and a restrictive conditional one), client and server in one Node ${process.version} process`,
    `on ${cpus().length} CPU cores (${
      cpus()[0]?.model ?? 'unknown'
    }). Page size 20 (the default). Times are end-to-end`,
    'latency in milliseconds (request, query of page and total count, JSON, response).',
    '',
    'Target: first page p95 ≤ 100 ms on SQLite and on PostgreSQL, also with a restrictive conditional',
    "policy (issue 14, acceptance 4): `model-hub.model.read` only on the models the caller's group owns",
    '(`IS_ENTITY_OWNER`, 1 in 5 of the seeded models), applied in the query (`owner IN (…)`).',
    '',
    'The machine is shared: the 1-minute load average at the start and end of each measurement is given',
    'with it (the machine has the core count above; a load above it means other work competed).',
    '',
  ];
  for (const run of runs) {
    lines.push(
      `## ${run.label}`,
      '',
      `Seeded ${run.models} models in ${(run.seedMs / 1000).toFixed(1)} s.`,
      '',
    );
    for (const p of run.policies) {
      lines.push(
        `### Policy: ${p.policy}`,
        '',
        `The caller sees ${
          p.totalCount
        } models; load average ${p.load.before.toFixed(
          1,
        )} → ${p.load.after.toFixed(1)}.`,
        '',
        '| request | p50 | p95 | p99 | max | body bytes |',
        '|---|---|---|---|---|---|',
      );
      for (const r of p.results) {
        lines.push(
          `| \`GET ${r.path}\` | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(
            r.p99,
          )} | ${fmt(r.max)} | ${r.bytes} |`,
        );
      }
      const first = p.results[0];
      lines.push(
        '',
        `First page p95: **${fmt(first.p95)} ms** (${
          first.p95 <= 100 ? 'meets' : 'misses'
        } the 100 ms target).`,
        '',
      );
    }
  }
  writeFileSync(join(__dirname, 'results.md'), `${lines.join('\n')}\n`);
  rmSync(TMP, { recursive: true, force: true });
  console.log(`Wrote ${join(__dirname, 'results.md')}`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
