import { APIRequestContext, expect, Page, test } from '@playwright/test';
import path from 'node:path';

/*
 * Issue 19, acceptance 2: upstream drift becomes a review, in the browser.
 *
 * A repo of the bundled mock Hugging Face Hub (created for this run through
 * the mock's test-only route) is registered by alice; its first version is
 * approved and active. Then a new commit is pushed to the repo (test-only
 * route again). Within one interval of the scheduled sync (app-config.yaml:
 * modelHub.huggingface.schedule, 30 s in the demo) a draft version pinned
 * to that commit is created, its files downloaded and inspected, and
 * (onDrift: review, the default) submitted for review:
 *
 * 1. it is in bob's review queue, with its diff against the active version;
 *    the model page shows the drift banner;
 * 2. bob approves it; the model page shows it approved;
 * 3. alice promotes it to active (the dialog shows the diff against the
 *    active version); the model page shows it active;
 * 4. alice rolls back; the model page shows the first version active again.
 *
 * MODEL_HUB_SCREENSHOTS=1 also writes docs/screenshots/drift-*.png.
 */

const ROOT = path.resolve(__dirname, '../../..');
const SHOTS = process.env.MODEL_HUB_SCREENSHOTS
  ? path.join(ROOT, 'docs/screenshots')
  : undefined;
const BACKEND = process.env.PLAYWRIGHT_BACKEND_URL ?? 'http://localhost:7007';
const API = `${BACKEND}/api/model-hub`;
/** The mock Hub's all-access token (FIXTURE_TOKENS.admin). */
const MOCK_ADMIN = 'hf_mock_admin_token';
/** modelHub.huggingface.schedule.frequency of app-config.yaml. */
const SYNC_INTERVAL_MS = 30_000;
/** What the drift takes after the check: its sync job, download, inspection. */
const PROCESSING_SLACK_MS = 30_000;

const RUN = Date.now().toString(36);
const REPO = `e2e/drift-${RUN}`;
const NAME = `e2e--drift-${RUN}`;
const REF = `model:default/${NAME}`;
const MODEL_PAGE = `/catalog/default/model/${NAME}/versions`;

async function shot(page: Page, name: string) {
  if (SHOTS) {
    await page.screenshot({
      path: path.join(SHOTS, `${name}.png`),
      fullPage: true,
    });
  }
}

async function signInAs(page: Page, user: string, to: string) {
  const sidebar = page.getByRole('link', { name: 'Model Hub' }).first();
  for (let attempt = 1; ; attempt++) {
    await page.goto(`/?as=${user}`);
    try {
      await expect(sidebar).toBeVisible({ timeout: 60_000 });
      break;
    } catch (error) {
      if (attempt === 3) {
        throw error;
      }
    }
  }
  await page.goto(to);
}

/** The model page; the catalog takes a few seconds to hold a new model. */
async function openModelPage(page: Page) {
  const versions = page.getByTestId('active-version');
  for (let attempt = 1; ; attempt++) {
    await page.goto(MODEL_PAGE);
    try {
      await expect(versions).toBeVisible({ timeout: 20_000 });
      return;
    } catch (error) {
      if (attempt === 6) {
        throw error;
      }
    }
  }
}

async function tokenOf(request: APIRequestContext, user: string) {
  const res = await request.get(`${BACKEND}/api/auth/dev-header/refresh`, {
    headers: { 'x-model-hub-dev-user': user },
  });
  expect(res.ok()).toBe(true);
  return (await res.json()).backstageIdentity.token as string;
}

/** A valid safetensors file (JSON for the mock's test route). */
const weights = (rows: number) => ({
  path: 'model.safetensors',
  safetensors: {
    tensors: { 'layer.weight': { dtype: 'F32', shape: [rows, 8] } },
    seed: `w${rows}`,
  },
});

async function pushCommit(request: APIRequestContext, body: object) {
  const res = await request.post(
    `${BACKEND}/api/mock-hf/_test/repos/${REPO}/commits`,
    { headers: { authorization: `Bearer ${MOCK_ADMIN}` }, data: body },
  );
  expect(res.status(), await res.text()).toBe(201);
  return (await res.json()) as { commit: string };
}

