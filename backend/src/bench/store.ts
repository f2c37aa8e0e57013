/**
 * Store benchmark (issue 3): loads sessions (~8 fields each) into MariaDB/MySQL and into SQLite,
 * then times the queries every surface uses.
 *
 *   node dist/bench/store.js                      # 1M sessions into both stores
 *   WEFT_BENCH_SESSIONS=20000 node dist/bench/store.js
 *
 * Environment:
 *   WEFT_BENCH_SESSIONS  sessions to load (default 1 000 000)
 *   WEFT_BENCH_STORES    comma list of `mysql`, `sqlite` (default both)
 *   WEFT_BENCH_MYSQL     server URL without database (default mysql://root@127.0.0.1:3306);
 *                        a database weft_bench_<random> is created and dropped
 *   WEFT_BENCH_SQLITE    SQLite file (default a temporary file, deleted afterwards)
 *   WEFT_BENCH_BATCH     sessions per upsert call (default 1000)
 *   WEFT_BENCH_WRITERS   concurrent upsert calls (default 3 for mysql, 1 for sqlite)
 *   WEFT_BENCH_QUERIES   samples per query kind (default 1000)
 *   WEFT_BENCH_KEEP=1    keep the databases
 *   WEFT_BENCH_WRITES_ONLY=1  time the write phases only (load, update, fire twice), no queries
 *
 * Each write phase reports CPU time per written session: this process's (the store's client side;
 * generating the documents is measured apart and left out) and the database server's (from /proc,
 * when it runs on this machine; other clients of the same server count too). On a shared machine
 * rates move with the load, CPU per session far less: compare those before/after.
 *   WEFT_BENCH_BUFFER_POOL  e.g. `4G`: SET GLOBAL innodb_buffer_pool_size for the run (restored
 *                        afterwards). MariaDB's packaged default is 128 MiB, far below the ~5 GB a
 *                        million sessions with their indexes take; any real deployment sizes it to
 *                        the working set.
 *   WEFT_BENCH_REDO      e.g. `4G`: SET GLOBAL innodb_log_file_size likewise (MariaDB 10.11 resizes it
 *                        online; the packaged 96 MiB makes InnoDB flush pages almost continuously
 *                        under a write-heavy load).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { EventDoc, SessionDoc } from '../engine/types.js';
import { hash64 } from '../engine/hash.js';
import { openStore, type Store } from '../store/index.js';
import { cpuSecondsOf, databasePid, loadAverage, ownCpuSeconds } from './cpu.js';

const env = process.env;
const N = Number(env.WEFT_BENCH_SESSIONS ?? 1_000_000);
const STORES = (env.WEFT_BENCH_STORES ?? 'mysql,sqlite').split(',').map((s) => s.trim()).filter(Boolean);
const MYSQL_SERVER = (env.WEFT_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '');
const BATCH = Number(env.WEFT_BENCH_BATCH ?? 1000);
const QUERIES = Number(env.WEFT_BENCH_QUERIES ?? 1000);
const KEEP = env.WEFT_BENCH_KEEP === '1';
const WRITES_ONLY = env.WEFT_BENCH_WRITES_ONLY === '1';

const DAY = 86_400_000;
const END = Date.parse('2026-11-01T00:00:00Z');
const BEGIN = END - 365 * DAY;
const CHANNELS = ['alipay', 'wechat', 'card', 'paypal', 'applepay'];
const DEVICES = ['ios', 'android', 'web'];
const VERDICTS = [
  { at: 0.9, verdict: 'ok', severity: 'ok' },
  { at: 0.95, verdict: 'slow_delivery', severity: 'warning' },
  { at: 0.98, verdict: 'paid_no_callback', severity: 'critical' },
  { at: 1, verdict: 'abandoned', severity: 'info' },
] as const;

/** Deterministic per-session randomness (mulberry32 seeded by index and version). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const idOf = (i: number): string => hash64(`bench\u0000${i}`);
const startOf = (i: number): number => BEGIN + Math.floor((i / N) * 365 * DAY) + (i % 997);
const userOf = (r: () => number): string => `u${Math.floor(r() * Math.max(1, N / 10))}`;

function makeSession(i: number, version: number): SessionDoc {
  const r = rng(i * 7 + version);
  const start = startOf(i);
  const template = r() < 0.8 ? 'payment' : 'refund';
  const x = r();
  const v = VERDICTS.find((c) => x < c.at)!;
  const order = `o${i}`;
  const amount = Math.round(r() * 100_000) / 100;
  const channel = CHANNELS[Math.floor(r() * CHANNELS.length)]!;
  const trans = `T${i.toString(36)}${Math.floor(r() * 1e6)}`;
  const user = userOf(r);
  const steps = ['order_placed', 'pay_ui_opened', 'receipt_uploaded', 'payment_completed', 'channel_callback'];
  const events: EventDoc[] = steps.map((step, k) => ({
    step,
    source: k === 4 ? 'channel' : k === 1 || k === 2 ? 'client' : 'billing',
    time: start + k * 1500,
    value: { ts: start + k * 1500, log_id: `${order}-${k}`, action: step, order_id: order, user_id: user, amount, trans_no: trans },
  }));
  const items = [`sku${Math.floor(r() * 500)}`];
  if (r() < 0.5) items.push(`sku${Math.floor(r() * 500)}`);
  return {
    id: idOf(i),
    template,
    key: order,
    start,
    end: start + 6000,
    status: 'final',
    version,
    verdict: v.verdict,
    severity: v.severity,
    explain: v.verdict === 'ok' ? null : `session ${order}: ${v.verdict}`,
    splitOf: null,
    mergedInto: null,
    fields: {
      trans_id: trans,
      user_id: user,
      channel,
      country: `c${Math.floor(r() * 40)}`,
      device: DEVICES[Math.floor(r() * DEVICES.length)]!,
      amount,
      pay_ms: Math.floor(r() * 60_000),
      items,
    },
    events,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeQueries(label: string, count: number, run: (k: number) => Promise<unknown>): Promise<string> {
  const times: number[] = [];
  for (let k = 0; k < count; k++) {
    const t = performance.now();
    await run(k);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const line = `  ${label.padEnd(44)} p50 ${percentile(times, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(times, 99).toFixed(2).padStart(7)} ms`;
  console.log(line);
  return line;
}

/** CPU spent by this process (less what `generating` reports) and by the database over a phase. */
class CpuMeter {
  private readonly db = databasePid();
  private readonly own0 = ownCpuSeconds();
  private readonly db0: number;
  private readonly load0 = loadAverage();
  /** CPU seconds spent making documents (not the store's work). */
  generating = 0;

