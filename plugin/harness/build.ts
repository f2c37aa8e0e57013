// Bundles the harness shell (harness.tsx + React + Grafana's packages) with esbuild: seconds, where
// webpack would take minutes over @grafana/ui.
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const runtimeDir = path.dirname(require.resolve('@grafana/runtime/package.json'));

const internal: Plugin = {
  name: 'grafana-runtime-internal',
  setup(b) {
    b.onResolve({ filter: /^grafana-runtime-internal\// }, (args) => ({
      path: path.join(runtimeDir, 'dist/esm/components', `${args.path.split('/')[1]}.mjs`),
    }));
  },
};

export async function buildHarness(outdir = path.join(here, 'dist')): Promise<string> {
  await build({
    entryPoints: { harness: path.join(here, 'harness.tsx') },
    bundle: true,
    outdir,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    jsx: 'automatic',
    minify: false,
    sourcemap: false,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
    loader: { '.svg': 'dataurl', '.png': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl' },
    plugins: [internal],
  });
  return outdir;
}

