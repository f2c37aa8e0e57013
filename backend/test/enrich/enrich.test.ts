/**
 * Data widening (issue 8) against real dimension tables: MariaDB and SQLite tables, and HTTP
 * endpoints served here (slow, failing, hanging) for the failure paths.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enricher, openLookup, type DimensionLookup } from '../../src/enrich/index.js';
import { Replay, type SessionDoc } from '../../src/engine/index.js';
import { openStore } from '../../src/store/index.js';
import { parseTemplate, TemplateError, type CompiledTemplate, type EnrichSpec } from '../../src/template/index.js';

const T0 = Date.parse('2026-11-01T10:00:00Z');

/** Orders of products; the product's category and tier come from a dimension table. */
function shopTemplate(enrich: Record<string, unknown>, verdicts?: unknown[]): CompiledTemplate {
  return parseTemplate(JSON.stringify({
    id: 'shop',
    sources: { billing: { time: 'ts', id: 'log_id', disorder: '1s' } },
    steps: {
      order_placed: { source: 'billing', when: 'r.action == "create_order"', anchor: 'r.order_id' },
      paid: { source: 'billing', when: 'r.action == "paid"', anchor: 'r.order_id' },
    },
    session: { gap: '1m', maxSpan: '1h', complete: ['order_placed', 'paid'] },
    fields: { product_id: 'first.order_placed.product_id', amount: 'double(first.order_placed.amount)' },
    enrich,
    verdicts: verdicts ?? [
      { id: 'premium_cheap', severity: 'warning', when: 'has(fields.tier) && fields.tier == "premium" && fields.amount < 1.0', explain: '{{ fields.category }} sold for {{ fields.amount }}' },
      { id: 'unknown_product', severity: 'info', when: 'has(fields.enrichment) && fields.enrichment == "failed"' },
      { id: 'ok', severity: 'ok', when: 'true' },
    ],
  }), 'shop.yaml');
}

const productLookup = (from: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  product: { key: 'fields.product_id', from, fields: { category: 'category', tier: 'tier' }, batch: { size: 10, window: '5ms' }, ...extra },
});

let seq = 0;
/** One complete order (placed + paid) of `product` at minute `m`. */
function orderLines(order: string, product: string, m: number, amount = 5): string[] {
  const t = T0 + m * 60_000;
  return [
    JSON.stringify({ source: 'billing', value: { ts: t, log_id: `l${++seq}`, action: 'create_order', order_id: order, product_id: product, amount } }),
    JSON.stringify({ source: 'billing', value: { ts: t + 1000, log_id: `l${++seq}`, action: 'paid', order_id: order } }),
  ];
}

/** Engine + enricher as the service wires them: fires carry what the cache knows; lookups re-fire sessions. */
class Pipeline {
  readonly replay: Replay;
  readonly enricher: Enricher;
  readonly lookups: string[][] = [];
  /** Every fire of every session, in order. */
  readonly fires: SessionDoc[] = [];

  constructor(template: CompiledTemplate, database: string | undefined, wrap?: (inner: DimensionLookup) => DimensionLookup) {
    this.enricher = new Enricher({
      templates: [template],
      ...(database !== undefined ? { database } : {}),
      onResolved: (request) => this.replay.enriched(request),
      open: (spec: EnrichSpec, db) => {
        const inner = openLookup(spec, db);
        const counted: DimensionLookup = {
          fetch: (keys, timeoutMs) => {
            this.lookups.push([...keys]);
            return inner.fetch(keys, timeoutMs);
          },
          close: () => inner.close(),
        };
        return wrap ? wrap(counted) : counted;
      },
    });
    this.replay = new Replay([template], {
      enrichment: { view: this.enricher, onEnrich: (request) => this.enricher.request(request) },
      onFire: (session) => this.fires.push(session),
    });
  }

  feed(lines: readonly string[]): void {
    for (const line of lines) this.replay.line(line);
  }