  constructor(private readonly measureDb: boolean) {
    this.db0 = this.db === undefined ? 0 : cpuSecondsOf(this.db);
  }

  /** Runs the synchronous `make` and books its CPU as generation. */
  make<T>(make: () => T): T {
    const t = ownCpuSeconds();
    const out = make();
    this.generating += ownCpuSeconds() - t;
    return out;
  }

  /** `client X µs + server Y µs per session` over `sessions` written. */
  report(sessions: number): string {
    const own = ownCpuSeconds() - this.own0 - this.generating;
    const db = this.measureDb && this.db !== undefined ? cpuSecondsOf(this.db) - this.db0 : undefined;
    const per = (s: number): string => `${Math.round((s / Math.max(1, sessions)) * 1e6)} µs`;
    return `CPU per session: client ${per(own)}${db === undefined ? '' : `, server ${per(db)}`} (load ${this.load0} → ${loadAverage()})`;
  }
}

async function load(store: Store, writers: number, cpu: CpuMeter): Promise<{ seconds: number; rows: number }> {
  const before = store.counters();
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let lastReport = t0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const from = next;
      if (from >= N) return;
      next += BATCH;
      const batch = cpu.make(() => {
        const out: SessionDoc[] = [];
        for (let i = from; i < Math.min(N, from + BATCH); i++) out.push(makeSession(i, 1));
        return out;
      });
      await store.upsertSessions(batch);
      done += batch.length;
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        console.log(`    … ${done} sessions, ${Math.round(done / ((now - t0) / 1000))} sessions/s`);
      }
    }
  };
  await Promise.all(Array.from({ length: writers }, () => worker()));
  const seconds = (performance.now() - t0) / 1000;
  const after = store.counters();
  const sessions = after.sessionsWritten - before.sessionsWritten;
  const fieldRows = after.fieldRowsWritten - before.fieldRowsWritten;
  // Rollup rows: 3 grains per session (upper bound of rows touched).
  return { seconds, rows: sessions + fieldRows + 3 * sessions };
}

