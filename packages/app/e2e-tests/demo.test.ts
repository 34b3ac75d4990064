import { expect, Page, test } from '@playwright/test';
import path from 'node:path';

/*
 * What a new user meets in the plain demo (`npm run demo`, app-config.yaml):
 * the sign-in page with the guest and the example users, and the demo data
 * seeded on the first start (packages/backend/src/modules/demoSeed) on the
 * dashboard, in the review queue, the jobs, the Model pages, the access
 * tokens page and the ModelPicker of the GPU deployment template.
 *
 * MODEL_HUB_SCREENSHOTS=1 also writes the screenshots of docs/screenshots
 * (demo-*.png).
 */

const ROOT = path.resolve(__dirname, '../../..');
const SHOTS = process.env.MODEL_HUB_SCREENSHOTS
  ? path.join(ROOT, 'docs/screenshots')
  : undefined;

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

test.describe('the seeded demo', () => {
  // the dev server may be rebuilding; the first page load can be slow
  test.describe.configure({ timeout: 240_000 });
  const FIRST = { timeout: 90_000 };

  test('the sign-in page offers the guest and the example users with their roles', async ({
    page,
  }) => {
    await page.goto('/');
    await expect(page.getByRole('button', { name: 'Enter' })).toBeVisible(
      FIRST,
    );
    const panel = page.getByLabel('Development sign-in');
    for (const [user, role] of [
      ['alice', 'ML engineer'],
      ['bob', 'Reviewer'],
      ['carol', 'No group'],
      ['dana', 'Admin'],
    ]) {
      await expect(
        panel.getByRole('button', { name: `Sign in as ${user}` }),
      ).toBeVisible();
      await expect(panel.getByText(role)).toBeVisible();
    }
    await shot(page, 'demo-sign-in');

    await panel.getByRole('button', { name: 'Sign in as alice' }).click();
    await expect(
      page.getByRole('link', { name: 'Model Hub' }).first(),
    ).toBeVisible();
  });

  test('the dashboard shows versions in every state', async ({ page }) => {
    await signInAs(page, 'alice', '/model-hub/overview');
    await expect(page.getByText('Versions by state')).toBeVisible(FIRST);
    for (const state of [
      'Approved',
      'In review',
      'Changes requested',
      'Draft',
      'Deprecated',
    ]) {
      await expect(page.getByLabel(`${state} versions`)).toBeVisible();
    }
    await shot(page, 'demo-dashboard');
  });

  test("bob's review queue holds the version in review, with its checks", async ({
    page,
  }) => {
    await signInAs(page, 'bob', '/model-hub/approvals');
    const queue = page.getByRole('table', { name: 'Review queue' });
    const row = queue.getByRole('row', { name: /mistral-7b-instruct-v0-3/ });
    await expect(row).toBeVisible(FIRST);
    await shot(page, 'demo-review-queue');
    await row.click();
    await expect(
      page.getByText('Review mistral-7b-instruct-v0-3 v0.3'),
    ).toBeVisible();
    await expect(page.getByText('model-hub.safety').first()).toBeVisible();
    await shot(page, 'demo-review');
  });

  test('the jobs show the sync of the registered mock Hub repo', async ({
    page,
  }) => {
    await signInAs(page, 'alice', '/model-hub/jobs');
    await expect(page.getByRole('table', { name: 'Jobs' })).toContainText(
      /mini-embed/,
      FIRST,
    );
    await shot(page, 'demo-jobs');
  });

  test("a Model's versions: active, deprecated", async ({ page }) => {
    await signInAs(
      page,
      'carol',
      '/catalog/default/model/llama-3-8b-instruct/versions',
    );
    await expect(page.locator('tr[data-version="v1.0"]')).toContainText(
      'Approved',
      FIRST,
    );
    await expect(page.locator('tr[data-version="v0.9"]')).toContainText(
      'Deprecated',
    );
    await shot(page, 'demo-model-versions');
  });

  test('the draft whose safety check failed', async ({ page }) => {
    await signInAs(
      page,
      'alice',
      '/catalog/default/model/churn-predictor/versions',
    );
    const row = page.locator('tr[data-version="v2-draft"]');
    await expect(row).toContainText('Draft', FIRST);
    await row.click();
    await page.getByRole('tab', { name: 'Checks' }).click();
    await expect(page.getByText(/os\.system/).first()).toBeVisible();
    await shot(page, 'demo-failed-safety-check');
  });

  test('the ModelPicker of the GPU template offers the approved versions', async ({
    page,
  }) => {
    await signInAs(page, 'alice', '/create/templates/default/deploy-model-gpu');
    const picker = page.getByRole('textbox', { name: 'Model version' });
    await expect(picker).toBeVisible(FIRST);
    await picker.click();
    await expect(
      page.getByRole('option', { name: /v1\.0/ }).first(),
    ).toBeVisible();
    await shot(page, 'demo-model-picker');
  });
});
