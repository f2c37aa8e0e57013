import { expect, test } from '@grafana/plugin-e2e';

test('the provisioned Weft sessions datasource passes its health check', async ({ readProvisionedDataSource, gotoDataSourceConfigPage }) => {
  const ds = await readProvisionedDataSource({ fileName: 'weft.yaml', name: 'Weft sessions' });
  const configPage = await gotoDataSourceConfigPage(ds.uid);
  await expect(configPage.saveAndTest()).toBeOK();
  await expect(configPage).toHaveAlert('success');
});

test('a sessions query fills a table panel', async ({ readProvisionedDataSource, panelEditPage, page }) => {
  const ds = await readProvisionedDataSource({ fileName: 'weft.yaml', name: 'Weft sessions' });
  await panelEditPage.datasource.set(ds.name);
  await panelEditPage.setVisualization('Table');
  await page.getByRole('radio', { name: 'Sessions' }).check();
  await expect(panelEditPage.refreshPanel()).toBeOK();
  await expect(panelEditPage.panel.fieldNames).toContainText(['id', 'start', 'verdict']);
});