async function update(store: Store, count: number, cpu: CpuMeter): Promise<number> {
  // Late repairs: a second fire of random sessions with a new verdict (moves rollups, rewrites rows).
  const r = rng(42);
  const t0 = performance.now();
  for (let k = 0; k < count; k += BATCH) {
    const batch = cpu.make(() => {
      const out: SessionDoc[] = [];
      for (let j = 0; j < Math.min(BATCH, count - k); j++) {
        const doc = makeSession(Math.floor(r() * N), 1);
        out.push({ ...doc, version: 2, verdict: 'paid_no_callback', severity: 'critical' });
      }
      return out;
    });
    await store.upsertSessions(batch);
  }
  return count / ((performance.now() - t0) / 1000);
}

/**
 * What `weft run` writes: each new session fired when complete (open, version 1), then final
 * (version 2, same fields, a later end) — half of them within one batch (the sink coalesces the
 * two), the others a batch apart: ~1.5 session writes per session, as bench:e2e measures.
 */
async function fireTwice(store: Store, count: number, writers: number, cpu: CpuMeter): Promise<{ seconds: number; writes: number }> {
  const complete = (i: number): SessionDoc => ({ ...makeSession(i, 1), status: 'open', verdict: null, severity: null, explain: null });
  const final = (i: number): SessionDoc => ({ ...makeSession(i, 1), version: 2 });
  const batches: SessionDoc[][] = [];
  let writes = 0;
  cpu.make(() => {
    const batchCount = Math.ceil(count / BATCH);
    for (let b = 0; b <= batchCount; b++) {
      const batch: SessionDoc[] = [];
      // This batch's new sessions: odd ones fire complete now and final in the next batch.
      for (let i = N + b * BATCH; b < batchCount && i < N + Math.min(count, (b + 1) * BATCH); i++) {
        batch.push(i % 2 === 0 ? final(i) : complete(i));
        writes++;
      }
      // The previous batch's odd sessions, final now.
      for (let i = N + (b - 1) * BATCH; b > 0 && i < N + Math.min(count, b * BATCH); i++) {
        if (i % 2 === 1) {
          batch.push(final(i));
          writes++;
        }
      }
      batches.push(batch);
    }
  });
  // Writers take batches in order; batch b+1 starts only once batch b was handed out.
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) await store.upsertSessions(batches[next++]!);
  };
  await Promise.all(Array.from({ length: writers }, () => worker()));
  return { seconds: (performance.now() - t0) / 1000, writes };
}

