import Ajv from 'ajv';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import schema from './test/fixtures/plugin.schema.json';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, unknown>;

// Grafana's schema is draft-07 with a few keywords Ajv's strict mode frowns on (additionalItems
// without tuple items) and regexes written for non-unicode engines (\-); formats (email, uri) are not checked, none of ours use them.
const validate = new Ajv({ strict: false, validateFormats: false, allErrors: true, unicodeRegExp: false }).compile(schema);

const errorsOf = (json: unknown) => (validate(json) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));

describe('plugin.json against Grafana\'s plugin.json schema', () => {
  test.each(['src/plugin.json', 'src/datasource/plugin.json', 'dist/plugin.json', 'dist/datasource/plugin.json'])('%s is valid', (file) => {
    expect(errorsOf(read(file))).toEqual([]);
  });

  test('the schema rejects what Grafana rejects (so the check can fail)', () => {
    const app = read('src/plugin.json');
    expect(errorsOf({ ...app, id: 'Weft Sessions' })).not.toEqual([]);
    expect(errorsOf({ ...app, dependencies: {} })).not.toEqual([]);
    expect(errorsOf({ ...app, routes: [{ path: 'weft', target: 'x' }] })).not.toEqual([]);
  });

  test('the app includes its datasource and proxies to the configured correlator with the secure token', () => {
    const app = read('src/plugin.json') as { includes: Array<{ type: string; name: string }>; routes: Array<{ url: string; headers: Array<{ name: string; content: string }> }>; dependencies: { grafanaDependency: string } };
    const ds = read('src/datasource/plugin.json') as { id: string; name: string; routes: typeof app.routes; dependencies: typeof app.dependencies };
    expect(ds.id).toBe('weft-sessions-datasource');
    expect(app.includes).toContainEqual({ type: 'datasource', name: ds.name });
    for (const routes of [app.routes, ds.routes]) {
      expect(routes[0]!.url).toBe('{{ .JsonData.url }}');
      expect(routes[0]!.headers).toEqual([{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.token }}' }]);
    }
    // The lowest Grafana the plugin is built and type-checked against: @grafana/* are pinned to 12.4.10.
    const pkg = read('package.json') as { dependencies: Record<string, string> };
    expect(pkg.dependencies['@grafana/data']).toBe('12.4.10');
    expect(app.dependencies.grafanaDependency).toBe('>=12.4.0');
    expect(ds.dependencies.grafanaDependency).toBe('>=12.4.0');
  });

  test('the build output: module.js of the app and the datasource, AMD modules with Grafana\'s shared packages external, placeholders filled', () => {
    for (const file of ['dist/module.js', 'dist/datasource/module.js']) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      expect(text).toMatch(/define\(\[[^\]]*"@grafana\/data"/);
      expect(text).not.toMatch(/function createDataFrame\(/);
    }
    const built = read('dist/plugin.json') as { info: { version: string; updated: string }; includes: Array<{ path?: string }> };
    expect(built.info.version).toBe((read('package.json') as { version: string }).version);
    expect(built.info.updated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(built.includes.map((i) => i.path).filter(Boolean)).toContain('/a/weft-sessions-app/sessions');
    expect(fs.existsSync(path.join(ROOT, 'dist/img/logo.svg'))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'dist/datasource/img/logo.svg'))).toBe(true);
  });
});