test.describe.serial('upstream drift as a review', () => {
  test.describe.configure({ timeout: 300_000 });
  let first = '';
  let drifted = '';
  let commit = '';

  test('setup: a mock Hub repo, registered, its first version approved and active', async ({
    request,
  }) => {
    const alice = await tokenOf(request, 'alice');
    const bob = await tokenOf(request, 'bob');
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const created = await pushCommit(request, {
      create: true,
      title: 'Initial commit',
      cardData: { license: 'apache-2.0', pipeline_tag: 'text-generation' },
      config: { model_type: 'llama', architectures: ['LlamaForCausalLM'] },
      files: [weights(16)],
    });
    first = `hf-${created.commit.slice(0, 12)}`;

    const registered = await request.post(`${API}/huggingface/repos`, {
      headers: as(alice),
      data: { repoId: REPO, owner: 'group:default/ml-engineers' },
    });
    expect(registered.status(), await registered.text()).toBe(202);

    // the sync job, the download and the inspection of the first version
    const url = `${API}/models/default/${NAME}/versions/${first}/review`;
    await expect
      .poll(
        async () => {
          const res = await request.get(url, { headers: as(alice) });
          if (!res.ok()) {
            return `HTTP ${res.status()}`;
          }
          const review = await res.json();
          const blocking = review.checks?.blocking ?? [];
          return blocking.length
            ? blocking.map((b: any) => `${b.name}:${b.status}`).join(',')
            : 'ready';
        },
        { timeout: 120_000, intervals: [1000] },
      )
      .toBe('ready');

    const transition = async (token: string, action: string) => {
      const res = await request.post(
        `${API}/models/default/${NAME}/versions/${first}/transitions`,
        { headers: as(token), data: { action } },
      );
      expect(res.status(), await res.text()).toBe(200);
    };
    await transition(alice, 'submit');
    await transition(bob, 'approve');
    const promoted = await request.post(
      `${API}/models/default/${NAME}/active`,
      {
        headers: as(alice),
        data: { label: first, expectedActive: null },
      },
    );
    expect(promoted.status(), await promoted.text()).toBe(200);
  });

  test('a new upstream commit is in the review queue within one sync interval, with its diff', async ({
    page,
    request,
  }) => {
    const bob = await tokenOf(request, 'bob');
    const pushedAt = Date.now();
    ({ commit } = await pushCommit(request, {
      title: 'Retrain: wider layer, tokenizer notes',
      files: [
        weights(32),
        { path: 'NOTES.md', text: 'Retrained on more data.\n' },
      ],
    }));
    drifted = `hf-${commit.slice(0, 12)}`;

    // the review queue holds the drift version, submitted by the sync
    await expect
      .poll(
        async () => {
          const res = await request.get(
            `${API}/reviews?model=${encodeURIComponent(REF)}`,
            { headers: { authorization: `Bearer ${bob}` } },
          );
          const body = await res.json();
          return (body.items ?? []).map((i: any) => i.label);
        },
        {
          timeout: SYNC_INTERVAL_MS + PROCESSING_SLACK_MS,
          intervals: [1000],
        },
      )
      .toContain(drifted);
    const elapsed = Date.now() - pushedAt;
    const latency = `${elapsed} ms from the push to the review queue (sync interval ${SYNC_INTERVAL_MS} ms)`;
    test
      .info()
      .annotations.push({ type: 'drift-latency', description: latency });
    // eslint-disable-next-line no-console
    console.log(`drift review: ${latency}`);
    expect(elapsed).toBeLessThan(SYNC_INTERVAL_MS + PROCESSING_SLACK_MS);

    // in the browser: bob's queue, the version's review with its diff
    await signInAs(page, 'bob', '/model-hub/approvals');
    const queue = page.getByRole('table', { name: 'Review queue' });
    await queue.getByRole('row', { name: new RegExp(drifted) }).click();
    await expect(page.getByText(`Review ${NAME} ${drifted}`)).toBeVisible();
    const diff = page.getByTestId('version-diff').first();
    await expect(diff).toContainText(first);
    await expect(diff).toContainText('NOTES.md');
    await expect(diff).toContainText('model.safetensors');
    await shot(page, 'drift-review-queue');

    // the model page: the drift banner names the version in review
    await signInAs(page, 'alice', MODEL_PAGE);
    await openModelPage(page);
    const banner = page.getByTestId('drift-banner');
    await expect(banner).toContainText(drifted);
    await expect(banner).toContainText(commit.slice(0, 12));
    await expect(banner).toContainText(/in review/i);
    await expect(page.locator(`tr[data-version="${drifted}"]`)).toContainText(
      /in review/i,
    );
    await shot(page, 'drift-banner');
  });

  test('bob approves the drift version', async ({ page }) => {
    await signInAs(page, 'bob', '/model-hub/approvals');
    const queue = page.getByRole('table', { name: 'Review queue' });
    await queue.getByRole('row', { name: new RegExp(drifted) }).click();
    await expect(page.getByText(`Review ${NAME} ${drifted}`)).toBeVisible();
    await page.getByTestId('version-action-approve').first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByText(/is now approved/)).toBeVisible();

    // visible on the model page
    await openModelPage(page);
    await expect(page.locator(`tr[data-version="${drifted}"]`)).toContainText(
      'Approved',
    );
    await expect(page.getByTestId('active-version')).toContainText(first);
  });

  test('alice promotes it to active, with the diff against the active version', async ({
    page,
  }) => {
    await signInAs(page, 'alice', MODEL_PAGE);
    await openModelPage(page);
    await page.locator(`tr[data-version="${drifted}"]`).click();
    await expect(page.getByText(`Version ${drifted}`).first()).toBeVisible();
    await page.getByTestId('version-action-promote').click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.getByTestId('version-diff')).toContainText(
      `Compared with version ${first}`,
    );
    await expect(dialog.getByTestId('version-diff')).toContainText('NOTES.md');
    await shot(page, 'drift-promote');
    await dialog.getByTestId('version-action-promote-confirm').click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId('active-version')).toContainText(drifted);
    await expect(page.getByTestId('active-version')).toContainText('alice');
  });

  test('alice rolls back to the first version', async ({ page }) => {
    await signInAs(page, 'alice', MODEL_PAGE);
    await openModelPage(page);
    await expect(page.getByTestId('active-version')).toContainText(drifted);
    await page.locator(`tr[data-version="${drifted}"]`).click();
    await page.getByTestId('version-action-rollback').click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.getByTestId('version-diff')).toBeVisible();
    await dialog.getByTestId('version-action-rollback-confirm').click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId('active-version')).toContainText(first);
    // after a reload too: the model page reads it from the backend
    await openModelPage(page);
    await expect(page.getByTestId('active-version')).toContainText(first);
    await shot(page, 'drift-rollback');
  });
});