  latest(id: string): SessionDoc {
    return this.replay.store.get(id)!;
  }

  byOrder(order: string): SessionDoc {
    return this.replay.store.all().find((s) => s.key === order)!;
  }

  async close(): Promise<void> {
    await this.enricher.close();
  }
}

const products = Array.from({ length: 40 }, (_, i) => ({ id: `p${i}`, category: i % 2 ? 'gems' : 'skins', tier: i < 5 ? 'premium' : 'standard' }));

describe('enrich: template section', () => {
  it('compiles lookups, and verdicts may read enriched fields and the enrichment state', () => {
    const t = shopTemplate(productLookup({ table: 'products' }, { onMiss: { category: 'unknown' }, cache: { ttl: '5m', size: 10 } }));
    expect(t.enrich).toHaveLength(1);
    expect(t.enrich[0]).toMatchObject({ name: 'product', lookup: { kind: 'sql', table: 'products', keyColumn: 'id' }, cacheTtlMs: 300_000, cacheSize: 10, batchSize: 10, onMiss: { category: 'unknown' } });
    expect([...t.enrich[0]!.fields]).toEqual([['category', 'category'], ['tier', 'tier']]);
  });

  it('reports bad enrich entries with their path', () => {
    const issues = (enrich: Record<string, unknown>, fields?: Record<string, string>) => {
      try {
        const doc = JSON.parse(JSON.stringify(shopTemplate({}, [{ id: 'ok', severity: 'ok', when: 'true' }]).document));
        doc.enrich = enrich;
        if (fields) doc.fields = { ...doc.fields, ...fields };
        parseTemplate(JSON.stringify(doc), 'bad.yaml');
      } catch (error) {
        if (error instanceof TemplateError) return error.issues.map((i) => `${i.path}: ${i.message}`);
        throw error;
      }
      throw new Error('accepted');
    };
    expect(issues(productLookup({ table: 'products; drop table x' }))).toContainEqual('enrich.product.from.table: must be a plain SQL name (letters, digits, _; optionally schema.table)');
    expect(issues({ product: { key: 'fields.nope', from: { table: 'p' }, fields: { c: 'c' } } })).toContainEqual('enrich.product.key: unknown field "nope"');
    expect(issues(productLookup({ table: 'products' }, { fields: { amount: 'price' } }))).toContainEqual('enrich.product.fields.amount: "amount" is already a field of the template');
    expect(issues(productLookup({ table: 'products' }, { onMiss: { colour: 'x' } }))).toContainEqual('enrich.product.onMiss.colour: "colour" is not one of this enrichment\'s fields');
    // Template fields are evaluated before enrichment: they cannot read enriched fields.
    expect(issues(productLookup({ table: 'products' }), { label: 'fields.category' })).toContainEqual('fields.label: unknown field "category"');
  });
});

