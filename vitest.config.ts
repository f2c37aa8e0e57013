import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'backend', include: ['backend/test/**/*.test.ts', 'test/**/*.test.ts'], environment: 'node' },
      },
      {
        // The Grafana app plugin: React pages and the datasource in jsdom, Grafana's runtime faked in its setup.
        extends: true,
        test: {
          name: 'plugin',
          include: ['plugin/src/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          setupFiles: ['plugin/.config/vitest.setup.ts'],
          // @grafana/ui's ESM imports CSS files; let vite handle them instead of Node.
          server: { deps: { inline: [/@grafana\//, /@rc-component/] } },
          // After the backend's timing-sensitive suites (MariaDB faults, Kafka), not competing with them for 2 cores.
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The built plugin in headless Chromium against `weft serve` (needs plugin/dist and backend/dist: npm test builds first).
        extends: true,
        test: { name: 'plugin-browser', include: ['plugin/harness/**/*.test.ts'], environment: 'node', sequence: { groupOrder: 1 } },
      },
    ],
  },
});