async function bench(kind: string, url: string, writers: number, settle?: () => Promise<string>): Promise<string[]> {
  const measureDb = kind === 'mysql';
  const out: string[] = [];
  const say = (line: string): void => {
    console.log(line);
    out.push(line);
  };
  say(`\n== ${kind}: ${url.replace(/:[^:@/]*@/, ':***@')} — ${N} sessions, batch ${BATCH}, ${writers} writer(s)`);
  const store = await openStore(url);
  say(`  server: ${store.info().server}`);
  try {
    let cpu = new CpuMeter(measureDb);
    const loaded = await load(store, writers, cpu);
    say(`  load: ${loaded.seconds.toFixed(1)} s  ${Math.round(N / loaded.seconds)} sessions/s  ${Math.round(loaded.rows / loaded.seconds)} rows/s (sessions + field rows + rollup rows)`);
    say(`    ${cpu.report(N)}`);
    const updates = Math.min(N, Math.max(1000, Math.floor(N / 20)));
    cpu = new CpuMeter(measureDb);
    say(`  update (re-fire ${updates} with a new verdict): ${Math.round(await update(store, updates, cpu))} sessions/s`);
    say(`    ${cpu.report(updates)}`);
    const twice = Math.min(N, Math.max(1000, Math.floor(N / 5)));
    cpu = new CpuMeter(measureDb);
    const fired = await fireTwice(store, twice, writers, cpu);
    say(
      `  fire twice (${twice} new sessions: complete, then final; ${(fired.writes / twice).toFixed(2)} fires per session): ` +
        `${Math.round(twice / fired.seconds)} sessions/s`,
    );
    say(`    ${cpu.report(twice)}`);
    if (WRITES_ONLY) return out;

    // Queries are timed at rest: after a bulk load the server may still be writing back.
    if (settle !== undefined) say(`  settle: ${await settle()}`);
    const r = rng(7);
    const pick = (): number => Math.floor(r() * N);
    const queries = Math.min(QUERIES, N);
    // Warm-up (a few of each), then measure.
    for (let k = 0; k < 20; k++) await store.getSession(idOf(pick()));
    out.push(await timeQueries('get by id', queries, async () => {
      const s = await store.getSession(idOf(pick()));
      if (s === undefined) throw new Error('missing session');
    }));
    out.push(await timeQueries('search trans_id = v (1 hit)', queries, async () => {
      const i = pick();
      const value = makeSession(i, 1).fields.trans_id as string;
      const page = await store.search({ fields: [{ field: 'trans_id', op: '=', value }] });
      if (page.sessions.length !== 1) throw new Error(`trans_id ${value}: ${page.sessions.length} hits`);
    }));
    out.push(await timeQueries('search user_id = v (~10 hits)', queries, async () => {
      const i = pick();
      await store.search({ fields: [{ field: 'user_id', op: '=', value: makeSession(i, 1).fields.user_id as string }] });
    }));
    out.push(await timeQueries('search channel = v (page of 50 newest)', queries, async (k) => {
      await store.search({ fields: [{ field: 'channel', op: '=', value: CHANNELS[k % CHANNELS.length]! }], limit: 50 });
    }));
    out.push(await timeQueries('search channel = v + 1-day range', queries, async (k) => {
      const from = BEGIN + Math.floor(r() * 364) * DAY;
      await store.search({ fields: [{ field: 'channel', op: '=', value: CHANNELS[k % CHANNELS.length]! }], from, to: from + DAY, limit: 50 });
    }));
    out.push(await timeQueries('search user_id = v + 30-day range', queries, async () => {
      const i = pick();
      const from = startOf(i) - 15 * DAY;
      await store.search({ fields: [{ field: 'user_id', op: '=', value: makeSession(i, 1).fields.user_id as string }], from, to: from + 30 * DAY });
    }));
    out.push(await timeQueries('search verdict + 7-day range (page of 50)', Math.min(queries, 200), async () => {
      const from = BEGIN + Math.floor(r() * 358) * DAY;
      await store.search({ verdict: 'paid_no_callback', from, to: from + 7 * DAY, limit: 50 });
    }));
    out.push(await timeQueries('lookup by key (late path)', queries, async () => {
      const i = pick();
      const found = await store.lookup({ template: makeSession(i, 1).template, by: 'key', key: `o${i}` });
      if (found.length !== 1) throw new Error(`key o${i}: ${found.length}`);
    }));
    const stats: number[] = [];
    let rows = 0;
    for (let k = 0; k < 10; k++) {
      const t = performance.now();
      const result = await store.stats({ template: 'payment', from: BEGIN, to: END, bucket: '1h' });
      stats.push(performance.now() - t);
      rows = result.length;
    }
    const first = stats[0]!;
    stats.sort((a, b) => a - b);
    say(`  verdict by hour over 365 days (${rows} rows): first ${first.toFixed(1)} ms, median ${percentile(stats, 50).toFixed(1)} ms, max ${stats[stats.length - 1]!.toFixed(1)} ms`);
    const fv: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      await store.fieldValues('channel', { limit: 10 });
      fv.push(performance.now() - t);
    }
    fv.sort((a, b) => a - b);
    say(`  field values of channel (top 10, scan ≤ 200k rows): median ${percentile(fv, 50).toFixed(1)} ms`);
  } finally {
    await store.close();
  }
  return out;
}

