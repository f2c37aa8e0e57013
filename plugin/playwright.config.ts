import type { PluginOptions } from '@grafana/plugin-e2e';
import { defineConfig, devices } from '@playwright/test';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * End-to-end specs for users who run the compose stack (README "Grafana setup"): Grafana on
 * http://localhost:3000 with this plugin mounted and ../provisioning applied, a correlator with data.
 * Run with `npm run e2e -w plugin` after `npx playwright install chromium` (not run in CI here:
 * Grafana cannot run on this machine; CI's browser test is harness/browser.test.ts).
 * Laid out like @grafana/create-plugin's playwright.config.ts.
 */
const require = createRequire(import.meta.url);
const authDir = path.join(path.dirname(require.resolve('@grafana/plugin-e2e/package.json')), 'dist/auth');

export default defineConfig<PluginOptions>({
  testDir: './tests',
  fullyParallel: true,
  forbidOnly: Boolean(process.env.CI),
  retries: process.env.CI ? 2 : 0,
  reporter: 'list',
  use: {
    baseURL: process.env.GRAFANA_URL ?? 'http://localhost:3000',
    trace: 'on-first-retry',
    provisioningRootDir: path.join(import.meta.dirname ?? '.', '../provisioning'),
  },
  projects: [
    // Logs in as admin once and stores the session for the tests (plugin-e2e's own setup).
    { name: 'auth', testDir: authDir, testMatch: [/.*\.js/] },
    {
      name: 'run-tests',
      use: { ...devices['Desktop Chrome'], storageState: 'playwright/.auth/admin.json' },
      dependencies: ['auth'],
    },
  ],
});
