import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/schema.js';
import {
  MYSQL_ADMIN,
  T0,
  actualFieldRows,
  actualRollups,
  expectedFieldRows,
  expectedRollups,
  mysqlHarness,
  requireMysql,
  session,
  type Harness,
} from './harness.js';

await requireMysql();

describe('mysql store under faults', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await mysqlHarness();
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('migrates a fresh database from three stores at once', async () => {
    const stores = await Promise.all([h.open(), h.open(), h.open()]);
    const rows = await h.sql('SELECT version FROM schema_migrations');
    expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    for (const s of stores) expect(s.info().schemaVersion).toBe(SCHEMA_VERSION);
    for (const s of stores) await s.close();
  });

  it('loses nothing and doubles nothing when its connections are killed mid-write', async () => {
    await h.reset();
    const store: Store = await h.open({ poolSize: 4 });
    const killer = await mysql.createConnection({ ...MYSQL_ADMIN });
    const database = new URL(h.url).pathname.slice(1);
    let killing = true;
    let kills = 0;
    const loop = (async () => {
      while (killing) {
        const [rows] = (await killer.query(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'",
          [database],
        )) as unknown as [{ ID: number }[]];
        for (const r of rows) {
          await killer.query(`KILL ${Number(r.ID)}`).catch(() => undefined);
          kills++;
        }
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    })();

    // Every killed transaction is retried with backoff (up to 5 s): keep N modest so a loaded CI
    // machine finishes well inside the timeout; kills still land in every batch.
    const N = 600;
    const batch = (version: number, from: number) =>
      Array.from({ length: 100 }, (_, j) => {
        const i = from + j;
        return session(`k${i}`, {
          version,
          start: T0 + i * 61_000,
          verdict: version === 1 ? 'ok' : i % 2 ? 'late' : 'ok',
          severity: version === 1 ? 'ok' : i % 2 ? 'warning' : 'ok',
          fields: { a: `A${i}`, b: i, c: [`C${i % 7}`, `D${i % 5}`], d: 'x', e: i % 2 === 0, f: `F${i}`, g: i * 0.5, h: `H${i % 3}` },
        });
      });
    try {
      for (let from = 0; from < N; from += 100) {
        await store.upsertSessions(batch(1, from));
        await store.upsertSessions(batch(2, from));
        // Replay of the first fire: must change nothing.
        await store.upsertSessions(batch(1, from));
      }
      await store.recordOrphans(
        Array.from({ length: 300 }, (_, i) => ({ id: `o${i}`, template: 'payment', step: 's', source: 'x', time: T0 + i, value: { i }, reason: 'r' })),
      );
    } finally {
      killing = false;
      await loop;
      await killer.end();
    }

    const counters = store.counters();
    expect(kills).toBeGreaterThan(0);
    expect(counters.connectionErrors).toBeGreaterThan(0);
    expect(counters.retries).toBeGreaterThanOrEqual(counters.connectionErrors);

    const [{ n, v2 }] = (await h.sql('SELECT COUNT(*) AS n, SUM(version = 2) AS v2 FROM sessions')) as { n: number; v2: unknown }[] as [
      { n: number; v2: unknown },
    ];
    expect(Number(n)).toBe(N);
    expect(Number(v2)).toBe(N);
    expect((await h.sql('SELECT COUNT(*) AS n FROM session_fields'))[0]!.n).toBe(N * 9);
    expect((await h.sql('SELECT COUNT(*) AS n FROM orphans'))[0]!.n).toBe(300);
    expect([...(await actualRollups(h)).entries()].sort()).toEqual([...(await expectedRollups(h)).entries()].sort());
    expect(await actualFieldRows(h)).toEqual(await expectedFieldRows(h));
    const late = await store.stats({ template: 'payment', from: T0, to: T0 + N * 61_000, bucket: '1d', verdict: 'late' });
    expect(late.reduce((s, r) => s + r.count, 0)).toBe(N / 2);
    await store.close();
  }, 150_000);
});
