import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FieldValue, SessionDoc, SessionStatus } from '../../src/engine/types.js';
import { StoreConflictError, StoreInputError, StoreQueryError, type OperatorChange, type SearchQuery, type SessionSummary, type Store } from '../../src/store/index.js';
import type { SqlStore } from '../../src/store/base.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/schema.js';
import {
  T0,
  actualFieldRows,
  actualRollups,
  expectedFieldRows,
  expectedRollups,
  session,
  type Harness,
} from './harness.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

async function all(store: Store, query: SearchQuery): Promise<SessionSummary[]> {
  const out: SessionSummary[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.search(cursor === undefined ? query : { ...query, cursor });
    out.push(...page.sessions);
    if (page.cursor === null) return out;
    cursor = page.cursor;
  }
  throw new Error('pagination does not end');
}

const ids = (list: readonly { id: string }[]): string[] => list.map((s) => s.id);

/** A field's values: none when absent, the elements of a list, else the one value. */
const elements = (v: FieldValue | undefined): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface SearchCase {
  readonly query: SearchQuery;
  /** The brute-force answer: whether a stored session matches. */
  readonly holds: (s: SessionSummary) => boolean;
}

/**
 * Each case's pages list the stored sessions it holds for, newest first, under both plans (ranges
 * and prefixes read whole, and checked per candidate session: every one wide) and in pages of 1, 4
 * and 100; with `briefs`, `searchBriefs` gives the first 100 of them too.
 */
async function expectBruteForce(store: Store, stored: readonly SessionSummary[], cases: readonly SearchCase[], briefs = false): Promise<void> {
  const newestFirst = (list: SessionSummary[]): string[] => ids([...list].sort((a, b) => b.start - a.start || (a.id < b.id ? 1 : -1)));
  const sql = store as SqlStore;
  expect(sql.searchWideAt).toBeUndefined();
  try {
    for (const wideAt of [undefined, 1]) {
      sql.searchWideAt = wideAt;
      for (const { query, holds } of cases) {
        const want = newestFirst(stored.filter(holds));
        for (const limit of [1, 4, 100]) {
          expect(ids(await all(store, { ...query, limit })), JSON.stringify({ query, limit, wideAt })).toEqual(want);
        }
        if (briefs) expect(ids((await store.searchBriefs({ ...query, limit: 100 })).sessions), JSON.stringify(query)).toEqual(want.slice(0, 100));
      }
    }
  } finally {
    sql.searchWideAt = undefined;
  }
}

async function snapshot(h: Harness): Promise<unknown> {
  return {
    sessions: await h.sql('SELECT * FROM sessions ORDER BY id'),
    fields: await actualFieldRows(h),
    rollups: [...(await actualRollups(h)).entries()].sort(),
  };
}

async function expectConsistent(h: Harness): Promise<void> {
  expect([...(await actualRollups(h)).entries()].sort()).toEqual([...(await expectedRollups(h)).entries()].sort());
  expect(await actualFieldRows(h)).toEqual(await expectedFieldRows(h));
}