describe.each(['mariadb', 'sqlite'] as const)('enrich: %s dimension table', (kind) => {
  let database: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'weft-enrich-'));
      const db = new Database(join(dir, 'dims.db'));
      db.exec('CREATE TABLE products (id TEXT PRIMARY KEY, category TEXT, tier TEXT)');
      const insert = db.prepare('INSERT INTO products VALUES (?, ?, ?)');
      for (const p of products) insert.run(p.id, p.category, p.tier);
      db.close();
      database = `sqlite:${join(dir, 'dims.db')}`;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const name = `weft_enrich_${randomBytes(4).toString('hex')}`;
      const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.query(`CREATE TABLE ${name}.products (id VARCHAR(32) PRIMARY KEY, category VARCHAR(32), tier VARCHAR(32))`);
      await admin.query(`INSERT INTO ${name}.products VALUES ?`, [products.map((p) => [p.id, p.category, p.tier])]);
      database = `mysql://root@127.0.0.1:3306/${name}`;
      cleanup = async () => {
        await admin.query(`DROP DATABASE ${name}`);
        await admin.end();
      };
    }
  });
  afterAll(async () => cleanup());

  it('fetches the keys of many sessions in ⌈N/batch⌉ queries, then serves them from the cache', async () => {
    const p = new Pipeline(shopTemplate(productLookup({ table: 'products' })), database);
    // 25 orders of 25 different products, batch size 10.
    // Both steps present: each order fires at once (complete trigger), before its window closes.
    p.feed(Array.from({ length: 25 }, (_, i) => orderLines(`o${i}`, `p${i}`, i)).flat());
    await p.enricher.settled();
    expect(p.lookups).toHaveLength(Math.ceil(25 / 10));
    expect(p.lookups.flat().sort()).toEqual(Array.from({ length: 25 }, (_, i) => `p${i}`).sort());
    for (let i = 0; i < 25; i++) {
      const s = p.byOrder(`o${i}`);
      expect(s.fields).toMatchObject({ category: products[i]!.category, tier: products[i]!.tier });
      expect(s.fields.enrichment).toBeUndefined();
    }
    // Each session fired once pending (complete trigger) and once enriched, with a higher version.
    const o0 = p.fires.filter((f) => f.key === 'o0');
    expect(o0[0]!.fields.enrichment).toBe('pending');
    expect(o0.at(-1)!.version).toBeGreaterThan(o0[0]!.version);

    // Later orders of the same products: no new query, enriched at their first fire.
    const before = p.lookups.length;
    const hitsBefore = p.enricher.counters.cacheHits;
    p.feed(Array.from({ length: 25 }, (_, i) => orderLines(`again${i}`, `p${i}`, 200 + i)).flat());
    await p.enricher.settled();
    expect(p.lookups.length).toBe(before);
    expect(p.enricher.counters.cacheHits - hitsBefore).toBeGreaterThanOrEqual(25);
    expect(p.fires.filter((f) => f.key === 'again3').every((f) => f.fields.category === products[3]!.category)).toBe(true);
    await p.close();
  });

  it('runs verdicts after enrichment, and applies onMiss to unknown keys', async () => {
    const p = new Pipeline(shopTemplate(productLookup({ table: 'products' }, { onMiss: { tier: 'unlisted' } })), database);
    p.feed([...orderLines('cheap', 'p1', 0, 0.5), ...orderLines('fair', 'p30', 1, 0.5), ...orderLines('ghost', 'nope', 2, 0.5)]);
    p.replay.endInput();
    await p.enricher.settled();
    expect(p.byOrder('cheap')).toMatchObject({ verdict: 'premium_cheap', explain: 'gems sold for 0.5' });
    expect(p.byOrder('fair').verdict).toBe('ok');
    expect(p.byOrder('ghost').fields).toMatchObject({ tier: 'unlisted' });
    expect(p.byOrder('ghost').fields.category).toBeUndefined();
    await p.close();
  });

  it('looks keys up again once their cache entries expire', async () => {
    const p = new Pipeline(shopTemplate(productLookup({ table: 'products' }, { cache: { ttl: '150ms', size: 100 } })), database);
    p.feed(orderLines('a', 'p7', 0));
    await p.enricher.settled();
    p.feed(orderLines('b', 'p7', 10));
    await p.enricher.settled();
    expect(p.lookups).toEqual([['p7']]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    p.feed(orderLines('c', 'p7', 20));
    await p.enricher.settled();
    expect(p.lookups).toEqual([['p7'], ['p7']]);
    expect(p.byOrder('c').fields.category).toBe(products[7]!.category);
    await p.close();
  });

  it('stores enriched fields as ordinary, searchable fields (weft replay --store)', async () => {
    // The dimension table lives in the store's own database (the default for `from.table`).
    const store = await openStore(database, { log: () => undefined });
    const p = new Pipeline(shopTemplate(productLookup({ table: 'products' })), database);
    p.feed([...orderLines('s1', 'p2', 0), ...orderLines('s2', 'p3', 1)]);
    p.replay.endInput();
    await p.enricher.settled();
    await store.upsertSessions(p.replay.result().sessions);
    const page = await store.search({ template: 'shop', fields: [{ field: 'category', op: '=', value: products[3]!.category }] });
    expect(page.sessions.map((s) => s.key)).toEqual(['s2']);
    await store.close();
    await p.close();
  });
});

