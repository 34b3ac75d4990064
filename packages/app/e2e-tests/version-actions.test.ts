import { expect, Page, test } from '@playwright/test';
import path from 'node:path';

/*
 * Issue 19: the version actions, the audit page and the local scan page of
 * the seeded demo (`npm run demo`), as the example users see them. Nothing
 * is changed: dialogs are opened, checked and cancelled.
 *
 * MODEL_HUB_SCREENSHOTS=1 also writes docs/screenshots/actions-*.png,
 * audit.png and local-scan.png.
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

test.describe('version actions, audit and local scan', () => {
  test.describe.configure({ timeout: 240_000 });
  const FIRST = { timeout: 90_000 };

  test('the actions of an approved, active version, with reasons where denied', async ({
    page,
  }) => {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await signInAs(
      page,
      'alice',
      '/catalog/default/model/llama-3-8b-instruct/versions',
    );
    await page.locator('tr[data-version="v1.0"]').click();
    const actions = page.getByRole('group', {
      name: 'Actions of version v1.0',
    });
    await expect(actions).toBeVisible(FIRST);
    await expect(page.getByTestId('active-version')).toContainText('v1.0');
    await expect(actions.getByText('Active version')).toBeVisible();
    // alice owns the model but does not approve: deprecate and revoke are
    // disabled and say why
    const deprecate = actions.getByTestId('version-action-deprecate');
    await expect(deprecate).toBeDisabled();
    await expect(deprecate.locator('xpath=..')).toHaveAttribute(
      'title',
      /model-hub\.version\.approve/,
    );
    await deprecate.locator('xpath=..').hover();
    await expect(page.getByRole('tooltip')).toContainText(
      'Only approvers of this model may do this',
    );
    await shot(page, 'actions-version');
  });

  test('the review decision with the comment threads', async ({ page }) => {
    await page.setViewportSize({ width: 1400, height: 1200 });
    await signInAs(page, 'bob', '/model-hub/approvals');
    const row = page
      .getByRole('table', { name: 'Review queue' })
      .getByRole('row', { name: /mistral-7b-instruct-v0-3/ });
    await expect(row).toBeVisible(FIRST);
    await row.click();
    const approve = page.getByTestId('version-action-approve');
    await expect(approve).toBeEnabled(FIRST);
    await page.getByTestId('version-action-reject').click();
    const dialog = page.getByRole('dialog');
    await expect(dialog).toContainText('Reject: version v0.3');
    // a reason is required to reject
    await expect(
      dialog.getByRole('button', { name: 'Reject' }),
    ).toBeDisabled();
    await dialog.getByLabel('Reason (required)').fill('The eval numbers are missing.');
    await expect(dialog.getByRole('button', { name: 'Reject' })).toBeEnabled();
    await shot(page, 'actions-reject-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    await expect(
      page.getByRole('button', { name: 'Add comment' }),
    ).toBeVisible();
    await shot(page, 'actions-review');
  });

  test('an admin waives a failed check with a reason', async ({ page }) => {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await signInAs(
      page,
      'dana',
      '/catalog/default/model/churn-predictor/versions',
    );
    await page.getByRole('tab', { name: 'Checks' }).click();
    const waive = page.getByTestId('version-action-waive').first();
    await expect(waive).toBeEnabled(FIRST);
    await waive.click();
    const dialog = page.getByRole('dialog');
    await expect(
      dialog.getByRole('button', { name: 'Waive check' }),
    ).toBeDisabled();
    await dialog
      .getByLabel('Reason (required)')
      .fill('Reviewed by security: the call is in a test helper, SEC-42');
    await expect(
      dialog.getByRole('button', { name: 'Waive check' }),
    ).toBeEnabled();
    await shot(page, 'actions-waive-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  test('the audit page searches the trail and exports CSV', async ({
    page,
  }) => {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await signInAs(page, 'dana', '/model-hub/audit');
    const trail = page.getByRole('table', { name: 'Audit trail' });
    await expect(trail).toBeVisible(FIRST);
    await page.getByLabel('Event').click();
    await page.getByRole('option', { name: 'version-approve' }).click();
    await expect(trail.getByRole('row').nth(1)).toContainText(
      'version-approve',
    );
    await expect(
      page.getByRole('button', { name: 'Export CSV' }),
    ).toBeEnabled();
    await shot(page, 'audit');
  });

  test('the local scan page for admins', async ({ page }) => {
    await page.setViewportSize({ width: 1400, height: 900 });
    await signInAs(page, 'dana', '/model-hub/scan');
    await expect(
      page
        .getByRole('button', { name: 'Start scan' })
        .or(page.getByText('Local scanning is off')),
    ).toBeVisible(FIRST);
    await shot(page, 'local-scan');
  });
});