/** The store contract: every implementation passes the same suite. */
export function contractSuite(makeHarness: () => Promise<Harness>): void {
  let h: Harness;
  let store: Store;

  beforeAll(async () => {
    h = await makeHarness();
    store = await h.open();
  });
  afterAll(async () => {
    await h?.destroy();
  });
  beforeEach(async () => {
    await h.reset();
  });

  describe('migrations', () => {
    it('run once per version, twice and concurrently without harm', async () => {
      await store.migrate();
      const [a, b] = await Promise.all([h.open(), h.open()]);
      await Promise.all([a.migrate(), b.migrate(), store.migrate()]);
      const rows = await h.sql('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
      expect(store.info().schemaVersion).toBe(SCHEMA_VERSION);
      expect(store.info().kind).toBe(h.name);
      expect(store.info().tidb).toBe(false);
      await a.close();
      await b.close();
    });

    it('run a migration again when it was cut short after its DDL (before it was recorded)', async () => {
      await h.sql('DELETE FROM schema_migrations WHERE version = ?', [SCHEMA_VERSION]);
      await store.migrate();
      const rows = await h.sql('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    });
  });

  describe('upsert', () => {
    it('round-trips a session document', async () => {
      const doc = session('s1', {
        fields: { trans_id: 'T-1', amount: 4.99, paid: true, tags: ['a', 'b', 'a'], emoji: '支付✓😀' },
        splitOf: 's0',
        explain: 'all good',
        events: [
          { step: 'order_placed', source: 'billing', time: T0, value: { nested: { deep: [1, 2, { x: null }] }, s: 'x' } },
          { step: 'delivered', source: 'game', time: T0 + 5, value: 'raw text' },
        ],
      });
      // Fired documents carry the engine's held events (more keys): the store keeps the four.
      const held = { ...doc, events: doc.events.map((e, i) => ({ ...e, stepIndex: i, id: `d${i}`, key: 'k', template: 'payment' })) };
      await store.upsertSessions([held]);
      expect(await store.getSession('s1')).toEqual(doc);
      const stored = await store.getStored('s1');
      expect(stored?.notes).toEqual([]);
      expect(stored?.updatedAt).toBeGreaterThan(0);
      expect(await store.getSession('nope')).toBeUndefined();
      await expectConsistent(h);
    });

    it('round-trips text that SQL quoting could break, and numbers of every magnitude (written as SQL literals by MySQL)', async () => {
      const nasty = `it's "quoted" \\ back\\slash \\' ; DROP TABLE sessions; -- \u0000nul \n\r\t\u001a 😀 ${'x'.repeat(600)}`;
      const numbers = [0.1, -2.5e-7, 1e21, 123456789.123, 0, Number.MAX_SAFE_INTEGER, 5e-324];
      const doc = session('q\\1', {
        key: nasty,
        explain: nasty,
        fields: { text: nasty, tail: 'pad  ', nums: numbers, one: 0.30000000000000004 },
        events: [{ step: 'order_placed', source: 'billing', time: T0, value: { nasty, numbers } }],
      });
      await store.upsertSessions([doc]);
      const got = await store.getSession('q\\1');
      expect(got?.explain).toBe(nasty);
      expect(got?.events).toEqual(doc.events);
      expect(got?.fields.nums).toEqual(numbers);
      expect(got?.fields.one).toBe(0.30000000000000004);
      expect(ids(await all(store, { fields: [{ field: 'one', op: '=', value: 0.30000000000000004 }] }))).toEqual(['q\\1']);
      expect(ids(await all(store, { fields: [{ field: 'nums', op: '=', value: 1e21 }] }))).toEqual(['q\\1']);
      // Replaced with other fields: the old rows are deleted by their exact key.
      await store.upsertSessions([{ ...doc, version: 2, fields: { text: 'plain' } }]);
      expect(ids(await all(store, { fields: [{ field: 'one', op: '=', value: 0.30000000000000004 }] }))).toEqual([]);
      await expectConsistent(h);
    });

    it('keeps the highest version; equal or lower versions change nothing', async () => {
      await store.upsertSessions([session('s1', { version: 2, verdict: 'late', severity: 'warning' })]);
      const before = await snapshot(h);
      await store.upsertSessions([session('s1', { version: 1, verdict: 'ok' })]);
      await store.upsertSessions([session('s1', { version: 2, verdict: 'other' })]);
      expect(await snapshot(h)).toEqual(before);
      await store.upsertSessions([session('s1', { version: 3, verdict: 'ok', severity: 'ok', fields: { x: 'y' } })]);
      const got = await store.getSession('s1');
      expect(got?.version).toBe(3);
      expect(got?.verdict).toBe('ok');
      await expectConsistent(h);
    });

    it('re-delivering a whole batch changes nothing', async () => {
      const batch = Array.from({ length: 30 }, (_, i) =>
        session(`r${i}`, { start: T0 + i * 7 * 60_000, fields: { n: i, tag: [`t${i % 3}`, 'all'] }, verdict: i % 2 ? 'ok' : 'bad' }),
      );
      await store.upsertSessions(batch);
      const before = await snapshot(h);
      const c0 = store.counters();
      await store.upsertSessions(batch);
      await store.upsertSessions([...batch].reverse());
      expect(await snapshot(h)).toEqual(before);
      expect(store.counters().sessionsStale - c0.sessionsStale).toBe(60);
      expect(store.counters().sessionsWritten).toBe(c0.sessionsWritten);
    });

    it('takes the highest version of an id repeated within a batch', async () => {
      await store.upsertSessions([
        session('d', { version: 1, verdict: 'a' }),
        session('d', { version: 3, verdict: 'c' }),
        session('d', { version: 2, verdict: 'b' }),
      ]);
      expect((await store.getSession('d'))?.verdict).toBe('c');
      await expectConsistent(h);
    });

    it('splits batches larger than one transaction', async () => {
      const small = await h.open({ maxTransactionSessions: 7 });
      const batch = Array.from({ length: 50 }, (_, i) => session(`b${i}`, { fields: { i } }));
      await small.upsertSessions(batch);
      expect((await h.sql('SELECT COUNT(*) AS n FROM sessions'))[0]!.n).toBe(50);
      await expectConsistent(h);
      await small.close();
    });

    it('stays consistent with two stores writing the same sessions at once', async () => {
      const other = await h.open();
      const make = (v: number, verdict: string) =>
        Array.from({ length: 60 }, (_, i) => session(`c${i}`, { version: v, verdict, fields: { i, v } }));
      await Promise.all([
        store.upsertSessions(make(1, 'a')),
        other.upsertSessions(make(2, 'b')),
        store.upsertSessions(make(3, 'c').slice(0, 30)),
        other.upsertSessions(make(1, 'a').reverse()),
      ]);
      for (let i = 0; i < 60; i++) expect((await store.getSession(`c${i}`))?.version).toBe(i < 30 ? 3 : 2);
      await expectConsistent(h);
      await other.close();
    });

    it('moves rollups when verdict, start or status change; merged sessions leave them', async () => {
      const stats = async () =>
        (await store.stats({ template: 'payment', from: T0 - DAY, to: T0 + 2 * DAY, bucket: '1h' })).map((r) => [
          r.time,
          r.verdict,
          r.severity,
          r.count,
        ]);
      await store.upsertSessions([session('a', { verdict: 'ok' }), session('b', { verdict: 'ok' })]);
      expect(await stats()).toEqual([[T0, 'ok', 'ok', 2]]);
      await store.upsertSessions([session('a', { version: 2, verdict: 'no_callback', severity: 'critical' })]);
      expect(await stats()).toEqual([
        [T0, 'no_callback', 'critical', 1],
        [T0, 'ok', 'ok', 1],
      ]);
      await store.upsertSessions([session('a', { version: 3, verdict: 'no_callback', severity: 'critical', start: T0 + 2 * HOUR })]);
      expect(await stats()).toEqual([
        [T0, 'ok', 'ok', 1],
        [T0 + 2 * HOUR, 'no_callback', 'critical', 1],
      ]);
      await store.upsertSessions([session('b', { version: 2, status: 'merged', mergedInto: 'a', events: [] })]);
      expect(await stats()).toEqual([[T0 + 2 * HOUR, 'no_callback', 'critical', 1]]);
      await store.upsertSessions([session('c', { verdict: null, severity: null })]);
      expect(await stats()).toContainEqual([T0, null, null, 1]);
      await expectConsistent(h);
    });
  });

  describe('lookup', () => {
    it('by anchor key, within the template', async () => {
      await store.upsertSessions([
        session('k1', { key: 'order-1', start: T0 }),
        session('k2', { key: 'order-1', start: T0 + HOUR, splitOf: 'k1' }),
        session('k3', { key: 'order-2' }),
        session('k4', { key: 'order-1', template: 'refund' }),
        session('k5', { key: 'order-1 ', start: T0 }),
      ]);
      expect(ids(await store.lookup({ template: 'payment', by: 'key', key: 'order-1' })).sort()).toEqual(['k1', 'k2']);
      expect(ids(await store.lookup({ template: 'refund', by: 'key', key: 'order-1' }))).toEqual(['k4']);
      expect(ids(await store.lookup({ template: 'payment', by: 'key', key: 'order-1 ' }))).toEqual(['k5']);
      expect(await store.lookup({ template: 'payment', by: 'key', key: 'order-9' })).toEqual([]);
      const [full] = await store.lookup({ template: 'payment', by: 'key', key: 'order-2' });
      expect(full).toEqual(session('k3', { key: 'order-2' }));
    });

    it('by field value: strings, numbers and booleans by their text, any element of a list', async () => {
      await store.upsertSessions([
        session('f1', { fields: { trans_id: 'T-1', amount: 12.5, paid: true, transfers: ['X1', 'X2'] } }),
        session('f2', { fields: { trans_id: 'T-2', amount: 12, transfers: ['X2', 'X3'] } }),
        session('f3', { template: 'other', fields: { trans_id: 'T-1' } }),
      ]);
      const by = async (field: string, value: string) =>
        ids(await store.lookup({ template: 'payment', by: 'field', field, value })).sort();
      expect(await by('trans_id', 'T-1')).toEqual(['f1']);
      expect(await by('amount', '12.5')).toEqual(['f1']);
      expect(await by('amount', '12')).toEqual(['f2']);
      expect(await by('paid', 'true')).toEqual(['f1']);
      expect(await by('transfers', 'X2')).toEqual(['f1', 'f2']);
      expect(await by('transfers', 'X3')).toEqual(['f2']);
      expect(await by('trans_id', 't-1')).toEqual([]);
      expect(await by('trans_id', 'T-1 ')).toEqual([]);
      // A later version that drops a value is no longer found by it.
      await store.upsertSessions([session('f2', { version: 2, fields: { trans_id: 'T-2', transfers: ['X3'] } })]);
      expect(await by('transfers', 'X2')).toEqual(['f1']);
      expect(await by('amount', '12')).toEqual([]);
      await expectConsistent(h);
    });

    it('includes merged sessions (as the engine in-memory store does)', async () => {
      await store.upsertSessions([session('m1', { status: 'merged', mergedInto: 'm2', events: [] }), session('m2')]);
      expect(ids(await store.lookup({ template: 'payment', by: 'key', key: 'order-m1' }))).toEqual(['m1']);
    });
  });

  describe('search', () => {
    const corpus = (): SessionDoc[] =>
      Array.from({ length: 40 }, (_, i) =>
        session(`q${String(i).padStart(2, '0')}`, {
          template: i % 4 === 3 ? 'refund' : 'payment',
          // Pairs share a start: pagination must break ties by id.
          start: T0 + Math.floor(i / 2) * 10 * 60_000,
          verdict: i % 5 === 0 ? 'no_callback' : 'ok',
          severity: i % 5 === 0 ? 'critical' : 'ok',
          status: i === 7 ? 'merged' : i % 3 === 0 ? 'open' : 'final',
          fields: {
            channel: i % 2 === 0 ? 'alipay' : 'wechat',
            amount: i * 1.5,
            code: `C_${i % 10}%`,
            items: [`item${i % 3}`, `item${(i + 1) % 3}`],
          },
        }),
      );

    beforeEach(async () => {
      await store.upsertSessions(corpus());
    });

    const expected = (pred: (d: SessionDoc, i: number) => boolean): string[] =>
      corpus()
        .filter((d, i) => d.status !== 'merged' && pred(d, i))
        .sort((a, b) => b.start - a.start || (a.id < b.id ? 1 : -1))
        .map((d) => d.id);

    it('returns everything but merged sessions, newest first, in pages', async () => {
      const got = await all(store, { limit: 7 });
      expect(ids(got)).toEqual(expected(() => true));
      expect(got[0]!.eventCount).toBe(1);
      expect(got[0]!.fields.items).toBeDefined();
    });

    it('answers briefs (trace search) with the same hits and cursors as full summaries', async () => {
      for (const query of [
        { limit: 7 },
        { fields: [{ field: 'channel', op: '=' as const, value: 'alipay' }], verdict: 'ok', limit: 3 },
        { fields: [{ field: 'amount', op: 'range' as const, gt: 10 }], template: 'payment', limit: 4 },
      ]) {
        let cursor: string | undefined;
        do {
          const full = await store.search({ ...query, ...(cursor ? { cursor } : {}) });
          const brief = await store.searchBriefs({ ...query, ...(cursor ? { cursor } : {}) });
          expect(brief.cursor).toBe(full.cursor);
          expect(brief.sessions).toEqual(
            full.sessions.map((s) => ({ id: s.id, template: s.template, key: s.key, start: s.start, end: s.end, verdict: s.verdict, severity: s.severity, fields: s.fields })),
          );
          cursor = full.cursor ?? undefined;
        } while (cursor);
      }
    });

    it('filters by field equality, with and without the other conditions', async () => {
      expect(ids(await all(store, { fields: [{ field: 'channel', op: '=', value: 'alipay' }], limit: 3 }))).toEqual(
        expected((d) => d.fields.channel === 'alipay'),
      );
      expect(ids(await all(store, { fields: [{ field: 'amount', op: '=', value: 15 }] }))).toEqual(['q10']);
      expect(ids(await all(store, { fields: [{ field: 'amount', op: '=', value: '15' }] }))).toEqual(['q10']);
      expect(
        ids(
          await all(store, {
            template: 'payment',
            verdict: 'ok',
            from: T0 + 30 * 60_000,
            to: T0 + 150 * 60_000,
            fields: [
              { field: 'channel', op: '=', value: 'wechat' },
              { field: 'items', op: '=', value: 'item1' },
            ],
            limit: 2,
          }),
        ),
      ).toEqual(
        expected(
          (d) =>
            d.template === 'payment' &&
            d.verdict === 'ok' &&
            d.start >= T0 + 30 * 60_000 &&
            d.start < T0 + 150 * 60_000 &&
            d.fields.channel === 'wechat' &&
            (d.fields.items as string[]).includes('item1'),
        ),
      );
    });

    it('filters by in, range and prefix', async () => {
      expect(ids(await all(store, { fields: [{ field: 'items', op: 'in', values: ['item0', 'item2'] }] }))).toEqual(
        expected((d) => (d.fields.items as string[]).some((v) => v === 'item0' || v === 'item2')),
      );
      // Numbers numerically, strings against the number's text, in one condition.
      expect(ids(await all(store, { fields: [{ field: 'amount', op: 'in', values: [15, '3', 'nope'] }] }))).toEqual(['q10', 'q02']);
      expect(
        ids(
          await all(store, {
            fields: [
              { field: 'channel', op: '=', value: 'alipay' },
              { field: 'amount', op: 'range', gt: 20 },
              { field: 'amount', op: 'in', values: [24, 27, 30, 999] },
            ],
          }),
        ),
      ).toEqual(expected((d) => d.fields.channel === 'alipay' && [24, 27, 30].includes(d.fields.amount as number)));
      expect(ids(await all(store, { fields: [{ field: 'amount', op: 'in', values: [] }] }))).toEqual([]);
      expect(ids(await all(store, { fields: [{ field: 'amount', op: 'range', gte: 10, lt: 20 }] }))).toEqual(
        expected((d) => (d.fields.amount as number) >= 10 && (d.fields.amount as number) < 20),
      );
      expect(ids(await all(store, { fields: [{ field: 'items', op: 'range', gt: 'item0', lte: 'item1' }] }))).toEqual(
        expected((d) => (d.fields.items as string[]).some((v) => v > 'item0' && v <= 'item1')),
      );
      expect(ids(await all(store, { fields: [{ field: 'code', op: 'prefix', value: 'C_1' }] }))).toEqual(
        expected((d) => String(d.fields.code).startsWith('C_1')),
      );
      // LIKE wildcards in the prefix are literal.
      expect(ids(await all(store, { fields: [{ field: 'code', op: 'prefix', value: 'C%' }] }))).toEqual([]);
      expect(ids(await all(store, { fields: [{ field: 'code', op: 'prefix', value: 'C__' }] }))).toEqual([]);
      expect(ids(await all(store, { fields: [{ field: 'code', op: 'prefix', value: 'C_3%' }] }))).toEqual(
        expected((d) => d.fields.code === 'C_3%'),
      );
    });

    it('filters by verdict, severity, status, template, key and time', async () => {
      expect(ids(await all(store, { severity: 'critical' }))).toEqual(expected((d) => d.severity === 'critical'));
      expect(ids(await all(store, { verdict: ['no_callback'], template: 'refund' }))).toEqual(
        expected((d) => d.verdict === 'no_callback' && d.template === 'refund'),
      );
      expect(ids(await all(store, { status: 'merged' }))).toEqual(['q07']);
      expect(ids(await all(store, { status: ['open'] }))).toEqual(expected((d) => d.status === 'open'));
      expect(ids(await all(store, { key: 'order-q05' }))).toEqual(['q05']);
      expect(ids(await all(store, { from: T0 + 60 * 60_000, to: T0 + 100 * 60_000 }))).toEqual(
        expected((d) => d.start >= T0 + 60 * 60_000 && d.start < T0 + 100 * 60_000),
      );
      expect(await all(store, { verdict: [] })).toEqual([]);
    });

    it('rejects bad cursors and bad conditions', async () => {
      await expect(store.search({ cursor: 'garbage' })).rejects.toBeInstanceOf(StoreQueryError);
      await expect(store.search({ fields: [{ field: 'a', op: 'range' }] })).rejects.toBeInstanceOf(StoreQueryError);
      await expect(store.search({ fields: [{ field: 'a', op: 'range', gt: 1, lt: 'x' }] })).rejects.toBeInstanceOf(StoreQueryError);
      await expect(store.search({ limit: 0 })).rejects.toBeInstanceOf(StoreQueryError);
    });

    it('suggests the most frequent field values', async () => {
      const channels = await store.fieldValues('channel');
      expect(channels.complete).toBe(true);
      expect(channels.values).toEqual([
        { value: 'alipay', count: 20 },
        { value: 'wechat', count: 20 },
      ]);
      const items = await store.fieldValues('items', { template: 'refund', limit: 2 });
      expect(items.values.length).toBe(2);
      const codes = await store.fieldValues('code', { prefix: 'C_1' });
      expect(codes.values).toEqual([{ value: 'C_1%', count: 4 }]);
      const sampled = await store.fieldValues('channel', { scanLimit: 10 });
      expect(sampled.complete).toBe(false);
      expect(sampled.values.reduce((n, v) => n + v.count, 0)).toBe(10);
    });
  });

  describe('search: a range or prefix combined with other conditions', () => {
    // Scalars, lists (several rows per field), numbers stored as text too, numeric strings, a float
    // whose text is long: each combined search must equal a brute-force filter of what the store holds.
    const corpus = (): SessionDoc[] =>
      Array.from({ length: 60 }, (_, i) => {
        const amount = i % 11 === 0 ? [i * 2.5, 300 - i] : i % 13 === 0 ? String(i * 2.5) : i === 17 ? 0.1 + 0.2 : i * 2.5;
        return session(`r${String(i).padStart(2, '0')}`, {
          start: T0 + Math.floor(i / 3) * 60_000,
          verdict: i % 4 === 0 ? 'paid_no_callback' : 'ok',
          severity: i % 4 === 0 ? 'critical' : 'ok',
          status: i === 9 ? 'merged' : 'final',
          fields: {
            amount,
            product: `sku${i % 5}`,
            ref: i % 7 === 0 ? [`R${i % 3}-${i}`, `Q${i}`] : `R${i % 3}-${i}`,
            paid: i % 2 === 0,
          },
        });
      });

    beforeEach(async () => {
      await store.upsertSessions(corpus());
    });

    const numbers = (v: FieldValue | undefined): number[] => elements(v).filter((e): e is number => typeof e === 'number');
    const texts = (v: FieldValue | undefined): string[] => elements(v).map(String);

    it('returns what a brute-force filter of the stored sessions returns, page by page', async () => {
      const stored = await all(store, { limit: 1000 });
      expect(stored.length).toBe(59);
      const cases: SearchCase[] = [
        {
          query: { verdict: 'paid_no_callback', fields: [{ field: 'amount', op: 'range', gt: 40 }] },
          holds: (s) => s.verdict === 'paid_no_callback' && numbers(s.fields.amount).some((n) => n > 40),
        },
        {
          query: { fields: [{ field: 'product', op: '=', value: 'sku2' }, { field: 'amount', op: 'range', gte: 20, lt: 120 }] },
          holds: (s) => s.fields.product === 'sku2' && numbers(s.fields.amount).some((n) => n >= 20 && n < 120),
        },
        {
          query: { severity: 'ok', fields: [{ field: 'ref', op: 'prefix', value: 'R1' }, { field: 'paid', op: '=', value: true }] },
          holds: (s) => s.severity === 'ok' && texts(s.fields.ref).some((t) => t.startsWith('R1')) && s.fields.paid === true,
        },
        {
          query: { from: T0 + 3 * 60_000, to: T0 + 15 * 60_000, fields: [{ field: 'amount', op: 'range', lte: 30 }] },
          holds: (s) => s.start >= T0 + 3 * 60_000 && s.start < T0 + 15 * 60_000 && numbers(s.fields.amount).some((n) => n <= 30),
        },
        {
          // Text ranges and prefixes see numbers by their text (and numeric strings as they are).
          query: { verdict: ['ok', 'paid_no_callback'], fields: [{ field: 'amount', op: 'prefix', value: '0.3' }] },
          holds: (s) => texts(s.fields.amount).some((t) => t.startsWith('0.3')),
        },
        {
          query: { key: 'order-r26', fields: [{ field: 'amount', op: 'range', gt: 'Z' }] },
          holds: () => false,
        },
        {
          query: { verdict: 'ok', fields: [{ field: 'amount', op: 'range', gt: '5', lt: '7' }, { field: 'ref', op: 'prefix', value: 'R' }] },
          holds: (s) =>
            s.verdict === 'ok' && texts(s.fields.amount).some((t) => t > '5' && t < '7') && texts(s.fields.ref).some((t) => t.startsWith('R')),
        },
        {
          query: { fields: [{ field: 'ref', op: '=', value: 'Q14' }, { field: 'amount', op: 'range', gt: 200 }] },
          holds: (s) => texts(s.fields.ref).includes('Q14') && numbers(s.fields.amount).some((n) => n > 200),
        },
        {
          query: { verdict: 'paid_no_callback', fields: [{ field: 'missing', op: 'range', gt: 0 }] },
          holds: () => false,
        },
      ];
      await expectBruteForce(store, stored, cases);
      // The cases are not vacuous.
      expect(cases.filter((c) => stored.some(c.holds)).length).toBeGreaterThanOrEqual(6);
    });
  });

  describe('search: != (columns and fields), !~ (prefix) and duration', () => {
    // Sessions without a verdict; fields absent, empty lists, lists, numbers, numeric strings and
    // booleans; a field name no JSON path spells plainly; durations from 0 to an hour.
    const DURATIONS = [0, 500, 1500, 60_000, 1499, 3_600_000];
    const WEIRD = 'we"ird';
    const corpus = (): SessionDoc[] =>
      Array.from({ length: 40 }, (_, i) => {
        const start = T0 + Math.floor(i / 2) * 60_000;
        const fields: Record<string, FieldValue> = {};
        if (i % 5 !== 4) fields.channel = i % 2 === 0 ? 'alipay' : 'wechat';
        const tags: (FieldValue | undefined)[] = [[], ['vip', 'new'], ['new', 'app'], 'vip', undefined, ['v2']];
        if (tags[i % 6] !== undefined) fields.tags = tags[i % 6]!;
        const amounts: (FieldValue | undefined)[] = ['5', 5, [5, 7], [7, 12.5], undefined, i * 1.5, i * 1.5 + 0.25];
        if (amounts[i % 7] !== undefined) fields.amount = amounts[i % 7]!;
        if (i % 3 !== 2) fields.paid = i % 3 === 0;
        if (i % 8 !== 7) fields.code = `C_${i % 4}x`;
        if (i % 10 !== 9) fields[WEIRD] = i % 2 === 0 ? 'x' : 'y';
        const verdict = [null, 'ok', 'no_callback', 'late'][i % 4]!;
        return session(`n${String(i).padStart(2, '0')}`, {
          template: i % 5 === 3 ? 'refund' : 'payment',
          start,
          end: start + DURATIONS[i % 6]!,
          verdict,
          severity: verdict === null ? null : verdict === 'ok' ? 'ok' : verdict === 'late' ? 'warning' : 'critical',
          status: i === 13 ? 'merged' : verdict === null ? 'open' : 'final',
          fields,
        });
      });

    beforeEach(async () => {
      await store.upsertSessions(corpus());
    });

    /** What `=` matches: a finite number numerically, anything else by text. */
    const equals = (e: unknown, v: string | number | boolean): boolean => (typeof v === 'number' && Number.isFinite(v) ? e === v : String(e) === String(v));
    const notEqual = (s: SessionSummary, field: string, v: string | number | boolean): boolean =>
      elements(s.fields[field]).length > 0 && !elements(s.fields[field]).some((e) => equals(e, v));
    const notPrefix = (s: SessionSummary, field: string, p: string): boolean =>
      elements(s.fields[field]).length > 0 && !elements(s.fields[field]).some((e) => String(e).startsWith(p));
    const lasts = (s: SessionSummary): number => s.end - s.start;

    it('returns what a brute-force filter of the stored sessions returns, page by page, on both plans', async () => {
      const stored = await all(store, { limit: 1000 });
      expect(stored.length).toBe(39);
      const cases: SearchCase[] = [
        // A session without a verdict has no verdict to differ: it does not match.
        { query: { notVerdict: 'ok' }, holds: (s) => s.verdict !== null && s.verdict !== 'ok' },
        { query: { notVerdict: ['ok', 'late'], template: 'payment' }, holds: (s) => s.verdict === 'no_callback' && s.template === 'payment' },
        { query: { notTemplate: 'refund', severity: ['warning', 'critical'] }, holds: (s) => s.template !== 'refund' && ['warning', 'critical'].includes(String(s.severity)) },
        { query: { notKey: ['order-n03', 'order-n04'] }, holds: (s) => s.key !== 'order-n03' && s.key !== 'order-n04' },
        { query: { fields: [{ field: 'channel', op: '!=', value: 'alipay' }] }, holds: (s) => notEqual(s, 'channel', 'alipay') },
        // Multi-valued: none of the elements; an empty list is no value.
        { query: { fields: [{ field: 'tags', op: '!=', value: 'vip' }] }, holds: (s) => notEqual(s, 'tags', 'vip') },
        // A number numerically (the string "5" differs), a string by text (the number 5 is "5").
        { query: { fields: [{ field: 'amount', op: '!=', value: 5 }] }, holds: (s) => notEqual(s, 'amount', 5) },
        { query: { fields: [{ field: 'amount', op: '!=', value: '5' }] }, holds: (s) => notEqual(s, 'amount', '5') },
        { query: { fields: [{ field: 'paid', op: '!=', value: true }] }, holds: (s) => notEqual(s, 'paid', true) },
        { query: { fields: [{ field: WEIRD, op: '!=', value: 'x' }] }, holds: (s) => notEqual(s, WEIRD, 'x') },
        { query: { fields: [{ field: 'missing', op: '!=', value: 'x' }] }, holds: () => false },
        { query: { fields: [{ field: 'code', op: 'notPrefix', value: 'C_1' }] }, holds: (s) => notPrefix(s, 'code', 'C_1') },
        { query: { fields: [{ field: 'tags', op: 'notPrefix', value: 'v' }] }, holds: (s) => notPrefix(s, 'tags', 'v') },
        { query: { fields: [{ field: 'amount', op: 'notPrefix', value: '1' }] }, holds: (s) => notPrefix(s, 'amount', '1') },
        { query: { fields: [{ field: WEIRD, op: 'notPrefix', value: 'y' }] }, holds: (s) => notPrefix(s, WEIRD, 'y') },
        // With a driving equality, a range (read whole or per candidate), and each other.
        {
          query: { fields: [{ field: 'channel', op: '=', value: 'wechat' }, { field: 'tags', op: '!=', value: 'new' }] },
          holds: (s) => s.fields.channel === 'wechat' && notEqual(s, 'tags', 'new'),
        },
        {
          query: { notVerdict: 'no_callback', fields: [{ field: 'amount', op: 'range', gt: 6 }, { field: 'channel', op: '!=', value: 'alipay' }, { field: 'code', op: 'notPrefix', value: 'C_3' }] },
          holds: (s) =>
            s.verdict !== null && s.verdict !== 'no_callback' && elements(s.fields.amount).some((e) => typeof e === 'number' && e > 6) &&
            notEqual(s, 'channel', 'alipay') && notPrefix(s, 'code', 'C_3'),
        },
        { query: { duration: [{ op: '>', ms: 1000 }] }, holds: (s) => lasts(s) > 1000 },
        { query: { duration: [{ op: '>=', ms: 1500 }, { op: '<', ms: 60_000 }] }, holds: (s) => lasts(s) >= 1500 && lasts(s) < 60_000 },
        { query: { duration: [{ op: '=', ms: 500 }] }, holds: (s) => lasts(s) === 500 },
        { query: { duration: [{ op: '!=', ms: 0 }] }, holds: (s) => lasts(s) !== 0 },
        { query: { duration: [{ op: '<=', ms: 1499.5 }] }, holds: (s) => lasts(s) <= 1499.5 },
        {
          query: { notVerdict: 'ok', duration: [{ op: '>', ms: 1499 }], fields: [{ field: 'paid', op: '=', value: true }] },
          holds: (s) => s.verdict !== null && s.verdict !== 'ok' && lasts(s) > 1499 && s.fields.paid === true,
        },
      ];
      await expectBruteForce(store, stored, cases, true);
      // Not vacuous: each case but the absent field matches some sessions and leaves out others.
      expect(cases.filter((c) => !stored.some(c.holds) || stored.every(c.holds)).map((c) => JSON.stringify(c.query))).toEqual([
        JSON.stringify({ fields: [{ field: 'missing', op: '!=', value: 'x' }] }),
      ]);
    });

    it('spells the TraceQL semantics out on a few sessions', async () => {
      // n00: no verdict; n01: ok; n02: no_callback. tags: n00 [], n01 ['vip', 'new'], n02 ['new', 'app'],
      // n03 'vip', n04 none, n05 ['v2'], n06 [].
      const got = async (query: SearchQuery) => ids(await all(store, { ...query, limit: 1000 })).sort();
      expect(await got({ notVerdict: 'ok', key: 'order-n00' })).toEqual([]);
      expect(await got({ notVerdict: 'ok', key: 'order-n02' })).toEqual(['n02']);
      const firstSix = { from: T0, to: T0 + 3 * 60_000 };
      expect(await got({ fields: [{ field: 'tags', op: '!=', value: 'vip' }], ...firstSix })).toEqual(['n02', 'n05']);
      expect(await got({ fields: [{ field: 'tags', op: '=', value: 'vip' }], ...firstSix })).toEqual(['n01', 'n03']);
      expect(await got({ fields: [{ field: 'tags', op: '!=', value: 'vip' }], key: 'order-n06' })).toEqual([]);
      expect(await got({ duration: [{ op: '=', ms: 3_600_000 }] })).toEqual(['n05', 'n11', 'n17', 'n23', 'n29', 'n35']);
    });

    it('rejects bad negations and durations', async () => {
      await expect(store.search({ duration: [{ op: '~' as never, ms: 1 }] })).rejects.toThrow(/duration: unknown operator ~/);
      await expect(store.search({ duration: [{ op: '>', ms: Number.NaN }] })).rejects.toThrow(/duration: NaN is not a finite number/);
      await expect(store.search({ fields: [{ field: 'a', op: '!=', value: {} as never }] })).rejects.toBeInstanceOf(StoreQueryError);
      await expect(store.search({ fields: [{ field: 'a', op: 'notPrefix', value: 5 as never }] })).rejects.toBeInstanceOf(StoreQueryError);
    });
  });

  describe('stats', () => {
    it('counts per verdict per bucket from the rollups, at 1m, 1h and 1d', async () => {
      const docs = Array.from({ length: 60 }, (_, i) =>
        session(`st${i}`, {
          start: T0 + i * 37 * 60_000 + 1234,
          verdict: i % 3 === 0 ? 'bad' : 'ok',
          severity: i % 3 === 0 ? 'warning' : 'ok',
          template: i % 10 === 0 ? 'refund' : 'payment',
        }),
      );
      await store.upsertSessions(docs);
      for (const [bucket, size] of [
        ['1m', 60_000],
        ['1h', HOUR],
        ['1d', DAY],
      ] as const) {
        const rows = await store.stats({ template: 'payment', from: T0, to: T0 + 60 * 37 * 60_000, bucket });
        const want = new Map<string, number>();
        for (const d of docs) {
          if (d.template !== 'payment') continue;
          const k = `${Math.floor(d.start / size) * size}|${d.verdict}`;
          want.set(k, (want.get(k) ?? 0) + 1);
        }
        expect(new Map(rows.map((r) => [`${r.time}|${r.verdict}`, r.count]))).toEqual(want);
        const times = rows.map((r) => r.time);
        expect(times).toEqual([...times].sort((a, b) => a - b));
      }
      const allTemplates = await store.stats({ from: T0, to: T0 + 365 * DAY, bucket: '1d' });
      expect(allTemplates.reduce((n, r) => n + r.count, 0)).toBe(60);
      expect(new Set(allTemplates.map((r) => r.template))).toEqual(new Set(['payment', 'refund']));
      const onlyBad = await store.stats({ from: T0, to: T0 + DAY * 2, bucket: '1d', verdict: 'bad' });
      expect(onlyBad.reduce((n, r) => n + r.count, 0)).toBe(20);
      const bySeverity = await store.stats({ from: T0, to: T0 + DAY * 2, bucket: '1d', severity: ['warning'] });
      expect(bySeverity.reduce((n, r) => n + r.count, 0)).toBe(20);
      await expect(store.stats({ from: T0, to: T0 + 1, bucket: '5m' as never })).rejects.toBeInstanceOf(StoreQueryError);
    });
  });

  describe('rollups under random fires, updates, merges and replays', () => {
    const VERDICTS: [string | null, string | null][] = [
      ['ok', 'ok'],
      ['paid_no_callback', 'critical'],
      ['slow', 'warning'],
      [null, null],
    ];
    // Starts around minute, hour and day boundaries.
    const STARTS = [T0, T0 + 59_999, T0 + 60_000, T0 + HOUR - 1, T0 + HOUR, T0 + DAY - 1, T0 + DAY, T0 + 400 * DAY];
    const op = fc.record({
      kind: fc.constantFrom('fire', 'fire', 'fire', 'replay') as fc.Arbitrary<'fire' | 'replay'>,
      id: fc.integer({ min: 0, max: 5 }),
      verdict: fc.integer({ min: 0, max: VERDICTS.length - 1 }),
      start: fc.integer({ min: 0, max: STARTS.length - 1 }),
      status: fc.constantFrom('open', 'final', 'final', 'merged') as fc.Arbitrary<SessionStatus>,
      template: fc.integer({ min: 0, max: 1 }),
      fields: fc.dictionary(
        fc.constantFrom('trans_id', 'amount', 'tags'),
        fc.oneof(fc.constantFrom('A', 'B', ''), fc.integer({ min: -3, max: 3 }), fc.array(fc.constantFrom('x', 'y', 'z'), { maxLength: 4 })),
        { maxKeys: 3 },
      ),
      pick: fc.nat(),
      bump: fc.integer({ min: 1, max: 3 }),
    });

    it('always equal count(*) … group by over sessions', async () => {
      const runs = h.name === 'sqlite' ? 60 : 25;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), async (batches) => {
          await h.reset();
          const model = new Map<string, SessionDoc>();
          const history: SessionDoc[] = [];
          for (const batch of batches) {
            const docs: SessionDoc[] = [];
            for (const o of batch) {
              if (o.kind === 'replay' && history.length > 0) {
                docs.push(history[o.pick % history.length]!);
                continue;
              }
              const id = `p${o.id}`;
              const prev = model.get(id);
              const [verdict, severity] = VERDICTS[o.verdict]!;
              const doc = session(id, {
                template: prev?.template ?? (o.template ? 'refund' : 'payment'),
                version: (prev?.version ?? 0) + o.bump,
                start: STARTS[o.start]!,
                verdict,
                severity: severity as SessionDoc['severity'],
                status: o.status,
                mergedInto: o.status === 'merged' ? 'p0' : null,
                fields: o.fields,
              });
              docs.push(doc);
              // Later fires of this batch build on this one.
              model.set(id, doc);
              history.push(doc);
            }
            await store.upsertSessions(docs);
          }
          await expectConsistent(h);
          for (const [id, doc] of model) expect(await store.getSession(id)).toEqual(doc);
          const count = await h.sql('SELECT COUNT(*) AS n FROM sessions');
          expect(Number(count[0]!.n)).toBe(model.size);
        }),
        { numRuns: runs },
      );
    });
  });

  describe('bad values', () => {
    it('stores them truncated or normalised, with notes, and never throws', async () => {
      const big = 'v'.repeat(10 * 1024);
      const longKey = 'k'.repeat(600);
      const lone = 'bad\uD800text';
      const hugeEvent = { blob: 'x'.repeat(5 * 1024 * 1024) };
      const doc = session('bad1', {
        key: longKey,
        fields: {
          big,
          nan: NaN,
          inf: -Infinity,
          lone,
          obj: { a: 1 } as unknown as FieldValue,
          nil: null as unknown as FieldValue,
          list: ['ok', NaN, 'x'.repeat(700)] as unknown as FieldValue,
        },
        explain: 'e'.repeat(5000),
        events: [
          { step: 'order_placed', source: 'billing', time: T0, value: hugeEvent },
          { step: 'paid', source: 'billing', time: T0 + 1, value: { small: lone } },
        ],
      });
      await store.upsertSessions([doc]);
      const stored = await store.getStored('bad1');
      expect(stored).toBeDefined();
      const s = stored!.session;
      expect(s.key).toBe(longKey);
      expect(s.fields.big).toBe('v'.repeat(512));
      expect(s.fields.nan).toBe('NaN');
      expect(s.fields.inf).toBe('-Infinity');
      expect(s.fields.lone).toBe('bad\uFFFDtext');
      expect(s.fields.obj).toBe('{"a":1}');
      expect(s.fields.nil).toBeUndefined();
      expect(s.fields.list).toEqual(['ok', 'NaN', 'x'.repeat(512)]);
      expect(s.explain).toHaveLength(4000);
      expect(s.events).toHaveLength(2);
      expect(s.events[0]!.value).toEqual({ _truncated: expect.stringContaining('elided') });
      expect(s.events[1]!.value).toEqual({ small: lone });
      const notes = stored!.notes.join('\n');
      for (const what of ['fields.big', 'fields.nan', 'fields.inf', 'fields.lone', 'fields.obj', 'fields.nil', 'key', 'explain', 'events']) {
        expect(notes).toContain(what);
      }
      expect(store.counters().valuesNormalised).toBeGreaterThanOrEqual(9);
      // Still found: by the truncated value, by the full value (cut the same way), by the whole key.
      expect(ids(await store.lookup({ template: 'payment', by: 'field', field: 'big', value: big }))).toEqual(['bad1']);
      expect(ids(await store.lookup({ template: 'payment', by: 'field', field: 'nan', value: 'NaN' }))).toEqual(['bad1']);
      expect(ids(await store.lookup({ template: 'payment', by: 'field', field: 'lone', value: lone }))).toEqual(['bad1']);
      expect(ids(await store.lookup({ template: 'payment', by: 'key', key: longKey }))).toEqual(['bad1']);
      expect(await store.lookup({ template: 'payment', by: 'key', key: longKey + 'zz' })).toEqual([]);
      expect(ids((await store.search({ fields: [{ field: 'big', op: '=', value: 'v'.repeat(512) }] })).sessions)).toEqual(['bad1']);
      const [summary] = (await store.search({ key: longKey })).sessions;
      expect(summary?.notes.length).toBeGreaterThan(0);
      await expectConsistent(h);
    });

    it('indexes values of one list that differ only in trailing spaces once (PAD SPACE keys)', async () => {
      await store.upsertSessions([session('sp', { fields: { v: ['x', 'x ', 'y'] } })]);
      const stored = await store.getStored('sp');
      expect(stored?.session.fields.v).toEqual(['x', 'x ', 'y']);
      expect(stored?.notes.join('\n')).toContain('trailing spaces');
      expect(ids((await store.search({ fields: [{ field: 'v', op: '=', value: 'x' }] })).sessions)).toEqual(['sp']);
      await store.upsertSessions([session('sp', { version: 2, fields: { v: ['x ', 'z'] } })]);
      expect(ids((await store.search({ fields: [{ field: 'v', op: '=', value: 'x ' }] })).sessions)).toEqual(['sp']);
      expect(ids((await store.search({ fields: [{ field: 'v', op: '=', value: 'y' }] })).sessions)).toEqual([]);
      await expectConsistent(h);
    });

    it('rejects sessions it cannot key', async () => {
      await expect(store.upsertSessions([session('')])).rejects.toThrow(/id/);
      await expect(store.upsertSessions([session('x', { version: NaN })])).rejects.toThrow(/version/);
      await expect(store.upsertSessions([session('x'.repeat(300))])).rejects.toThrow(/id/);
    });

    it('keeps unicode exact (no case folding, no accent folding, no pad space)', async () => {
      await store.upsertSessions([
        session('u1', { fields: { name: 'Straße' } }),
        session('u2', { fields: { name: 'strasse' } }),
        session('u3', { fields: { name: 'café' } }),
        session('u4', { fields: { name: 'cafe' } }),
        session('u5', { fields: { name: 'x😀' } }),
        session('u6', { fields: { name: 'pad ' } }),
        session('u7', { fields: { name: 'pad' } }),
      ]);
      const eq = async (value: string) => ids((await store.search({ fields: [{ field: 'name', op: '=', value }] })).sessions);
      expect(await eq('Straße')).toEqual(['u1']);
      expect(await eq('STRASSE')).toEqual([]);
      expect(await eq('cafe')).toEqual(['u4']);
      expect(await eq('x😀')).toEqual(['u5']);
      expect(await eq('pad')).toEqual(['u7']);
      expect(await eq('pad ')).toEqual(['u6']);
      const pre = async (value: string) =>
        ids((await store.search({ fields: [{ field: 'name', op: 'prefix', value }] })).sessions).sort();
      expect(await pre('caf')).toEqual(['u3', 'u4']);
      expect(await pre('x\uD83D')).toEqual([]);
      expect(await pre('Str')).toEqual(['u1']);
    });
  });

  describe('orphans', () => {
    const orphan = (i: number) => ({
      id: `orphan-${i}`,
      template: i % 2 ? 'payment' : 'refund',
      step: 'channel_callback',
      source: 'channel',
      time: T0 + Math.floor(i / 2) * 1000,
      value: { trans_no: `TR${i}`, status: 'SUCCESS' },
      reason: 'joined no session',
      joinField: 'trans_id',
      joinValue: `TR${i}`,
    });

    it('records them once, and pages newest first with filters', async () => {
      const list = Array.from({ length: 25 }, (_, i) => orphan(i));
      await store.recordOrphans(list);
      await store.recordOrphans(list.slice(0, 10));
      expect(store.counters().orphansWritten).toBeGreaterThanOrEqual(25);
      const got = [];
      let cursor: string | null = null;
      do {
        const page = await store.orphans({ limit: 4, ...(cursor ? { cursor } : {}) });
        got.push(...page.orphans);
        cursor = page.cursor;
      } while (cursor !== null);
      expect(got).toHaveLength(25);
      expect(new Set(got.map((o) => o.id))).toEqual(new Set(list.map((o) => o.id)));
      const times = got.map((o) => o.time);
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const [one] = (await store.orphans({ joinField: 'trans_id', joinValue: 'TR3' })).orphans;
      expect(one).toMatchObject({ ...orphan(3), notes: [] });
      expect((await store.orphans({ template: 'payment' })).orphans).toHaveLength(12);
      expect((await store.orphans({ from: T0 + 5000, to: T0 + 7000 })).orphans).toHaveLength(4);
      await expect(store.orphans({ cursor: 'x' })).rejects.toBeInstanceOf(StoreQueryError);
    });

    it('hands orphans waiting on a join value over once (adoption)', async () => {
      const list = Array.from({ length: 6 }, (_, i) => ({ ...orphan(i), template: 'payment', joinValue: i < 4 ? 'TRX' : `TR${i}` }));
      await store.recordOrphans([...list, { ...orphan(9), template: 'refund', joinValue: 'TRX' }]);
      const [a, b] = await Promise.all([
        store.takeOrphans('payment', 'trans_id', 'TRX'),
        store.takeOrphans('payment', 'trans_id', 'TRX'),
      ]);
      const taken = [...a, ...b];
      expect(taken.map((o) => o.id).sort()).toEqual(['orphan-0', 'orphan-1', 'orphan-2', 'orphan-3']);
      expect(taken.find((o) => o.id === 'orphan-1')).toEqual(list[1]);
      expect(await store.takeOrphans('payment', 'trans_id', 'TRX')).toEqual([]);
      expect(await store.takeOrphans('payment', 'trans_id', 'TRX ')).toEqual([]);
      expect((await store.orphans()).orphans.map((o) => o.id).sort()).toEqual(['orphan-4', 'orphan-5', 'orphan-9']);
    });

    it('derives an id when none is given', async () => {
      const { id: _id, ...anonymous } = orphan(1);
      await store.recordOrphans([anonymous as never, anonymous as never]);
      const [one, ...rest] = (await store.orphans()).orphans;
      expect(rest).toEqual([]);
      expect(one?.id).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    });
  });

  describe('version history and operator merges', () => {
    it('records each written version once, oldest first; stale re-deliveries add nothing', async () => {
      await store.upsertSessions([session('h1', { version: 1, verdict: 'pending', severity: 'info' })]);
      await store.upsertSessions([session('h1', { version: 3, verdict: 'ok', severity: 'ok', end: T0 + 120_000 })]);
      await store.upsertSessions([session('h1', { version: 2, verdict: 'stale' }), session('h1', { version: 3 })]);
      const history = await store.history('h1');
      expect(history.map((v) => [v.version, v.verdict, v.severity, v.status, v.eventCount])).toEqual([
        [1, 'pending', 'info', 'final', 1],
        [3, 'ok', 'ok', 'final', 1],
      ]);
      expect(history[1]!.end).toBe(T0 + 120_000);
      expect(history[1]!.writtenAt).toBeGreaterThan(0);
      expect(await store.history('none')).toEqual([]);
    });

    it('keeps what an operator merge absorbed until it is deleted', async () => {
      const absorbed = session('m2', { fields: { amount: 3 } });
      await store.recordMerge('m1', absorbed);
      await store.recordMerge('m1', session('m3'));
      expect((await store.merges('m1')).map((m) => [m.survivorId, m.absorbed.id])).toEqual([
        ['m1', 'm2'],
        ['m1', 'm3'],
      ]);
      expect((await store.merges('m1'))[0]!.absorbed).toEqual(absorbed);
      await store.recordMerge('m9', absorbed); // re-recorded elsewhere: moves
      expect((await store.merges('m1')).map((m) => m.absorbed.id)).toEqual(['m3']);
      await store.deleteMerge('m3');
      expect(await store.merges('m1')).toEqual([]);
      expect((await store.merges('m9')).map((m) => m.absorbed.id)).toEqual(['m2']);
    });
  });

  describe('operator changes applied only if unchanged (replaceIfUnchanged)', () => {
    /** Everything a change may touch: sessions, fields, rollups, history, merge records. */
    const everything = async () => ({
      ...((await snapshot(h)) as object),
      versions: await h.sql('SELECT session_id, version, status, verdict FROM session_versions ORDER BY session_id, version'),
      merges: await h.sql('SELECT absorbed_id, survivor_id, absorbed_json FROM operator_merges ORDER BY absorbed_id'),
    });
    /** A merge of `absorbed` into `survivor` as the API computes it, from the versions given. */
    const mergeOf = (survivor: SessionDoc, absorbed: SessionDoc): OperatorChange => ({
      expected: new Map([
        [survivor.id, survivor.version],
        [absorbed.id, absorbed.version],
      ]),
      sessions: [
        { ...survivor, version: survivor.version + 1, verdict: 'merged-ok', fields: { amount: 9 }, events: [...survivor.events, ...absorbed.events] },
        { ...absorbed, version: absorbed.version + 1, status: 'merged', mergedInto: survivor.id, events: [] },
      ],
      recordMerges: [{ survivorId: survivor.id, absorbed }],
    });

    it('writes sessions, fields, rollups, history and the merge record together when the versions read are still stored', async () => {
      const a = session('c1', { fields: { amount: 1 } });
      const b = session('c2', { verdict: 'late', severity: 'warning', fields: { amount: 2 } });
      await store.upsertSessions([a, b]);
      await store.replaceIfUnchanged(mergeOf(a, b));
      expect(await store.getSession('c1')).toMatchObject({ version: 2, verdict: 'merged-ok', fields: { amount: 9 } });
      expect((await store.getSession('c1'))!.events).toHaveLength(2);
      expect(await store.getSession('c2')).toMatchObject({ version: 2, status: 'merged', mergedInto: 'c1', events: [] });
      expect((await store.merges('c1')).map((m) => m.absorbed)).toEqual([b]);
      expect((await store.history('c2')).map((v) => [v.version, v.status])).toEqual([
        [1, 'final'],
        [2, 'merged'],
      ]);
      // The tombstone left the rollups, the survivor moved to its new verdict.
      expect((await store.stats({ from: T0 - DAY, to: T0 + DAY, bucket: '1d' })).map((r) => [r.verdict, r.count])).toEqual([['merged-ok', 1]]);
      await expectConsistent(h);

      // The unmerge: the absorbed session restored, the survivor reverted, the record deleted.
      await store.replaceIfUnchanged({
        expected: new Map([
          ['c1', 2],
          ['c2', 2],
        ]),
        sessions: [
          { ...a, version: 3 },
          { ...b, version: 3 },
        ],
        deleteMerges: ['c2'],
      });
      expect(await store.merges('c1')).toEqual([]);
      expect(await store.getSession('c2')).toEqual({ ...b, version: 3 });
      expect((await store.stats({ from: T0 - DAY, to: T0 + DAY, bucket: '1d' })).map((r) => [r.verdict, r.count]).sort()).toEqual([
        ['late', 1],
        ['ok', 1],
      ]);
      await expectConsistent(h);
    });

    it('writes nothing and names the sessions that moved when a version read is no longer stored', async () => {
      const a = session('c1', { fields: { amount: 1 } });
      const b = session('c2', { fields: { amount: 2 } });
      await store.upsertSessions([a, b, session('c3')]);
      await store.recordMerge('c1', session('c3')); // an earlier merge, which the stale unmerge below would forget
      // Another writer (the engine, another server) stored c1's next version after the change read version 1.
      await store.upsertSessions([{ ...a, version: 2, verdict: 'late', fields: { amount: 5 } }]);
      const before = await everything();

      const stale = mergeOf(a, b);
      const error = await store.replaceIfUnchanged({ ...stale, deleteMerges: ['c2'] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreConflictError);
      expect((error as StoreConflictError).moved).toEqual([{ id: 'c1', expected: 1, stored: 2 }]);
      expect((error as StoreConflictError).ids).toEqual(['c1']);
      expect(await everything()).toEqual(before);

      // Read as absent but stored now, read as stored but absent now: both conflicts, nothing written.
      const absent = store.replaceIfUnchanged({ expected: new Map([['c3', null]]), sessions: [{ ...session('c3'), version: 7 }] });
      await expect(absent).rejects.toMatchObject({ name: 'StoreConflictError', moved: [{ id: 'c3', expected: null, stored: 1 }] });
      const gone = store.replaceIfUnchanged({ expected: new Map([['c9', 4]]), sessions: [{ ...session('c9'), version: 5 }] });
      await expect(gone).rejects.toMatchObject({ name: 'StoreConflictError', moved: [{ id: 'c9', expected: 4, stored: null }] });
      // An id only read counts as much as one written.
      const readOnly = { ...mergeOf(b, session('c3')), expected: new Map([['c2', 1], ['c3', 1], ['c1', 1]]) };
      await expect(store.replaceIfUnchanged(readOnly)).rejects.toMatchObject({ moved: [{ id: 'c1', expected: 1, stored: 2 }] });
      expect(await everything()).toEqual(before);
      await expectConsistent(h);
    });

    it('refuses a change that could half apply or record a merge without its sessions, before writing', async () => {
      const a = session('c1');
      const b = session('c2');
      await store.upsertSessions([a, b]);
      const before = await everything();
      const good = mergeOf(a, b);
      const refusals: [OperatorChange, RegExp][] = [
        [{ ...good, expected: new Map([['c1', 1]]) }, /session c2 is written but its version read is not given/],
        [{ ...good, sessions: [good.sessions[0]!, { ...good.sessions[1]!, version: 1 }] }, /session c2 is written at version 1, not above the version read \(1\)/],
        [{ ...good, sessions: [good.sessions[0]!, good.sessions[0]!] }, /session c1 is written twice/],
        [{ ...good, sessions: [good.sessions[0]!] }, /merge of c2 into c1: session c2 is not written with it/],
        [{ ...good, recordMerges: [{ survivorId: 'c1', absorbed: { ...b, version: 0 } }] }, /the absorbed session recorded is version 0, not the version read \(1\)/],
        [{ ...good, deleteMerges: ['c7'] }, /the merge of c7 is deleted but session c7 is not written with it/],
        [{ ...good, sessions: [] }, /no session to write/],
        [{ ...good, expected: { c1: 1, c2: 1 } as never }, /expected must be a Map/],
      ];
      for (const [change, message] of refusals) {
        const attempt = store.replaceIfUnchanged(change);
        await expect(attempt, String(message)).rejects.toBeInstanceOf(StoreInputError);
        await expect(attempt, String(message)).rejects.toThrow(message);
      }
      expect(await everything()).toEqual(before);
    });

    it('lets exactly one of two stores (two processes) apply changes computed from the same versions', async () => {
      const other = await h.open();
      for (let round = 0; round < 5; round++) {
        await h.reset();
        const [a, b, c] = [session('r1'), session('r2'), session('r3')];
        await store.upsertSessions([a, b, c]);
        // c into a and c into b, both computed from c at version 1.
        const outcomes = await Promise.allSettled([store.replaceIfUnchanged(mergeOf(a, c)), other.replaceIfUnchanged(mergeOf(b, c))]);
        expect(outcomes.map((o) => o.status).sort(), `round ${round}`).toEqual(['fulfilled', 'rejected']);
        const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect(lost.reason).toBeInstanceOf(StoreConflictError);
        const survivor = (await store.getSession('r3'))!.mergedInto!;
        const loser = survivor === 'r1' ? 'r2' : 'r1';
        expect((await store.getSession(survivor))!.events).toHaveLength(2);
        expect(await store.getSession(loser)).toMatchObject({ version: 1, events: [session(loser).events[0]] });
        expect((await store.merges(survivor)).map((m) => m.absorbed.id)).toEqual(['r3']);
        expect(await store.merges(loser)).toEqual([]);
        await expectConsistent(h);
      }
    });
  });

  describe('templates', () => {
    it('saves, revises only on change, lists, gets and deletes', async () => {
      const a1 = await store.saveTemplate('payment', 'id: payment\n');
      expect(a1).toMatchObject({ id: 'payment', text: 'id: payment\n', revision: 1 });
      expect(await store.saveTemplate('payment', 'id: payment\n')).toEqual(a1);
      const a2 = await store.saveTemplate('payment', 'id: payment\ntitle: x\n');
      expect(a2.revision).toBe(2);
      await store.saveTemplate('refund', '{"id":"refund"}');
      expect((await store.listTemplates()).map((t) => [t.id, t.revision])).toEqual([
        ['payment', 2],
        ['refund', 1],
      ]);
      expect(await store.getTemplate('payment')).toEqual(a2);
      expect(await store.getTemplate('nope')).toBeUndefined();
      expect(await store.deleteTemplate('refund')).toBe(true);
      expect(await store.deleteTemplate('refund')).toBe(false);
      await expect(store.saveTemplate('bad id!', 'x')).rejects.toBeInstanceOf(StoreQueryError);
    });
  });

  describe('health', () => {
    it('pings and counts', async () => {
      await store.ping();
      const c = store.counters();
      expect(c.upsertBatches).toBeGreaterThanOrEqual(0);
      expect(store.info().server).toMatch(/\d/);
    });
  });
}