describe('enrich: slow, failing and hanging lookups (HTTP dimension endpoint)', () => {
  let server: Server;
  let url: string;
  let behaviour: (keys: string[], calls: number) => Promise<{ status: number; body?: unknown } | 'hang'>;
  let calls = 0;

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const { keys } = JSON.parse(text) as { keys: string[] };
      const answer = await behaviour(keys, ++calls);
      if (answer === 'hang') return; // never answers; the client's timeout must fire
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? {}));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/products`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const rows = (keys: string[]) => Object.fromEntries(keys.flatMap((k) => {
    const p = products.find((x) => x.id === k);
    return p ? [[k, { category: p.category, tier: p.tier }]] : [];
  }));

  it('a slow dimension does not hold back the correlation of other sessions', async () => {
    calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    behaviour = async (keys) => {
      if (keys.includes('p1')) await gate; // the slow key's batch waits until released
      return { status: 200, body: rows(keys) };
    };
    const slow = shopTemplate(productLookup({ url }, { timeout: '30s', batch: { size: 1, window: '1ms' } }));
    const p = new Pipeline(slow, undefined);
    p.feed(orderLines('stuck', 'p1', 0));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // While that lookup hangs, 30 more orders are correlated, fired and enriched.
    p.feed(Array.from({ length: 30 }, (_, i) => orderLines(`fast${i}`, `p${10 + (i % 5)}`, 1 + i)).flat());
    p.replay.endInput();
    for (let i = 0; i < 200 && p.enricher.pending > 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(p.byOrder('stuck').fields.enrichment).toBe('pending');
    for (let i = 0; i < 30; i++) expect(p.byOrder(`fast${i}`).fields.category, `fast${i}`).toBeDefined();
    release();
    await p.enricher.settled();
    expect(p.byOrder('stuck').fields).toMatchObject({ category: 'gems', tier: 'premium' });
    await p.close();
  });

  it('retries failed lookups with backoff until they succeed', async () => {
    calls = 0;
    behaviour = async (keys, n) => (n <= 2 ? { status: 503 } : { status: 200, body: rows(keys) });
    const p = new Pipeline(shopTemplate(productLookup({ url }, { retry: { attempts: 5, backoff: '20ms' } })), undefined);
    p.feed(orderLines('r1', 'p4', 0));
    p.replay.endInput();
    await p.enricher.settled();
    expect(calls).toBe(3);
    expect(p.enricher.counters).toMatchObject({ failures: 2, failed: 0 });
    expect(p.byOrder('r1').fields).toMatchObject({ category: 'skins', tier: 'premium' });
    expect(p.byOrder('r1').fields.enrichment).toBeUndefined();
    await p.close();
  });

  it('after the retry budget, marks the session failed with the reason (never dropped)', async () => {
    calls = 0;
    behaviour = async () => 'hang';
    const p = new Pipeline(shopTemplate(productLookup({ url }, { timeout: '100ms', retry: { attempts: 2, backoff: '20ms' } })), undefined);
    p.feed(orderLines('lost', 'p5', 0));
    p.replay.endInput();
    await p.enricher.settled();
    const lost = p.byOrder('lost');
    expect(lost.fields.enrichment).toBe('failed');
    expect(lost.fields.enrichment_error).toMatch(/^product: lookup timed out after 100 ms \(2 attempts\)/);
    expect(lost.verdict).toBe('unknown_product');
    expect(p.enricher.counters).toMatchObject({ timeouts: 2, failed: 1 });
    await p.close();
  });
});
