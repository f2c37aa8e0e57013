import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PointReads, paddedSize } from '../../src/store/batch.js';
import type { Store } from '../../src/store/index.js';
import { mysqlHarness, requireMysql, session, type Harness } from './harness.js';

describe('PointReads', () => {
  it('sends a lone read at once, and reads asked for while statements are out together', async () => {
    const fetches: string[][] = [];
    let open = 0;
    let most = 0;
    const reads = new PointReads<string>(
      async (ids) => {
        fetches.push([...ids]);
        most = Math.max(most, ++open);
        await new Promise((r) => setTimeout(r, 5));
        open--;
        return new Map(ids.filter((id) => id !== 'missing').map((id) => [id, `row ${id}`]));
      },
      3,
      undefined,
      2,
    );
    const lone = reads.get('x');
    // Sent in the same tick: no waiting for a batch to fill.
    expect(fetches).toEqual([['x']]);
    expect(await lone).toBe('row x');
    fetches.length = 0;
    const answers = await Promise.all(['a', 'b', 'a', 'missing', 'c', 'd', 'e', 'f'].map((id) => reads.get(id)));
    expect(answers).toEqual(['row a', 'row b', 'row a', undefined, 'row c', 'row d', 'row e', 'row f']);
    // Two go at once; the rest wait and go at most 3 keys per statement, each key once per statement.
    expect(fetches.slice(0, 2)).toEqual([['a'], ['b']]);
    expect(fetches.slice(2).flat().sort()).toEqual(['a', 'c', 'd', 'e', 'f', 'missing']);
    expect(fetches.every((f) => f.length <= 3 && new Set(f).size === f.length)).toBe(true);
    expect(fetches).toHaveLength(4);
    expect(most).toBe(2);
  });

  it('fails every caller of a failed fetch, and only those, and keeps going', async () => {
    const reads = new PointReads<string>(
      async (ids) => {
        if (ids.includes('bad')) throw new Error('boom');
        return new Map(ids.map((id) => [id, id]));
      },
      2,
      undefined,
      1,
    );
    const results = await Promise.allSettled(['bad', 'x', 'y'].map((id) => reads.get(id)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(await reads.get('z')).toBe('z');
  });

  it('pads IN lists to powers of two', () => {
    expect([1, 2, 3, 5, 33, 64, 65].map((n) => paddedSize(n, 64))).toEqual([1, 2, 4, 8, 64, 64, 64]);
  });
});

await requireMysql();

describe('coalesced getStored on MariaDB', () => {
  let h: Harness;
  let store: Store;
  beforeAll(async () => {
    h = await mysqlHarness();
    store = await h.open();
    await store.upsertSessions(Array.from({ length: 150 }, (_, i) => session(`s${i}`, { fields: { n: i } })));
  });
  afterAll(async () => h?.destroy());

  it('answers concurrent reads (more than one batch, repeats, missing ids) exactly as single reads do', async () => {
    const ids = [...Array.from({ length: 150 }, (_, i) => `s${i}`), 's3', 's3', 'nope', 's7 '];
    const together = await Promise.all(ids.map((id) => store.getStored(id)));
    const alone: unknown[] = [];
    for (const id of ids) alone.push(await store.getStored(id));
    expect(together).toEqual(alone);
    expect(together.slice(0, 150).map((s) => s?.session.fields.n)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(together[152]).toBeUndefined();
    // PAD SPACE: `id = 's7 '` finds s7, and so does the batched read.
    expect(together[153]?.session.id).toBe('s7');
    // Callers reading one id get documents of their own.
    expect(together[150]).not.toBe(together[151]);
    expect(together[150]!.session).not.toBe(together[151]!.session);
  });

  it('reads its own writes: a read asked for after an upsert sees the new version', async () => {
    await store.upsertSessions([session('s1', { version: 2, verdict: 'late', fields: { n: -1 } })]);
    const [a, b] = await Promise.all([store.getStored('s1'), store.getSession('s1')]);
    expect(a?.session).toMatchObject({ version: 2, verdict: 'late', fields: { n: -1 } });
    expect(b).toMatchObject({ version: 2, verdict: 'late' });
  });
});
