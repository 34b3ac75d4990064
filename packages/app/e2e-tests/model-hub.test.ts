import { expect, Page, test } from '@playwright/test';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/*
 * The Model Hub workflow in the browser, from the plain demo config
 * (app-config.yaml: the bundled mock Hugging Face Hub at /api/mock-hf, the
 * example users' sign-in, `/?as=<user>`), acting as the example users:
 *
 * 1. alice imports acme/tiny-llm from the bundled mock Hugging Face Hub;
 * 2. alice uploads a weights file into a new draft version of the catalog
 *    Model llama-3-8b-instruct (her group owns it), watching its progress,
 *    and submits the version for review;
 * 3. bob (ml-reviewers) approves it from the approvals queue;
 * 4. the version shows as approved on the Model's catalog page;
 * 5. carol (no group) creates a personal hf_ token and downloads the
 *    approved file through the Hugging Face mirror with it.
 *
 * MODEL_HUB_SCREENSHOTS=1 also writes the screenshots of docs/screenshots.
 */

const ROOT = path.resolve(__dirname, '../../..');
const SHOTS = process.env.MODEL_HUB_SCREENSHOTS
  ? path.join(ROOT, 'docs/screenshots')
  : undefined;
const BACKEND = process.env.PLAYWRIGHT_BACKEND_URL ?? 'http://localhost:7007';
const MODEL = 'llama-3-8b-instruct';
const LABEL = `e2e-${Date.now().toString(36)}`;

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
  // the development sign-in refreshes through the backend; retry while a
  // development backend restarts
  for (let attempt = 1; ; attempt++) {
    await page.goto(`/?as=${user}`);
    try {
      await expect(sidebar).toBeVisible({ timeout: 20_000 });
      break;
    } catch (error) {
      if (attempt === 3) {
        throw error;
      }
    }
  }
  await page.goto(to);
}

/** A valid safetensors file with one F32 tensor of `bytes` bytes. */
function safetensors(bytes: number): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      weight: { dtype: 'F32', shape: [bytes / 4], data_offsets: [0, bytes] },
    }).padEnd(128, ' '),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(bytes)]);
}

