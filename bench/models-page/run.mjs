// Benchmark: the Models page of Model Hub with 10,000 models, in Chromium.
//
// Needs the demo portal running with the development sign-in
// (app-config.yaml + app-config.e2e.yaml; see README.md). Seeds the models
// through the REST API as dana (admin) until the hub has BENCH_MODELS of
// them, then measures in Debian's Chromium, signed in as alice:
//
//   - load:  a full page load of /model-hub/models until the first row of
//            the first page is visible (the app bundle from the browser
//            cache, as on a second visit);
//   - tab:   inside the running app, a click on the Models tab until the
//            first row is visible;
//   - search: typing a search term until the table shows the match.
//
// Writes results.md next to this file.
/* eslint-disable no-console */
import { chromium } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BACKEND = process.env.BENCH_BACKEND ?? 'http://localhost:7007';
const FRONTEND = process.env.BENCH_FRONTEND ?? 'http://localhost:3000';
const MODELS = Number(process.env.BENCH_MODELS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const TARGET_MS = 1500;
const TYPES = ['llm', 'embedding', 'vision', 'audio', 'diffusion', 'tabular'];
const TAGS = ['nlp', 'chat', 'cv', 'speech', 'rag', 'finetuned'];
const OWNERS = ['ml-engineers', 'ml-reviewers'];

async function token(user) {
  const res = await fetch(`${BACKEND}/api/auth/dev-header/refresh`, {
    headers: { 'x-model-hub-dev-user': user },
  });
  if (!res.ok) {
    throw new Error(`sign-in as ${user}: ${res.status} ${await res.text()}`);
  }
  return (await res.json()).backstageIdentity.token;
}

async function count(auth) {
  const res = await fetch(`${BACKEND}/api/model-hub/models?limit=1`, {
    headers: { authorization: `Bearer ${auth}` },
  });
  if (!res.ok) {
    throw new Error(`GET /models: ${res.status} ${await res.text()}`);
  }
  return (await res.json()).totalCount;
}

/**
 * Seeds straight into the hub's SQLite database (BENCH_SQLITE), in batches:
 * 10,000 POSTs through the API take minutes, which measures nothing of the
 * page. Rows as the models-list benchmark seeds them.
 */
async function seedSqlite(file, have) {
  const { default: Knex } = await import('knex');
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
  });
  const start = Date.now();
  const base = Date.now() - MODELS * 60_000;
  try {
    for (let i = have; i < MODELS; i += 500) {
      const models = [];
      const tags = [];
      const versions = [];
      for (let n = i; n < Math.min(i + 500, MODELS); n++) {
        const id = randomUUID();
        const name = `bench-${String(n).padStart(5, '0')}-${TYPES[n % 6]}`;
        const at = new Date(base + n * 60_000);
        const tag = TAGS[n % 6];
        models.push({
          id,
          entity_ref: `model:default/${name}`,
          namespace: 'default',
          name,
          title: `Bench model ${n}`,
          description: `A ${
            TYPES[n % 6]
          } model number ${n} for the Models page benchmark`,
          type: TYPES[n % 6],
          lifecycle: 'experimental',
          owner: `group:default/${OWNERS[n % 2]}`,
          source_type: n % 3 === 0 ? 'huggingface' : 'upload',
          source: JSON.stringify(
            n % 3 === 0 ? { huggingface: { repo: `bench/${name}` } } : 'upload',
          ),
          tags: JSON.stringify([tag]),
          search_text: `${name} bench model ${n} a ${
            TYPES[n % 6]
          } model number ${n} ${tag}`,
          created_by: 'user:default/bench',
          created_at: at,
          updated_at: at,
        });
        tags.push({ model_id: id, tag });
        versions.push({
          id: randomUUID(),
          model_id: id,
          label: '1.0.0',
          state: n % 4 === 0 ? 'approved' : 'draft',
          source_type: 'upload',
          created_by: 'user:default/bench',
          created_at: at,
          updated_at: at,
          revision: 0,
        });
      }
      await knex.batchInsert('models', models, 100);
      await knex.batchInsert('model_tags', tags, 200);
      await knex.batchInsert('model_versions', versions, 100);
    }
  } finally {
    await knex.destroy();
  }
  return {
    seeded: Math.max(0, MODELS - have),
    ms: Date.now() - start,
    how: 'SQLite',
  };
}