function parseSize(text: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(text.trim());
  if (m === null) throw new Error(`bad size ${text}`);
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

async function waitForResize(admin: mysql.Connection): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const [rows] = (await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")) as unknown as [{ Value: string }[]];
    const status = rows[0]?.Value ?? '';
    if (status === '' || /completed|finished/i.test(status)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits (at most a minute) until InnoDB's write-back of the load has slowed to a trickle: with a
 * large redo log it keeps dirty pages for long, so "no dirty pages" would never come.
 */
async function settleInnodb(admin: mysql.Connection): Promise<string> {
  const t0 = performance.now();
  const dirtyPages = async (): Promise<number> => {
    const [rows] = (await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")) as unknown as [{ Value: string }[]];
    return Number(rows[0]?.Value ?? 0);
  };
  let dirty = await dirtyPages();
  for (let i = 0; i < 60 && dirty > 2000; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await dirtyPages();
    const rate = dirty - now;
    dirty = now;
    if (rate < 500) break;
  }
  return `${((performance.now() - t0) / 1000).toFixed(1)} s for InnoDB's write-back to slow down (${dirty} dirty pages left)`;
}

async function main(): Promise<void> {
  const report: string[] = [];
  for (const kind of STORES) {
    if (kind === 'mysql') {
      const database = `weft_bench_${randomBytes(4).toString('hex')}`;
      const admin = await mysql.createConnection(`${MYSQL_SERVER}/`);
      await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      const [vars] = (await admin.query('SELECT @@innodb_buffer_pool_size AS bp')) as unknown as [{ bp: number }[]];
      const original = Number(vars[0]?.bp);
      const wanted = env.WEFT_BENCH_BUFFER_POOL ? parseSize(env.WEFT_BENCH_BUFFER_POOL) : undefined;
      if (wanted !== undefined && wanted !== original) {
        await admin.query(`SET GLOBAL innodb_buffer_pool_size = ${wanted}`);
        await waitForResize(admin);
      }
      const [redoVars] = (await admin.query('SELECT @@innodb_log_file_size AS redo')) as unknown as [{ redo: number }[]];
      const originalRedo = Number(redoVars[0]?.redo);
      const wantedRedo = env.WEFT_BENCH_REDO ? parseSize(env.WEFT_BENCH_REDO) : undefined;
      if (wantedRedo !== undefined && wantedRedo !== originalRedo) await admin.query(`SET GLOBAL innodb_log_file_size = ${wantedRedo}`);
      const [now] = (await admin.query('SELECT @@innodb_buffer_pool_size AS bp, @@innodb_log_file_size AS redo')) as unknown as [
        { bp: number; redo: number }[],
      ];
      try {
        report.push(...(await bench('mysql', `${MYSQL_SERVER}/${database}`, Number(env.WEFT_BENCH_WRITERS ?? 3), () => settleInnodb(admin))));
        report.push(
          `  (innodb_buffer_pool_size ${Math.round(Number(now[0]?.bp) / 2 ** 20)} MiB, innodb_log_file_size ${Math.round(Number(now[0]?.redo) / 2 ** 20)} MiB)`,
        );
      } finally {
        if (wanted !== undefined && wanted !== original) {
          await admin.query(`SET GLOBAL innodb_buffer_pool_size = ${original}`).catch(() => undefined);
        }
        if (wantedRedo !== undefined && wantedRedo !== originalRedo) {
          await admin.query(`SET GLOBAL innodb_log_file_size = ${originalRedo}`).catch(() => undefined);
        }
        if (!KEEP) await admin.query(`DROP DATABASE IF EXISTS ${database}`);
        else console.log(`  kept database ${database}`);
        await admin.end();
      }
    } else if (kind === 'sqlite') {
      const dir = env.WEFT_BENCH_SQLITE ? undefined : mkdtempSync(join(tmpdir(), 'weft-bench-'));
      const file = env.WEFT_BENCH_SQLITE ?? join(dir!, 'bench.db');
      try {
        report.push(...(await bench('sqlite', `sqlite:${file}`, Number(env.WEFT_BENCH_WRITERS ?? 1))));
        report.push(`  (file ${(statSync(file).size / 2 ** 30).toFixed(2)} GiB)`);
      } finally {
        if (dir !== undefined && !KEEP) rmSync(dir, { recursive: true, force: true });
      }
    } else {
      throw new Error(`unknown store kind ${kind}`);
    }
  }
  console.log(`\n== summary\n${report.join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