test.describe.serial('Model Hub', () => {
  let tmp: string;
  let uploaded: { size: number; sha256: string } | undefined;

  test.beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'model-hub-e2e-'));
  });

  test.afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  test('alice imports a repository from the mock Hugging Face Hub', async ({
    page,
  }) => {
    await signInAs(page, 'alice', '/model-hub/overview');
    await expect(page.getByRole('tab', { name: 'Approvals' })).toBeVisible();

    await page.getByRole('tab', { name: 'Import from Hugging Face' }).click();
    await page.getByLabel('Repository').fill('acme/tiny-llm');
    await page.getByRole('button', { name: 'Preview' }).click();
    const register = page.getByRole('button', { name: 'Register' });
    const already = page.getByText(/is already registered as/);
    // a second run of the test finds the repository registered
    await expect(register.or(already).first()).toBeVisible();
    if (!(await already.isVisible())) {
      await expect(register).toBeEnabled();
      await register.click();
      await expect(page.getByText('Registered', { exact: true })).toBeVisible();
      await expect(
        page.getByRole('link', { name: /^model:default\/.*tiny-llm$/ }),
      ).toBeVisible();
    }
    await shot(page, 'hf-import');

    // the sync shows in the jobs monitor
    await page.getByRole('tab', { name: 'Jobs' }).click();
    await expect(page.getByRole('table', { name: 'Jobs' })).toContainText(
      /tiny-llm/,
    );
    await shot(page, 'jobs');

    await page.getByRole('tab', { name: 'Models' }).click();
    await expect(
      page.getByRole('link', { name: 'acme/tiny-llm' }).first(),
    ).toBeVisible();
    await shot(page, 'models');
  });

  test('alice uploads a file with visible progress and submits the version', async ({
    page,
  }) => {
    const file = path.join(tmp, 'model.safetensors');
    // two 50 MiB tus chunks, so that the progress shows between them
    const content = safetensors(96 * 1024 * 1024);
    writeFileSync(file, content);
    uploaded = {
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
    };

    await signInAs(
      page,
      'alice',
      `/model-hub/upload?model=${encodeURIComponent(`model:default/${MODEL}`)}`,
    );
    await page.getByRole('button', { name: 'New version' }).click();
    await page
      .getByRole('textbox', { name: 'Version label', exact: true })
      .fill(LABEL);
    await page.getByRole('button', { name: 'Create' }).click();
    await expect(
      page.getByText('Drop files or a ZIP package here, or click to choose'),
    ).toBeVisible();

    await page.getByTestId('file-input').setInputFiles(file);
    const progress = page.getByLabel('Progress of model.safetensors');
    await expect(progress).toBeVisible();
    // the progress moves (it may be done already on a fast machine)
    await expect
      .poll(async () => Number(await progress.getAttribute('aria-valuenow')))
      .toBeGreaterThan(0);
    await shot(page, 'upload');
    await expect(page.getByText('1 of 1 files uploaded')).toBeVisible({
      timeout: 90_000,
    });
    await expect(progress).toHaveAttribute('aria-valuenow', '100');

    await page.getByRole('button', { name: 'Submit for review' }).click();
    await expect(
      page.getByText(`Version ${LABEL} submitted for review`),
    ).toBeVisible();
  });

  test('bob approves the version from the approvals queue', async ({
    page,
  }) => {
    await signInAs(page, 'bob', '/model-hub/approvals');
    const queue = page.getByRole('table', { name: 'Review queue' });
    await queue.getByRole('row', { name: new RegExp(LABEL) }).click();
    await expect(page.getByText(`Review ${MODEL} ${LABEL}`)).toBeVisible();
    await shot(page, 'approvals');
    // the review panel's actions (issue 19) confirm in a dialog with a comment
    const approve = page.getByTestId('version-action-approve').first();
    await expect(approve).toBeEnabled();
    await approve.click();
    const dialog = page.getByRole('dialog');
    await dialog
      .getByLabel('Comment (optional)')
      .fill('Weights and config look right.');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByText(/is now approved/)).toBeVisible();
  });

  test("the version is approved on the Model's catalog page", async ({
    page,
  }) => {
    await signInAs(page, 'alice', `/catalog/default/model/${MODEL}/versions`);
    const row = page.locator(`tr[data-version="${LABEL}"]`);
    await expect(row).toContainText('Approved');
    await row.click();
    await expect(page.getByText(`Version ${LABEL}`)).toBeVisible();
    await expect(page.getByText('model.safetensors')).toBeVisible();
    await shot(page, 'model-versions');

    await page.goto('/model-hub/overview');
    await expect(page.getByText('Versions by state')).toBeVisible();
    await expect(page.getByLabel('Approved versions')).toBeVisible();
    await shot(page, 'hub-dashboard');
  });

  test('carol creates an hf_ token and downloads the version through the mirror', async ({
    page,
    request,
  }) => {
    expect(uploaded).toBeDefined();
    await signInAs(page, 'carol', '/model-hub/access-tokens');
    await page.getByLabel('Token name').fill(`laptop ${LABEL}`);
    await page.getByRole('button', { name: 'Create token' }).click();
    const created = page.getByTestId('created-token');
    await expect(created).toHaveText(/^hf_[A-Za-z0-9]{34}$/);
    const token = (await created.textContent())!;
    await shot(page, 'access-tokens');

    // what huggingface_hub does with HF_ENDPOINT=<portal>/api/model-hub/hf
    const url = `${BACKEND}/api/model-hub/hf/default/${MODEL}/resolve/${LABEL}/model.safetensors`;
    const anonymous = await request.get(url, { maxRedirects: 0 });
    expect(anonymous.status()).toBe(401);
    const download = await request.get(url, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(download.status()).toBe(200);
    const body = await download.body();
    expect(body.length).toBe(uploaded!.size);
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      uploaded!.sha256,
    );
  });

  test('alice resumes an interrupted upload after a page reload', async ({
    page,
  }) => {
    const file = path.join(tmp, 'big.safetensors');
    writeFileSync(file, safetensors(256 * 1024 * 1024));
    const label = `${LABEL}-resume`;

    await signInAs(
      page,
      'alice',
      `/model-hub/upload?model=${encodeURIComponent(`model:default/${MODEL}`)}`,
    );
    await page.getByRole('button', { name: 'New version' }).click();
    await page
      .getByRole('textbox', { name: 'Version label', exact: true })
      .fill(label);
    await page.getByRole('button', { name: 'Create' }).click();
    const drop = page.getByText(
      'Drop files or a ZIP package here, or click to choose',
    );
    await expect(drop).toBeVisible();

    await page.getByTestId('file-input').setInputFiles(file);
    const progress = page.getByLabel('Progress of big.safetensors');
    await expect
      .poll(async () => Number(await progress.getAttribute('aria-valuenow')), {
        intervals: [50],
      })
      .toBeGreaterThanOrEqual(20);
    await page.reload();

    await expect(
      page.getByRole('list', { name: 'Interrupted uploads' }),
    ).toContainText(`big.safetensors (256 MiB) into ${MODEL} ${label}`);
    await expect(drop).toBeVisible();
    await page.getByTestId('file-input').setInputFiles(file);
    await expect(page.getByText(/resumed at [1-9]/)).toBeVisible();
    await expect(page.getByText('1 of 1 files uploaded')).toBeVisible({
      timeout: 90_000,
    });
  });
});
