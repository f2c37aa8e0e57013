import { expect, test } from '@grafana/plugin-e2e';
import pluginJson from '../src/plugin.json';
import { ROUTES } from '../src/constants';

test.describe('Weft app pages in Grafana', () => {
  test('Sessions lists sessions with verdict badges and keeps filters in the URL', async ({ gotoAppPage, page }) => {
    await gotoAppPage({ pluginId: pluginJson.id, path: `${ROUTES.Sessions}?from=now-7d&to=now&severity=critical` });
    await expect(page.getByRole('columnheader', { name: 'Verdict' })).toBeVisible();
    await expect(page).toHaveURL(/severity=critical/);
    await page.locator('tbody tr').first().getByRole('link').click();
    await expect(page.getByText(/^Verdict: /)).toBeVisible();
  });

  test('a session shows Grafana\'s trace view, the behaviour tree and its records', async ({ gotoAppPage, page }) => {
    await gotoAppPage({ pluginId: pluginJson.id, path: `${ROUTES.Sessions}?from=now-7d&to=now` });
    await page.locator('tbody tr').first().getByRole('link').click();
    await expect(page.getByRole('region', { name: 'Trace' })).toBeVisible();
    await expect(page.getByRole('list', { name: 'Behaviour tree' })).toBeVisible();
    await expect(page.getByRole('region', { name: 'Raw records' })).toBeVisible();
  });

  test('Overview shows totals, a chart per template and the correlator health', async ({ gotoAppPage, page }) => {
    await gotoAppPage({ pluginId: pluginJson.id, path: `${ROUTES.Overview}?from=now-7d&to=now` });
    await expect(page.getByRole('list', { name: 'Totals' })).toBeVisible();
    await expect(page.getByText('Verdicts over time')).toBeVisible();
    await expect(page.getByRole('region', { name: 'Correlator health' })).toBeVisible();
  });

  test('Templates: a broken expression is shown at its line', async ({ gotoAppPage, page }) => {
    await gotoAppPage({ pluginId: pluginJson.id, path: ROUTES.Templates });
    await page.getByRole('link').filter({ hasText: /^payment$/ }).click();
    const editor = page.getByLabel('Template YAML');
    const text = await editor.inputValue();
    await editor.fill(text.replace('r.action == "create_order"', 'r.action =='));
    const line = text.split('\n').findIndex((l) => l.includes('r.action == "create_order"')) + 1;
    await expect(page.locator(`[data-line="${line}"][data-error="true"]`)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Save' })).toBeDisabled();
  });
});
