import { expect, test } from '@grafana/plugin-e2e';
import pluginJson from '../src/plugin.json';

test('the configuration tests the connection to the correlator through the proxy route', async ({ gotoAppConfigPage, page }) => {
  await gotoAppConfigPage({ pluginId: pluginJson.id });
  await expect(page.getByTestId('weft-config-url')).toHaveValue(/^https?:\/\//);
  const proxied = page.waitForResponse((r) => r.url().includes(`/api/plugin-proxy/${pluginJson.id}/weft/api/sessions`));
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(proxied).toBeOK();
  await expect(page.getByText('Connected', { exact: true })).toBeVisible();
});
