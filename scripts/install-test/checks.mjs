// The checks of the install test against a booted stock app: HTTP and Chromium.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import YAML from 'yaml';
import { root } from '../env.mjs';

const require = createRequire(path.join(root, 'package.json'));

const ACTIONS = ['model-hub:model:register', 'model-hub:gpu:provision'];

async function waitFor(what, fn, timeoutMs = 120_000, everyMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${timeoutMs / 1000} s${
          last ? ` (${last.message})` : ''
        }`,
      );
    }
    await new Promise(r => setTimeout(r, everyMs));
  }
}

async function guestToken(base) {
  const res = await fetch(`${base}/api/auth/guest/refresh`, {
    headers: { 'x-requested-with': 'XMLHttpRequest' },
  });
  if (!res.ok) {
    throw new Error(`guest sign-in: ${res.status} ${await res.text()}`);
  }
  const body = await res.json();
  return body.backstageIdentity.token;
}

/** Runs the checks; resolves with their descriptions, rejects on the first failure. */
export async function checkApp({
  system,
  base,
  appDir,
  work,
  chromium,
  exampleModel,
  env,
  log,
}) {
  const passed = [];
  const ok = what => {
    passed.push(what);
    log(`ok: ${what}`);
  };
  const token = await guestToken(base);
  const api = async (method, url, body) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };

  // a Model from examples/ validates; a broken one is refused by the module
  const entity = YAML.parse(readFileSync(exampleModel, 'utf8'));
  const location = 'url:https://example.com/models/catalog-info.yaml';
  const valid = await api('POST', '/api/catalog/validate-entity', {
    entity,
    location,
  });
  if (valid.status !== 200) {
    throw new Error(
      `validate-entity of ${path.basename(exampleModel)}: ${valid.status} ${
        valid.text
      }`,
    );
  }
  const broken = structuredClone(entity);
  delete broken.spec.type;
  broken.spec.lifecycle = 42;
  const refused = await api('POST', '/api/catalog/validate-entity', {
    entity: broken,
    location,
  });
  if (refused.status !== 400) {
    throw new Error(
      `validate-entity of a broken Model answered ${refused.status}, not 400: ${refused.text}`,
    );
  }
  ok(
    `POST /api/catalog/validate-entity: ${path.basename(
      exampleModel,
    )} valid (200), a broken Model refused (400)`,
  );

  const name = entity.metadata.name;
  const byName = `/api/catalog/entities/by-name/model/default/${name}`;
  const inCatalog = await waitFor(
    `model:default/${name} in the catalog`,
    async () => {
      const res = await api('GET', byName);
      return res.status === 200 ? res.json : undefined;
    },
  );
  ok(
    `catalog holds model:default/${name} (kind ${inCatalog.kind}, ${
      (inCatalog.relations ?? []).length
    } relations)`,
  );

  const models = await waitFor(
    `/api/model-hub/models lists ${name}`,
    async () => {
      const res = await api('GET', '/api/model-hub/models');
      if (res.status !== 200) {
        throw new Error(`${res.status} ${res.text.slice(0, 300)}`);
      }
      return res.text.includes(name) ? res : undefined;
    },
    90_000,
  );
  ok(
    `GET /api/model-hub/models: 200, lists the catalog Model ${name} (${models.text.length} bytes)`,
  );

  const actions = await api('GET', '/api/scaffolder/v2/actions');
  const ids = Array.isArray(actions.json) ? actions.json.map(a => a.id) : [];
  const missing = ACTIONS.filter(a => !ids.includes(a));
  if (actions.status !== 200 || missing.length) {
    throw new Error(
      `GET /api/scaffolder/v2/actions: ${
        actions.status
      }, missing ${missing.join(', ')}`,
    );
  }
  ok(`GET /api/scaffolder/v2/actions lists ${ACTIONS.join(' and ')}`);

  // the mock Hub's bin from its tarball (built dist/, no sources)
  const mock = spawn(
    'yarn',
    ['--cwd', 'packages/backend', 'mock-hf-server', '--port', '0'],
    {
      cwd: appDir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  mock.stdout.on('data', chunk => {
    out += chunk.toString();
  });
  mock.stderr.on('data', chunk => {
    out += chunk.toString();
  });
  try {
    const url = await waitFor(
      'mock-hf-server prints MOCK_HF_URL',
      () => /MOCK_HF_URL=(\S+)/.exec(out)?.[1],
      60_000,
      300,
    );
    const res = await fetch(`${url}/api/models/acme/tiny-llm`);
    const info = await res.json();
    if (res.status !== 200 || info.id !== 'acme/tiny-llm') {
      throw new Error(`mock Hub: ${res.status} ${JSON.stringify(info)}`);
    }
    ok(
      `mock-hf-server bin from the tarball serves ${url}/api/models/acme/tiny-llm`,
    );
  } finally {
    try {
      process.kill(-mock.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  // Chromium: the Model Hub page and the Model entity tabs
  const { chromium: browserType } = require('playwright-core');
  const browser = await browserType.launch({
    executablePath: chromium,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
  const pageErrors = [];
  try {
    const page = await browser.newPage({
      viewport: { width: 1400, height: 1000 },
    });
    page.on('pageerror', e => pageErrors.push(e.message));
    const shot = n =>
      page.screenshot({ path: path.join(work, `${system}-${n}.png`) });
    const signIn = async () => {
      // the legacy app signs in as guest by itself; the new app may show a
      // sign-in page with a guest "Enter" button
      const enter = page.getByRole('button', { name: /^enter$/i });
      if (await enter.isVisible().catch(() => false)) {
        await enter.click();
      }
    };
    try {
      await page.goto(`${base}/model-hub`);
      await page.waitForTimeout(1500);
      await signIn();
      await page
        .getByRole('heading', { name: 'Model Hub' })
        .first()
        .waitFor({ timeout: 60_000 });
      await page
        .getByRole('tab', { name: 'Models' })
        .first()
        .waitFor({ timeout: 30_000 });
      ok('Chromium: /model-hub renders the Model Hub page with its tabs');

      await page.goto(`${base}/catalog/default/model/${name}`);
      await signIn();
      await page
        .getByText('Model overview')
        .first()
        .waitFor({ timeout: 60_000 });
      await page
        .getByText('Model lineage')
        .first()
        .waitFor({ timeout: 30_000 });
      // a tab in the legacy EntityLayout, a link in the new system's page header
      const versionsTab = page
        .getByRole('tab', { name: 'Versions' })
        .or(page.getByRole('link', { name: 'Versions', exact: true }))
        .first();
      await versionsTab.waitFor({ timeout: 30_000 });
      ok(
        `Chromium: the ${name} entity page shows the Model overview and lineage cards and a Versions tab`,
      );
      await versionsTab.click();
      await page.waitForURL(/\/versions/, { timeout: 30_000 });
      await page
        .getByText(/No versions yet|Versions/)
        .first()
        .waitFor({ timeout: 60_000 });
      const errorPanel = await page
        .getByText(/Error: |Could not load/i)
        .first()
        .isVisible()
        .catch(() => false);
      if (errorPanel) {
        throw new Error('the Versions tab shows an error');
      }
      ok('Chromium: the Versions tab renders');
      await shot('versions');
    } catch (error) {
      await shot('failure').catch(() => undefined);
      throw new Error(
        `${error.message}${
          pageErrors.length ? `\npage errors: ${pageErrors.join(' | ')}` : ''
        }`,
      );
    }
  } finally {
    await browser.close();
  }
  return passed;
}
