// Laid out like @grafana/create-plugin's .config/webpack/webpack.config.ts (AMD output, Grafana's
// shared modules as externals, swc-loader, plugin.json placeholders filled on copy), trimmed to what
// this frontend-only app needs: no ESLint/fork-ts-checker plugins (the build runs `tsc` first), no
// sass/css loaders (styles are @emotion/css), and a .mjs file so no TypeScript loader is needed to
// read the config itself.
import CopyWebpackPlugin from 'copy-webpack-plugin';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIR = path.join(ROOT, 'src');
const DIST_DIR = path.join(ROOT, 'dist');

const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const pluginJson = JSON.parse(fs.readFileSync(path.join(SOURCE_DIR, 'plugin.json'), 'utf8'));

/** `module.tsx` of the app and of every nested plugin (a folder with its own plugin.json), like create-plugin's getEntries. */
function entries() {
  const out = {};
  const walk = (dir, rel) => {
    for (const name of ['module.tsx', 'module.ts']) {
      if (fs.existsSync(path.join(dir, name)) && fs.existsSync(path.join(dir, 'plugin.json'))) {
        out[rel ? `${rel}/module` : 'module'] = `./${rel ? `${rel}/` : ''}${name}`;
        break;
      }
    }
    for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
      if (child.isDirectory()) walk(path.join(dir, child.name), rel ? `${rel}/${child.name}` : child.name);
    }
  };
  walk(SOURCE_DIR, '');
  return out;
}

const fillPlaceholders = (content) =>
  content
    .toString()
    .replace(/%VERSION%/g, packageJson.version)
    .replace(/%TODAY%/g, new Date().toISOString().substring(0, 10))
    .replace(/%PLUGIN_ID%/g, pluginJson.id);

export default (env = {}) => ({
  cache: { type: 'filesystem', buildDependencies: { config: [fileURLToPath(import.meta.url)] } },
  context: SOURCE_DIR,
  devtool: env.production ? 'source-map' : 'eval-source-map',
  entry: entries(),
  externals: [
    'lodash',
    'jquery',
    'moment',
    'slate',
    'emotion',
    '@emotion/react',
    '@emotion/css',
    'prismjs',
    'slate-plain-serializer',
    '@grafana/slate-react',
    'react',
    'react-dom',
    'react-redux',
    'redux',
    'rxjs',
    'react-router',
    'react-router-dom',
    'd3',
    'angular',
    '@grafana/ui',
    '@grafana/runtime',
    '@grafana/data',
    ({ request }, callback) => {
      // Legacy SDK imports ("grafana/app/...") resolve to Grafana's own modules.
      if (request.startsWith('grafana/')) return callback(undefined, request.slice('grafana/'.length));
      return callback();
    },
  ],
  mode: env.production ? 'production' : 'development',
  module: {
    rules: [
      {
        exclude: /node_modules/,
        test: /\.[tj]sx?$/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              target: 'es2018',
              parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
              transform: { react: { runtime: 'automatic' } },
            },
          },
        },
      },
      {
        test: /\.(png|jpe?g|gif|svg)$/,
        type: 'asset/resource',
        generator: {
          publicPath: `public/plugins/${pluginJson.id}/img/`,
          outputPath: 'img/',
          filename: env.production ? '[hash][ext]' : '[file]',
        },
      },
    ],
  },
  output: {
    clean: true,
    filename: '[name].js',
    chunkFilename: '[name].[contenthash:8].js',
    library: { type: 'amd' },
    path: DIST_DIR,
    publicPath: `public/plugins/${pluginJson.id}/`,
    uniqueName: pluginJson.id,
  },
  performance: { hints: false },
  plugins: [
    new CopyWebpackPlugin({
      patterns: [
        { from: 'README.md', to: '.', force: true },
        { from: 'plugin.json', to: '.', transform: fillPlaceholders },
        { from: '*/plugin.json', to: '.', transform: fillPlaceholders },
        { from: '**/img/*.svg', to: '.', noErrorOnMissing: true },
        { from: '**/img/*.png', to: '.', noErrorOnMissing: true },
      ],
    }),
  ],
  resolve: {
    extensions: ['.js', '.jsx', '.ts', '.tsx'],
    unsafeCache: true,
  },
});
