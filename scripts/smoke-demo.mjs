// Smoke test of the demo portal, as a user would meet it: starts the real
// backend with the plain demo config (app-config.yaml: example users'
// sign-in, bundled mock Hugging Face Hub, demo data; no overlay but a fresh
// data folder), signs in as example users and checks the catalog API, the
// mock Hub and the seeded demo data. With --frontend it also starts the
// frontend dev server and checks that it answers on :3000; with --e2e it
// then runs the Playwright tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEnv, root, yarnPath } from './env.mjs';

const BACKEND = 'http://localhost:7007';
const withE2e = process.argv.includes('--e2e');
const withFrontend = withE2e || process.argv.includes('--frontend');
const results = [];
const check = (name, ok, detail = '') => {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
};
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(1000);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}: ${last}`,
  );
}

// A fresh data folder (SQLite files, artifact store), so the smoke test
// never touches the demo's own data and always meets a first start.
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'model-hub-smoke-'));
const overlay = path.join(dataDir, 'app-config.smoke.yaml');
writeFileSync(
  overlay,
  `backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: ${JSON.stringify(
    path.join(dataDir, 'sqlite'),
  )}\nmodelHub:\n  storage:\n    local:\n      path: ${JSON.stringify(
    path.join(dataDir, 'store'),
  )}\n`,
);

const children = [];
function start(workspace, configs) {
  const args = [yarnPath(), 'workspace', workspace, 'start'];
  for (const c of configs) args.push('--config', c);
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: buildEnv({ NODE_ENV: 'development' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const log = [];
  child.stdout.on('data', d => log.push(d.toString()));
  child.stderr.on('data', d => log.push(d.toString()));
  children.push({ child, log, workspace });
  return child;
}
function stopAll() {
  for (const { child } of children) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
process.on('exit', stopAll);

const configs = [
  path.join(root, 'app-config.yaml'),
  ...(process.env.MODEL_HUB_SMOKE_CONFIG
    ? [process.env.MODEL_HUB_SMOKE_CONFIG]
    : []),
  overlay,
];

try {
  start('backend', configs);
  if (withFrontend) start('app', configs);

  await waitFor(
    'the backend to be ready',
    async () => (await fetch(`${BACKEND}/.backstage/health/v1/readiness`)).ok,
    240_000,
  );
  check('backend answers on :7007', true);

  const token = async user => {
    const res = await fetch(`${BACKEND}/api/auth/dev-header/refresh`, {
      headers: { 'x-model-hub-dev-user': user },
    });
    if (!res.ok)
      throw new Error(`sign-in as ${user}: ${res.status} ${await res.text()}`);
    return (await res.json()).backstageIdentity.token;
  };
  // The catalog ingests the example org shortly after start-up.
  const alice = await waitFor(
    'alice in the catalog',
    () => token('alice'),
    240_000,
  );
  check(
    'alice signs in through the development header provider',
    Boolean(alice),
  );

  const proxied = await fetch(`${BACKEND}/api/auth/dev-header/refresh`, {
    headers: {
      'x-model-hub-dev-user': 'alice',
      'x-forwarded-for': '203.0.113.7',
    },
  });
  check(
    'the development sign-in refuses a request relayed by a proxy',
    proxied.status === 403,
    `${proxied.status}`,
  );

  const mockHub = await fetch(
    `${BACKEND}/api/mock-hf/api/models/acme/tiny-llm/refs`,
  );
  const refs = mockHub.ok ? await mockHub.json() : {};
  check(
    'the bundled mock Hugging Face Hub answers at /api/mock-hf, tiny-llm with several revisions',
    (refs.branches ?? []).length >= 2 && (refs.tags ?? []).length >= 1,
    `${mockHub.status} ${(refs.branches ?? []).map(b => b.name).join(',')}`,
  );
  const gated = await fetch(
    `${BACKEND}/api/mock-hf/gated-org/gated-llm/resolve/main/model.safetensors`,
    { method: 'HEAD' },
  );
  check(
    'the mock Hub keeps its gated repo closed to anonymous callers',
    gated.status === 401 || gated.status === 403,
    `${gated.status}`,
  );

  const anonymous = await fetch(
    `${BACKEND}/api/catalog/entities?filter=kind=model`,
  );
  check(
    'the catalog refuses an anonymous request',
    anonymous.status === 401,
    `${anonymous.status}`,
  );

  const models = await waitFor(
    'the example models in the catalog',
    async () => {
      const res = await fetch(
        `${BACKEND}/api/catalog/entities?filter=kind=model`,
        {
          headers: { authorization: `Bearer ${alice}` },
        },
      );
      const body = await res.json();
      return res.ok && body.length >= 10 ? body : false;
    },
    240_000,
  );
  check(
    'GET /api/catalog/entities?filter=kind=model lists the example models',
    models.length >= 10 &&
      models.every(m => m.apiVersion === 'model-hub.dev/v1alpha1'),
    `${models.length} models`,
  );

  const carol = await token('carol');
  const carolSees = await fetch(
    `${BACKEND}/api/catalog/entities?filter=kind=model`,
    {
      headers: { authorization: `Bearer ${carol}` },
    },
  );
  check(
    'carol (no group) reads the models too',
    carolSees.ok && (await carolSees.json()).length === models.length,
  );

  const fineTune = models.find(
    m => m.metadata.name === 'support-assistant-llama3',
  );
  const relations = (fineTune?.relations ?? []).map(
    r => `${r.type} ${r.targetRef}`,
  );
  check(
    'the fine-tune has its relations',
    [
      'ownedBy group:default/ml-engineers',
      'partOf system:default/assistant-platform',
      'derivedFrom model:default/llama-3-8b-instruct',
      'dependsOn resource:default/support-tickets-2025',
    ].every(r => relations.includes(r)),
    relations.join(', '),
  );

  const validate = entity =>
    fetch(`${BACKEND}/api/catalog/validate-entity`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        entity,
        location: 'url:http://example.com/catalog-info.yaml',
      }),
    });
  const model = spec => ({
    apiVersion: 'model-hub.dev/v1alpha1',
    kind: 'Model',
    metadata: { name: 'smoke-model' },
    spec: {
      type: 'llm',
      lifecycle: 'experimental',
      owner: 'group:default/ml-engineers',
      ...spec,
    },
  });
  const valid = await validate(model({}));
  check(
    'validate-entity accepts a valid Model',
    valid.status === 200,
    `${valid.status}`,
  );
  for (const [name, spec, field] of [
    ['missing owner', { owner: undefined }, 'spec.owner'],
    ['unknown type', { type: 'quantum' }, 'spec.type'],
    [
      'malformed baseModels ref',
      { baseModels: ['model:'] },
      'spec.baseModels[0]',
    ],
  ]) {
    const res = await validate(model(spec));
    const text = await res.text();
    check(
      `validate-entity rejects a Model with ${name}, naming ${field}`,
      res.status === 400 && text.includes(field),
      `${res.status}`,
    );
  }

  // The demo data, seeded on the first start through the hub's REST API.
  {
    const hubGet = async p => {
      const res = await fetch(`${BACKEND}/api/model-hub${p}`, {
        headers: { authorization: `Bearer ${carol}` },
      });
      return res.ok ? res.json() : undefined;
    };
    const expected = {
      'llama-3-8b-instruct': { 'v1.0': 'approved', 'v0.9': 'deprecated' },
      'llama-3-8b-instruct-q4-gguf': { 'q4_k_m-v1': 'approved' },
      'all-minilm-l6-v2': { v1: 'approved' },
      'mistral-7b-instruct-v0-3': { 'v0.3': 'in_review' },
      'support-assistant-llama3': { 2025.06: 'changes_requested' },
      'churn-predictor': { 'v2-draft': 'draft' },
    };
    const states = await waitFor(
      'the seeded demo data',
      async () => {
        const found = {};
        for (const [model, versions] of Object.entries(expected)) {
          const detail = await hubGet(`/models/default/${model}`);
          for (const label of Object.keys(versions)) {
            const v = (detail?.versions ?? []).find(x => x.label === label);
            if (!v || v.state !== versions[label]) return false;
            found[`${model}@${label}`] = v.state;
          }
        }
        return found;
      },
      180_000,
    );
    check(
      'the demo data is seeded: approved, deprecated, in review, changes requested, draft',
      Object.keys(states).length === 7,
      Object.entries(states)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    );
    const active = await hubGet('/models/default/llama-3-8b-instruct/active');
    check(
      'a seeded version is active',
      active?.active?.label === 'v1.0',
      JSON.stringify(active?.active?.label),
    );
    const review = await hubGet(
      '/models/default/churn-predictor/versions/v2-draft/review',
    );
    const safety = (review?.checks?.items ?? []).find(
      c => c.name === 'model-hub.safety',
    );
    check(
      "the seeded draft's safety check failed",
      safety?.status === 'failed',
      `${safety?.status}`,
    );
    // the repo is registered last, after the versions reached their states
    let jobs;
    try {
      jobs = await waitFor(
        'the sync job of the seeded mock Hub repo',
        async () => {
          const page = await hubGet('/jobs?limit=10');
          return (page?.items ?? []).some(j => j.type === 'huggingface-sync')
            ? page
            : false;
        },
        60_000,
      );
    } catch {
      jobs = await hubGet('/jobs?limit=10');
    }
    check(
      'the seed registered a mock Hub repo: the jobs list holds its sync',
      (jobs?.items ?? []).some(j => j.type === 'huggingface-sync'),
      `${jobs?.totalCount} jobs`,
    );
  }

  // -------------------------------------------------------------------------
  // Model Hub scaffolder (issue #9, acceptance 3): dry-runs of the templates
  // register-model and deploy-model-gpu through POST /api/scaffolder/v2/dry-run
  // return the rendered catalog-info.yaml and Kubernetes manifests. Parts that
  // need the Model Hub backend or an approved version print "skip" and why.
  // -------------------------------------------------------------------------
  {
    const { readFileSync } = await import('node:fs');
    const { parse: parseYaml } = await import('yaml');
    const skip = (name, why) => console.log(`skip ${name} (${why})`);
    const templateOf = name =>
      parseYaml(
        readFileSync(
          path.join(root, 'examples/templates', name, 'template.yaml'),
          'utf8',
        ),
      );
    const dryRun = async (template, values) => {
      const res = await fetch(`${BACKEND}/api/scaffolder/v2/dry-run`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${alice}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ template, values, directoryContents: [] }),
      });
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = { text };
      }
      return { status: res.status, body };
    };
    const file = (body, p) => {
      const f = (body.directoryContents ?? []).find(d => d.path === p);
      return f ? Buffer.from(f.base64Content, 'base64').toString('utf8') : '';
    };
    const logText = body =>
      (body.log ?? []).map(l => l.body?.message ?? '').join('\n');

    const register = await dryRun(templateOf('register-model'), {
      name: 'smoke-registered-model',
      type: 'llm',
      owner: 'group:default/ml-engineers',
      system: 'system:default/assistant-platform',
      huggingFaceRepo: 'meta-llama/Meta-Llama-3-8B-Instruct',
      huggingFaceRevision: 'main',
      versionLabel: 'v1',
    });
    if (register.status === 403) {
      check(
        'alice may dry-run templates (needs scaffolder.task.create and scaffolder.template.dry-run)',
        false,
        JSON.stringify(register.body.error ?? register.body).slice(0, 300),
      );
    } else {
      const catalogInfo = file(register.body, 'catalog-info.yaml');
      check(
        'dry-run of register-model renders the Model catalog-info.yaml',
        register.status === 200 &&
          catalogInfo.includes('kind: Model') &&
          catalogInfo.includes('owner: group:default/ml-engineers') &&
          catalogInfo.includes('system: system:default/assistant-platform'),
        register.status === 200
          ? `${(register.body.directoryContents ?? []).length} file(s)`
          : `${register.status} ${JSON.stringify(register.body).slice(0, 300)}`,
      );
    }

    const hub = await fetch(
      `${BACKEND}/api/model-hub/models?state=approved&limit=100`,
      { headers: { authorization: `Bearer ${alice}` } },
    );
    let approved;
    if (!hub.ok) {
      skip(
        'dry-run of deploy-model-gpu',
        `GET /api/model-hub/models answered ${hub.status}: the Model Hub backend is not wired into the demo backend`,
      );
    } else {
      for (const m of (await hub.json()).items ?? []) {
        const detail = await fetch(
          `${BACKEND}/api/model-hub/models/${m.namespace}/${m.name}`,
          { headers: { authorization: `Bearer ${alice}` } },
        );
        const v = detail.ok
          ? ((await detail.json()).versions ?? []).find(
              x =>
                x.state === 'approved' &&
                (x.resolvedCommit || x.manifestDigest),
            )
          : undefined;
        if (v) {
          approved = { modelRef: m.entityRef, version: v.label };
          break;
        }
      }
      if (!approved) {
        // Set one up: alice (ml-engineers) adds a pinned version with a
        // config.json to a catalog Model her group owns, bob (ml-reviewers)
        // approves it.
        const label = `smoke-${Date.now()}`;
        const M = '/api/model-hub/models/default/llama-3-8b-instruct';
        const bob = await token('bob');
        const configJson = JSON.stringify({
          num_hidden_layers: 32,
          num_attention_heads: 32,
          num_key_value_heads: 8,
          hidden_size: 4096,
          torch_dtype: 'bfloat16',
        });
        // a valid two-parameter safetensors file, so the version has weights
        const header = Buffer.from(
          JSON.stringify({
            w: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] },
          }).padEnd(64, ' '),
        );
        const weights = Buffer.concat([
          Buffer.from([header.length, 0, 0, 0, 0, 0, 0, 0]),
          header,
          Buffer.alloc(4),
        ]);
        const setup = [
          [
            alice,
            'POST',
            `${M}/versions`,
            { label, resolvedCommit: 'a'.repeat(40) },
          ],
          [
            alice,
            'PUT',
            `${M}/versions/${label}/files/config.json`,
            configJson,
          ],
          [
            alice,
            'PUT',
            `${M}/versions/${label}/files/model.safetensors`,
            weights,
          ],
          [
            alice,
            'POST',
            `${M}/versions/${label}/transitions`,
            { action: 'submit' },
          ],
          [
            bob,
            'POST',
            `${M}/versions/${label}/transitions`,
            { action: 'approve' },
          ],
        ];
        let failed;
        for (const [who, method, p, body] of setup) {
          const raw = typeof body === 'string' || Buffer.isBuffer(body);
          const res = await fetch(`${BACKEND}${p}`, {
            method,
            headers: {
              authorization: `Bearer ${who}`,
              'content-type': raw
                ? 'application/octet-stream'
                : 'application/json',
            },
            body: raw ? body : JSON.stringify(body),
          });
          if (!res.ok) {
            failed = `${method} ${p} answered ${res.status}: ${(
              await res.text()
            ).slice(0, 200)}`;
            break;
          }
        }
        if (failed) {
          skip(
            'dry-run of deploy-model-gpu',
            `no approved version in the demo hub and setting one up failed: ${failed}`,
          );
        } else {
          approved = {
            modelRef: 'model:default/llama-3-8b-instruct',
            version: label,
          };
        }
      }
    }
    if (approved) {
      const deploy = await dryRun(templateOf('deploy-model-gpu'), {
        model: approved,
        runtime: 'vllm',
        gpuProfile: 'auto',
        replicas: 1,
        namespace: 'ml-serving',
        maxContextLength: 4096,
        maxBatchSize: 1,
        componentName: 'smoke-serving',
        owner: 'group:default/ml-engineers',
        deliver: 'publish',
      });
      const manifests = file(deploy.body, 'manifests/smoke-serving.yaml');
      const estimateFailed = /No GPU profile fits the estimate/.test(
        logText(deploy.body),
      );
      check(
        `dry-run of deploy-model-gpu renders the manifests of ${approved.modelRef}@${approved.version}`,
        deploy.status === 200 &&
          manifests.includes('kind: Deployment') &&
          manifests.includes('nvidia.com/gpu') &&
          manifests.includes('HF_ENDPOINT') &&
          file(deploy.body, 'catalog-info.yaml').includes(approved.modelRef),
        deploy.status === 200
          ? estimateFailed
            ? 'no GPU profile fits the estimate'
            : `${manifests.length} bytes of manifests`
          : `${deploy.status} ${JSON.stringify(deploy.body).slice(0, 300)}`,
      );
    }
  }

  if (withFrontend) {
    const html = await waitFor(
      'the frontend on :3000',
      async () => {
        const res = await fetch('http://localhost:3000/');
        return res.ok ? res.text() : false;
      },
      600_000,
    );
    check('frontend answers on :3000', html.includes('<div id="root">'));
  }

  if (withE2e) {
    // The browser tests (Playwright in Debian's Chromium) against this portal.
    const code = await new Promise(resolve => {
      const child = spawn(
        process.execPath,
        [yarnPath(), 'playwright', 'test'],
        {
          cwd: root,
          env: buildEnv({ PLAYWRIGHT_URL: 'http://localhost:3000' }),
          stdio: 'inherit',
        },
      );
      child.on('exit', c => resolve(c ?? 1));
    });
    check(
      'the Playwright end-to-end tests pass in Chromium',
      code === 0,
      `exit ${code}`,
    );
  }
} catch (e) {
  check(String(e.message ?? e), false);
  for (const { workspace, log } of children) {
    console.log(
      `--- last output of ${workspace}:\n${log.join('').slice(-4000)}`,
    );
  }
} finally {
  stopAll();
  await sleep(1000);
  rmSync(dataDir, { recursive: true, force: true });
}

const failed = results.filter(r => !r).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
