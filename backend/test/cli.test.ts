import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { mysqlHarness, sqliteHarness } from './store/harness.js';

const root = join(import.meta.dirname, '../..');
const weft = join(root, 'backend/bin/weft.js');
const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
const run = (...args: string[]) => spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: 'utf8' });

describe('weft CLI (built)', () => {
  it('generate then replay: one line per final session and per orphan, bad lines on stderr with their line number', () => {
    const input = join(dir, 'events.ndjson');
    const gen = run('generate', '--scenario', 'payment', '--sessions', '200', '--seed', '7', '--out', input);
    expect(gen.status, gen.stderr).toBe(0);
    const truth = JSON.parse(readFileSync(`${input}.truth.json`, 'utf8'));
    const out = join(dir, 'sessions.ndjson');
    const replay = run('replay', '--template', 'templates/payment.yaml', '--input', input, '--out', out);
    expect(replay.status, replay.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const sessions = lines.filter((l) => l.kind === 'session');
    const orphans = lines.filter((l) => l.kind === 'orphan');
    expect(sessions).toHaveLength(truth.sessions.length);
    expect(orphans).toHaveLength(truth.orphans.length);
    expect(Object.keys(sessions[0])).toEqual(['kind', 'id', 'template', 'key', 'start', 'end', 'status', 'version', 'verdict', 'severity', 'explain', 'splitOf', 'mergedInto', 'fields', 'events']);
    expect(Object.keys(sessions[0].events[0])).toEqual(['step', 'source', 'time', 'value']);
    expect(Object.keys(orphans[0])).toEqual(['kind', 'template', 'step', 'source', 'value', 'reason']);
    const reported = [...replay.stderr.matchAll(/^line (\d+): /gm)].map((m) => Number(m[1]));
    expect(reported).toEqual(truth.malformedLines);
    expect(replay.stderr).toMatch(new RegExp(`^sessions +${truth.sessions.length} `, 'm'));
    expect(replay.stderr).toMatch(/^late re-applied +\d+/m);
  });

  it('--show-errors N prints the first N bad lines and counts them all', () => {
    const input = join(dir, 'bad-lines.ndjson');
    writeFileSync(input, ['{', '{"source": "nope", "value": {}}', '[]', 'x'].join('\n') + '\n');
    const r = run('replay', '--template', 'templates/payment.yaml', '--input', input, '--show-errors', '2');
    expect(r.status).toBe(0);
    expect([...r.stderr.matchAll(/^line (\d+): /gm)].map((m) => Number(m[1]))).toEqual([1, 2]);
    expect(r.stderr).toMatch(/further bad lines are only counted/);
    expect(r.stderr).toMatch(/^skipped +4 /m);
  });

  it('writes to stdout without --out', () => {
    const input = join(dir, 'tiny.ndjson');
    writeFileSync(input, JSON.stringify({ source: 'billing', value: { ts: 1790000000000, log_id: 'x', action: 'create_order', order_id: 'o1', amount: 1 } }) + '\n');
    const stdout = execFileSync(process.execPath, [weft, 'replay', '--template', 'templates/payment.yaml', '--input', input], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(JSON.parse(stdout)).toMatchObject({ kind: 'session', key: 'o1', status: 'final' });
  });

  it('reads stdin (--input -) and gzip input like the plain file; a truncated .gz keeps the sessions of the lines before the break and exits 1', () => {
    const input = join(dir, 'events.ndjson');
    if (!existsSync(input)) expect(run('generate', '--scenario', 'payment', '--sessions', '200', '--seed', '7', '--out', input).status).toBe(0);
    const template = ['--template', 'templates/payment.yaml'];
    const plain = run('replay', ...template, '--input', input);
    expect(plain.status, plain.stderr).toBe(0);
    const zipped = gzipSync(readFileSync(input));
    const fromStdin = spawnSync(process.execPath, [weft, 'replay', ...template, '--input', '-'], { cwd: root, encoding: 'utf8', input: zipped });
    expect(fromStdin.status, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout).toBe(plain.stdout);

    const truncated = join(dir, 'events.ndjson.gz');
    writeFileSync(truncated, zipped.subarray(0, Math.floor(zipped.length / 2)));
    const broken = run('replay', ...template, '--input', truncated);
    expect(broken.status).toBe(1);
    const readBefore = Number(/input unreadable after line (\d+): unexpected end of file/.exec(broken.stderr)?.[1]);
    expect(readBefore).toBeGreaterThan(0);
    expect(broken.stderr).toMatch(new RegExp(`^records read +[\\d,]+ \\(${readBefore.toLocaleString('en')} lines`, 'm'));
    expect(broken.stdout.trim().split('\n').filter((l) => JSON.parse(l).kind === 'session').length).toBeGreaterThan(0);
  });

  it('generate --out - writes the same lines to stdout, with no truth file unless --truth; a reader that stops early ends it quietly', async () => {
    const file = join(dir, 'seed3.ndjson');
    expect(run('generate', '--scenario', 'payment', '--sessions', '100', '--seed', '3', '--out', file).status).toBe(0);
    const piped = run('generate', '--scenario', 'payment', '--sessions', '100', '--seed', '3', '--out', '-');
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(readFileSync(file, 'utf8'));
    expect(piped.stderr).toMatch(/-> stdout\n/);
    expect(existsSync(join(root, '-.truth.json'))).toBe(false);

    const child = spawn(process.execPath, [weft, 'generate', '--scenario', 'payment', '--sessions', '50000', '--seed', '3', '--out', '-'], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await once(child.stdout, 'data');
    child.stdout.destroy();
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe(0);
  });

  it('refuses a bad template with the file, the path and the reason, and exits 2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(join(root, 'templates/payment.yaml'), 'utf8').replace('gap: 15m', 'gap: 15 minutes'));
    const r = run('replay', '--template', bad, '--input', '/dev/null');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${bad}:\\d+: session.gap: not a duration`));
  });

  it('rejects unknown commands and missing options with usage', () => {
    expect(run('frobnicate').status).toBe(2);
    const r = run('replay', '--input', 'x');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--template and --input are required/);
  });
});

describe('weft replay --store', () => {
  const input = join(dir, 'stored.ndjson');
  const prepare = () => run('generate', '--sessions', '150', '--seed', '11', '--out', input);

  it.each([
    ['sqlite', async () => sqliteHarness()],
    ['mysql', async () => mysqlHarness()],
  ])('fills a %s store with every final session and orphan; a second replay changes nothing', async (_, make) => {
    expect(prepare().status).toBe(0);
    const harness = await make();
    try {
      const out = join(dir, `stored-${harness.name}.ndjson`);
      const first = run('replay', '--template', 'templates/payment.yaml', '--input', input, '--out', out, '--store', harness.url, '--quiet');
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/^stored +\d+ sessions and \d+ orphans in /m);
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const sessions = lines.filter((l) => l.kind === 'session');
      const count = async () => (await harness.sql('SELECT COUNT(*) AS n FROM sessions'))[0]!.n;
      expect(Number(await count())).toBe(sessions.length);
      const store = await harness.open();
      const sample = sessions[Math.floor(sessions.length / 2)];
      const stored = await store.getSession(sample.id);
      expect(stored).toMatchObject({ id: sample.id, key: sample.key, verdict: sample.verdict, version: sample.version, fields: sample.fields });
      expect(stored!.events.map((e) => e.value)).toEqual(sample.events.map((e: { value: unknown }) => e.value));
      const orphans = await harness.sql('SELECT COUNT(*) AS n FROM orphans');
      expect(Number(orphans[0]!.n)).toBe(lines.filter((l) => l.kind === 'orphan').length);
      const before = await harness.sql('SELECT id, version FROM sessions ORDER BY id');
      const again = run('replay', '--template', 'templates/payment.yaml', '--input', input, '--store', harness.url, '--quiet');
      expect(again.status, again.stderr).toBe(0);
      expect(await harness.sql('SELECT id, version FROM sessions ORDER BY id')).toEqual(before);
    } finally {
      await harness.destroy();
    }
  });
});

describe('weft replay with an enriching template', () => {
  it('looks keys up in the dimension table of the store\'s database and writes the enriched fields', async () => {
    const harness = await sqliteHarness();
    try {
      await harness.sql('CREATE TABLE products (id TEXT PRIMARY KEY, category TEXT)');
      await harness.sql("INSERT INTO products VALUES ('p1', 'gems'), ('p2', 'skins')");
      const template = join(dir, 'shop.yaml');
      writeFileSync(template, [
        'id: shop',
        'sources: { billing: { time: ts, id: log_id, disorder: 1s } }',
        'steps:',
        '  order_placed: { source: billing, when: \'r.action == "create_order"\', anchor: r.order_id }',
        'session: { gap: 1m, maxSpan: 1h }',
        'fields: { product_id: first.order_placed.product_id }',
        'enrich:',
        '  product: { key: fields.product_id, from: { table: products }, fields: { category: category } }',
      ].join('\n'));
      const t0 = Date.parse('2026-11-01T10:00:00Z');
      const input = join(dir, 'shop.ndjson');
      writeFileSync(input, ['p1', 'p2', 'p9'].map((product, i) =>
        JSON.stringify({ source: 'billing', value: { ts: t0 + i * 600_000, log_id: `l${i}`, action: 'create_order', order_id: `o${i}`, product_id: product } })).join('\n') + '\n');
      const out = join(dir, 'shop-sessions.ndjson');
      const r = run('replay', '--template', template, '--input', input, '--out', out, '--store', harness.url, '--quiet');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^enrichment: \d+ lookups/m);
      const sessions = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(sessions.map((s) => [s.key, s.fields.category])).toEqual([['o0', 'gems'], ['o1', 'skins'], ['o2', undefined]]);
    } finally {
      await harness.destroy();
    }
  });
});
