/**
 * `weft run` enriches (issue 8): records through HTTP ingest, the dimension table in the store's
 * own MariaDB database, sessions in the store carry the row's columns as fields, searchable, with
 * verdicts that read them; the metrics count lookups and cache reads.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunService } from '../../src/run/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { eventually, freshDatabase, quietLog, runConfig } from './harness.js';

const TEMPLATE = `
id: shop
sources:
  billing: { time: ts, id: log_id, disorder: 1s }
steps:
  order_placed: { source: billing, when: 'r.action == "create_order"', anchor: 'r.order_id' }
  paid:         { source: billing, when: 'r.action == "paid"', anchor: 'r.order_id' }
session: { gap: 1m, maxSpan: 1h, complete: [order_placed, paid] }
fields:
  product_id: 'first.order_placed.product_id'
  amount: 'double(first.order_placed.amount)'
enrich:
  product:
    key: 'fields.product_id'
    from: { table: products }
    fields: { category: category, tier: tier }
    batch: { size: 50, window: 10ms }
verdicts:
  - { id: premium_cheap, severity: warning, when: 'has(fields.tier) && fields.tier == "premium" && fields.amount < 1.0' }
  - { id: ok, severity: ok, when: 'true' }
`;

let url: string;
let service: RunService;
let store: Store;

beforeAll(async () => {
  url = await freshDatabase('weft_run_enrich');
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'weft_run_enrich' });
  await admin.query('CREATE TABLE products (id VARCHAR(32) PRIMARY KEY, category VARCHAR(32), tier VARCHAR(32))');
  await admin.query('INSERT INTO products VALUES ?', [Array.from({ length: 20 }, (_, i) => [`p${i}`, i % 2 ? 'gems' : 'skins', i < 3 ? 'premium' : 'standard'])]);
  await admin.end();
  const templates = mkdtempSync(join(tmpdir(), 'weft-run-enrich-'));
  writeFileSync(join(templates, 'shop.yaml'), TEMPLATE);
  service = await RunService.start(runConfig(undefined, url, { templates, deadLetterFile: join(templates, 'dead.ndjson') }), { logger: quietLog });
  store = await openStore(url, { log: () => undefined });
});

afterAll(async () => {
  await store?.close();
  await service?.stop();
});

describe('weft run: enrichment', () => {
  it('stores sessions with the dimension row as fields, and verdicts that read them', async () => {
    const t0 = Date.parse('2026-11-03T10:00:00Z');
    const lines = Array.from({ length: 12 }, (_, i) => [
      { ts: t0 + i * 1000, log_id: `o${i}`, action: 'create_order', order_id: `order${i}`, product_id: `p${i}`, amount: i === 1 ? 0.5 : 5 },
      { ts: t0 + i * 1000 + 500, log_id: `p${i}`, action: 'paid', order_id: `order${i}` },
    ]).flat();
    const response = await fetch(`${service.address}/ingest/billing`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.map((l) => JSON.stringify(l)).join('\n') });
    expect(response.status).toBe(200);

    const page = await eventually(
      () => store.search({ template: 'shop', fields: [{ field: 'category', op: '=', value: 'gems' }], limit: 100 }),
      (p) => p.sessions.length === 6,
      20_000, 200,
    );
    expect(page.sessions.map((s) => s.key).sort()).toEqual(['order1', 'order11', 'order3', 'order5', 'order7', 'order9']);
    const cheap = (await store.search({ template: 'shop', key: 'order1' })).sessions[0]!;
    expect(cheap).toMatchObject({ verdict: 'premium_cheap', fields: { category: 'gems', tier: 'premium' } });
    expect(cheap.fields.enrichment).toBeUndefined();
    // Every session was first written as pending, then re-fired enriched with a higher version.
    expect(cheap.version).toBeGreaterThan(1);

    const metrics = await (await fetch(`${service.address}/metrics`)).text();
    expect(metrics).toMatch(/weft_enrich_lookups_total\{template="shop",enrichment="product"\} [1-9]/);
    expect(metrics).toMatch(/weft_enrich_cache_total\{template="shop",enrichment="product",result="miss"\} [1-9]/);
  });
});
