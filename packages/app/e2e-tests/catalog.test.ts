import { expect, test } from '@playwright/test';

test.describe('the demo portal', () => {
  test.beforeEach(async ({ page }) => {
    // Sign in as guest; the sign-in page remembers it for later page loads.
    await page.goto('/');
    await page.getByRole('button', { name: 'Enter' }).click();
    await expect(page.getByRole('link', { name: 'Catalog' }).first()).toBeVisible();
  });

  test('opens the catalog on the example Models', async ({ page }) => {
    await page.goto('/catalog');
    await expect(page.getByText(/All Models \(\d+\)/)).toBeVisible();
    await expect(
      page.getByRole('link', { name: 'Llama 3 8B Instruct', exact: true }),
    ).toBeVisible();
    await expect(
      page.getByRole('link', { name: 'Whisper small' }),
    ).toBeVisible();
  });

  test("shows a fine-tune's overview and lineage", async ({ page }) => {
    await page.goto('/catalog/default/model/support-assistant-llama3');
    await expect(
      page.getByText('Support assistant (Llama 3 fine-tune)').first(),
    ).toBeVisible();
    await expect(page.getByText('Model overview')).toBeVisible();
    await expect(page.getByText('Model lineage')).toBeVisible();
    // the base model, linked from the lineage and overview cards
    const base = page.getByRole('link', { name: 'Llama 3 8B Instruct' });
    await expect(base.first()).toHaveAttribute(
      'href',
      '/catalog/default/model/llama-3-8b-instruct',
    );
    // the custom relation in the catalog graph
    await expect(page.getByText('derivedFrom').first()).toBeVisible();
  });
});