async function seed() {
  const dana = await token('dana');
  const have = await count(dana);
  if (process.env.BENCH_SQLITE) {
    return seedSqlite(process.env.BENCH_SQLITE, have);
  }
  const start = Date.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (have + i >= MODELS) {
        return;
      }
      const n = have + i;
      const name = `bench-${String(n).padStart(5, '0')}-${TYPES[n % 6]}`;
      const res = await fetch(`${BACKEND}/api/model-hub/models`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${dana}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          name,
          title: `Bench model ${n}`,
          description: `A ${
            TYPES[n % 6]
          } model number ${n} for the Models page benchmark`,
          type: TYPES[n % 6],
          owner: `group:default/${OWNERS[n % 2]}`,
          tags: [TAGS[n % 6]],
          source:
            n % 3 === 0 ? { huggingface: { repo: `bench/${name}` } } : 'upload',
        }),
      });
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(
          `POST /models ${name}: ${res.status} ${await res.text()}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return {
    seeded: Math.max(0, MODELS - have),
    ms: Date.now() - start,
    how: 'the REST API',
  };
}

const stats = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const p = q => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { p50: p(0.5), p95: p(0.95), max: s[s.length - 1], runs: s.length };
};

/** Measures the three scenarios against one frontend. */
async function measure(browser, frontend) {
  const page = await (
    await browser.newContext({ viewport: { width: 1440, height: 900 } })
  ).newPage();
  globalThis.benchPage = page;
  const firstRow = page
    .locator('table tbody tr')
    .filter({ has: page.locator('a[href^="/catalog/"]') })
    .first();
  // the server time of the first page, from the browser's point of view
  const api = [];
  page.on('requestfinished', request => {
    if (/\/api\/model-hub\/models\?/.test(request.url())) {
      const t = request.timing();
      api.push(Math.round(t.responseEnd - t.requestStart));
    }
  });

  // sign in as alice and warm the browser cache with the app bundle
  await page.goto(`${frontend}/?as=alice`);
  await page
    .getByRole('link', { name: 'Model Hub' })
    .first()
    .waitFor({ timeout: 180_000 });
  await page.goto(`${frontend}/model-hub/models`);
  await firstRow.waitFor({ timeout: 120_000 });
  api.length = 0;

  const load = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = Date.now();
    await page.goto(`${frontend}/model-hub/models`);
    await firstRow.waitFor();
    load.push(Date.now() - t0);
  }
  console.log(frontend, 'load', load.join(' '));

  const tab = [];
  for (let i = 0; i < RUNS; i++) {
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByText('Versions by state').waitFor();
    const t0 = Date.now();
    await page.getByRole('tab', { name: 'Models' }).click();
    await firstRow.waitFor();
    tab.push(Date.now() - t0);
  }
  console.log(frontend, 'tab', tab.join(' '));

  const search = [];
  for (let i = 0; i < Math.min(RUNS, 10); i++) {
    await page.goto(`${frontend}/model-hub/models`);
    await firstRow.waitFor();
    const n = String(1000 + i * 731).padStart(5, '0');
    const t0 = Date.now();
    await page.getByPlaceholder('Filter').fill(`bench-${n}`);
    await page
      .locator(`a[href$="/bench-${n}-${TYPES[Number(n) % 6]}"]`)
      .waitFor();
    search.push(Date.now() - t0);
  }
  console.log(frontend, 'search', search.join(' '));
  await page.context().close();
  return { load, tab, search, api };
}

function rowsOf(label, m) {
  return [
    [`${label}: full page load, first page visible`, stats(m.load)],
    [`${label}: Models tab inside the app, first page visible`, stats(m.tab)],
    [
      `${label}: search (300 ms debounce included), match visible`,
      stats(m.search),
    ],
    [
      `${label}: \`GET /api/model-hub/models\` as the browser saw it`,
      stats(m.api),
    ],
  ];
}

async function main() {
  const seeded = await seed();
  const total = await count(await token('alice'));
  console.log(
    `models in the hub: ${total} (seeded ${seeded.seeded} in ${seeded.ms} ms)`,
  );

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const version = browser.version();
  const rows = [];
  const prod = process.env.BENCH_PROD_FRONTEND;
  if (prod) {
    rows.push(...rowsOf('production build', await measure(browser, prod)));
  }
  if (process.env.BENCH_SKIP_DEV !== '1') {
    rows.push(
      ...rowsOf('development server', await measure(browser, FRONTEND)),
    );
  }
  await browser.close();

  const table = rows
    .map(
      ([what, st]) =>
        `| ${what} | ${st.runs} | ${st.p50} | ${st.p95} | ${st.max} | ${(
          st.p95 / TARGET_MS
        ).toFixed(2)} |`,
    )
    .join('\n');
  const md = `# Results: Models page with ${total.toLocaleString(
    'en-US',
  )} models

Measured ${new Date()
    .toISOString()
    .slice(0, 10)} with \`node bench/models-page/run.mjs\` on ${
    os.cpus().length
  } CPU cores (${
    os.cpus()[0]?.model ?? 'unknown CPU'
  }, shared with other work), Node ${
    process.version
  }, Chromium ${version} (headless), against the demo portal (SQLite) signed in as alice.
${
  prod
    ? `"production build": \`yarn workspace app build\`, served by the backend's app plugin at ${prod}. `
    : ''
}"development server": \`yarn workspace app start\` (unminified development bundle) at ${FRONTEND}.
Models seeded this run: ${seeded.seeded} (${seeded.ms} ms, through ${
    seeded.how
  }).

Target (issue 8, acceptance 3): the first page visible within **${TARGET_MS} ms**.
The ratio is p95 / target (below 1 meets it).

| scenario | runs | p50 ms | p95 ms | max ms | p95 / target |
| --- | ---: | ---: | ---: | ---: | ---: |
${table}

The table asks the server for one page (\`GET /api/model-hub/models?offset=0&limit=20\`)
and the total count; nothing scales with the number of models in the browser.
A full page load includes loading the app bundle from the browser cache, starting
the app and refreshing the sign-in session before the page asks for its models.
`;
  writeFileSync(path.join(HERE, 'results.md'), md);
  console.log(md);
}

main().catch(e => {
  if (globalThis.benchPage) {
    globalThis.benchPage
      .screenshot({
        path: path.join(os.tmpdir(), 'models-page-bench-failure.png'),
      })
      .catch(() => {});
  }
  console.error(e);
  process.exit(1);
});
