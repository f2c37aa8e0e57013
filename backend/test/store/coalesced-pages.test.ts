import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoalescedSelects } from '../../src/store/batch.js';
import type { SearchQuery, Store } from '../../src/store/index.js';
import { mysqlHarness, requireMysql, session, type Harness } from './harness.js';

describe('CoalescedSelects', () => {
  /** A fake database: answers each select with its parameters, after a little while; records statements. */
  function fake(maxBatch: number, maxInFlight: number) {
    const statements: { sql: string; params: unknown[][] }[] = [];
    let open = 0;
    let most = 0;
    const answer = (p: readonly unknown[]) => {
      if (p[0] === 'bad') throw new Error('bad select');
      return [{ answer: p[0] }];
    };
    const selects = new CoalescedSelects<{ answer: unknown }>(
      async (sql, params) => {
        statements.push({ sql, params: [[...params]] });
        most = Math.max(most, ++open);
        await new Promise((r) => setTimeout(r, 5));
        open--;
        return answer(params);
      },
      async (sql, list) => {
        statements.push({ sql, params: list.map((p) => [...p]) });
        most = Math.max(most, ++open);
        await new Promise((r) => setTimeout(r, 5));
        open--;
        return list.map(answer);
      },
      maxBatch,
      maxInFlight,
    );
    return { selects, statements, most: () => most };
  }

  it('sends a lone select at once, and selects of one shape asked for while statements are out together', async () => {
    const { selects, statements, most } = fake(3, 2);
    const lone = selects.select('A', [0]);
    // Sent in the same tick: nothing waits for a batch to fill.
    expect(statements).toEqual([{ sql: 'A', params: [[0]] }]);
    expect(await lone).toEqual([{ answer: 0 }]);
    // Its statement's slot is given back after its callers are answered.
    await new Promise((r) => setTimeout(r, 0));
    statements.length = 0;
    const asked = [['A', 1], ['A', 2], ['B', 3], ['A', 4], ['A', 5], ['B', 6], ['A', 7], ['A', 8]] as const;
    const answers = await Promise.all(asked.map(([sql, n]) => selects.select(sql, [n])));
    // Every caller gets the answer to its own select.
    expect(answers).toEqual(asked.map(([, n]) => [{ answer: n }]));
    // Two go at once; the rest wait and go by shape, at most 3 to a statement.
    expect(statements.slice(0, 2)).toEqual([{ sql: 'A', params: [[1]] }, { sql: 'A', params: [[2]] }]);
    expect(statements.slice(2)).toEqual([
      { sql: 'B', params: [[3], [6]] },
      { sql: 'A', params: [[4], [5], [7]] },
      { sql: 'A', params: [[8]] },
    ]);
    expect(most()).toBe(2);
  });

  it('runs a failed batch select by select: only the bad select fails, and it keeps going', async () => {
    const { selects, statements } = fake(4, 1);
    const first = selects.select('A', ['x']);
    const results = await Promise.allSettled(['bad', 'y', 'z'].map((p) => selects.select('A', [p])));
    await first;
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(results[2]).toEqual({ status: 'fulfilled', value: [{ answer: 'z' }] });
    // The batch of three, then each again alone.
    expect(statements.map((s) => s.params.length)).toEqual([1, 3, 1, 1, 1]);
    expect(await selects.select('A', ['w'])).toEqual([{ answer: 'w' }]);
  });
});

await requireMysql();

describe('coalesced search pages on MariaDB', () => {
  let h: Harness;
  let store: Store;
  const T0 = Date.parse('2025-06-01T00:00:00Z');
  beforeAll(async () => {
    h = await mysqlHarness();
    store = await h.open();
    // 12 users with 1..12 sessions each, verdicts and starts mixed, some starts shared (ties broken by id).
    const docs = [];
    for (let u = 0; u < 12; u++) {
      for (let k = 0; k <= u; k++) {
        const id = `u${u}-${String.fromCharCode(97 + ((k * 7) % 26))}${k}`;
        docs.push(session(id, { start: T0 + (k % 4) * 60_000, end: T0 + (k % 4) * 60_000 + 1000, verdict: k % 3 === 0 ? 'late' : 'ok', fields: { user: `u${u}`, k } }));
      }
    }
    await store.upsertSessions(docs);
  });
  afterAll(async () => h?.destroy());

  it('answers concurrent searches (several statements of several pages, two shapes, cursors) exactly as searches one at a time', async () => {
    const queries: SearchQuery[] = [];
    for (let u = 0; u < 12; u++) {
      queries.push({ fields: [{ field: 'user', op: '=', value: `u${u}` }], limit: 3 });
      queries.push({ fields: [{ field: 'user', op: '=', value: `u${u}` }], verdict: 'ok', limit: 20 });
      queries.push({ fields: [{ field: 'user', op: '=', value: `u${u}` }], limit: 2 });
    }
    const alone = [];
    for (const q of queries) alone.push({ briefs: await store.searchBriefs(q), page: await store.search(q) });
    const together = await Promise.all(queries.map(async (q) => ({ briefs: await store.searchBriefs(q), page: await store.search(q) })));
    expect(together).toEqual(alone);
    // The answers are right, not just equal: user 11's 12 sessions, newest first, ties by id descending.
    const u11 = alone[33]!.briefs;
    expect(u11.sessions.map((s) => s.id)).toEqual(['u11-z11', 'u11-x7', 'u11-v3']);
    // Following cursors concurrently walks each user's sessions once.
    const walks = await Promise.all(
      Array.from({ length: 12 }, async (_, u) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.searchBriefs({ fields: [{ field: 'user', op: '=', value: `u${u}` }], limit: 2, ...(cursor ? { cursor } : {}) });
          seen.push(...page.sessions.map((s) => s.id));
          cursor = page.cursor ?? undefined;
        } while (cursor !== undefined);
        return seen;
      }),
    );
    walks.forEach((seen, u) => {
      expect(new Set(seen).size).toBe(u + 1);
      expect(seen.every((id) => id.startsWith(`u${u}-`))).toBe(true);
    });
  });
});
