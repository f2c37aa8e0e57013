import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import type { SessionDoc } from '../../src/engine/types.js';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { bucketOf, GRAINS } from '../../src/store/plan.js';

export type Row = Record<string, unknown>;

/** One database for one test file: stores opened on it, raw SQL beside them, and cleanup. */
export interface Harness {
  readonly name: 'sqlite' | 'mysql';
  readonly url: string;
  open(options?: StoreOptions): Promise<Store>;
  sql(query: string, params?: unknown[]): Promise<Row[]>;
  /** Empties every table (schema kept). */
  reset(): Promise<void>;
  destroy(): Promise<void>;
}

const TABLES = ['sessions', 'session_fields', 'session_numbers', 'verdict_rollups', 'orphans', 'templates', 'session_versions', 'operator_merges'];
const quiet: StoreOptions = { log: () => undefined };

export async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
  const file = join(dir, 'weft.db');
  const url = `sqlite:${file}`;
  const stores: Store[] = [];
  let raw: Database.Database | undefined;
  const db = (): Database.Database => (raw ??= new Database(file));
  return {
    name: 'sqlite',
    url,
    async open(options) {
      const store = await openStore(url, { ...quiet, ...options });
      stores.push(store);
      return store;
    },
    async sql(query, params = []) {
      const stmt = db().prepare(query);
      return stmt.reader ? (stmt.all(...params) as Row[]) : (stmt.run(...params), []);
    },
    async reset() {
      for (const t of TABLES) db().prepare(`DELETE FROM ${t}`).run();
    },
    async destroy() {
      for (const s of stores) await s.close();
      raw?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const MYSQL_ADMIN = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

/**
 * The MariaDB tests run against a real server and fail when there is none: a suite that skipped
 * them would pass without testing the store. `bash test/services.sh` starts one (the README's
 * test command and .ci/run do).
 */
export async function requireMysql(): Promise<void> {
  try {
    const c = await mysql.createConnection({ ...MYSQL_ADMIN, connectTimeout: 2000 });
    await c.end();
  } catch (error) {
    throw new Error(
      `MariaDB is not reachable at ${MYSQL_ADMIN.host}:${MYSQL_ADMIN.port} (${(error as Error).message}): ` +
        'start it with `bash test/services.sh` (the README\'s test command does)',
    );
  }
}

/** A database of its own on the local MariaDB (a test's store URL), and how to drop it. */
export async function privateMysqlDatabase(prefix: string): Promise<{ url: string; cleanup: () => Promise<void> }> {
  const database = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection(MYSQL_ADMIN);
  await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  return {
    url: `mysql://root@127.0.0.1:3306/${database}`,
    cleanup: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    },
  };
}

export async function mysqlHarness(): Promise<Harness> {
  const database = `weft_test_${randomBytes(5).toString('hex')}`;
  const admin = await mysql.createConnection({ ...MYSQL_ADMIN, multipleStatements: false });
  await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.query(`USE ${database}`);
  const url = `mysql://root@127.0.0.1:3306/${database}`;
  const stores: Store[] = [];
  return {
    name: 'mysql',
    url,
    async open(options) {
      const store = await openStore(url, { ...quiet, ...options });
      stores.push(store);
      return store;
    },
    async sql(query, params = []) {
      const [rows] = await admin.query(query, params);
      return Array.isArray(rows) ? (rows as Row[]) : [];
    },
    async reset() {
      for (const t of TABLES) await admin.query(`DELETE FROM ${t}`);
    },
    async destroy() {
      for (const s of stores) await s.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    },
  };
}

// ── documents ──────────────────────────────────────────────────────────────────────────────────

export const T0 = Date.parse('2026-11-01T10:00:00Z');

export function session(id: string, over: Partial<SessionDoc> = {}): SessionDoc {
  return {
    id,
    template: 'payment',
    key: `order-${id}`,
    start: T0,
    end: T0 + 60_000,
    status: 'final',
    version: 1,
    verdict: 'ok',
    severity: 'ok',
    explain: null,
    splitOf: null,
    mergedInto: null,
    fields: {},
    events: [{ step: 'order_placed', source: 'billing', time: T0, value: { order_id: `order-${id}`, amount: 4.99 } }],
    ...over,
  };
}

// ── invariants ─────────────────────────────────────────────────────────────────────────────────

/** Rollups as they must be: count(*) grouped over non-merged sessions, per grain. */
export async function expectedRollups(h: Harness): Promise<Map<string, number>> {
  const rows = await h.sql("SELECT template, verdict, severity, start_ms FROM sessions WHERE status <> 'merged'");
  const out = new Map<string, number>();
  for (const r of rows) {
    for (const grain of GRAINS) {
      const key = [grain, r.template, bucketOf(Number(r.start_ms), grain), r.verdict ?? '', r.severity ?? ''].join('|');
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

export async function actualRollups(h: Harness): Promise<Map<string, number>> {
  const rows = await h.sql('SELECT grain, template, bucket, verdict, severity, n FROM verdict_rollups');
  const out = new Map<string, number>();
  for (const r of rows) {
    const n = Number(r.n);
    if (n < 0) throw new Error(`negative rollup ${JSON.stringify(r)}`);
    if (n === 0) continue;
    out.set([r.grain, r.template, Number(r.bucket), r.verdict, r.severity].join('|'), n);
  }
  return out;
}

/** Field rows as they must be: one per distinct element of each stored session's fields. */
export async function expectedFieldRows(h: Harness): Promise<string[]> {
  const rows = await h.sql('SELECT id, template, start_ms, fields_json FROM sessions');
  const out: string[] = [];
  for (const r of rows) {
    const fields = JSON.parse(String(r.fields_json)) as SessionDoc['fields'];
    for (const [name, value] of Object.entries(fields)) {
      const seen = new Set<string>();
      for (const v of Array.isArray(value) ? value : [value]) {
        const s = String(v);
        // Distinct as PAD SPACE collations see them (trailing spaces ignored).
        const key = s.replace(/ +$/, '');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(['text', r.id, r.template, name, s, r.start_ms].join('|'));
        if (typeof v === 'number') out.push(['number', r.id, r.template, name, v, r.start_ms].join('|'));
      }
    }
  }
  return out.sort();
}

export async function actualFieldRows(h: Harness): Promise<string[]> {
  const text = await h.sql('SELECT session_id, template, name, str_value, start_ms FROM session_fields');
  const numbers = await h.sql('SELECT session_id, template, name, num_value, start_ms FROM session_numbers');
  return [
    ...text.map((r) => ['text', r.session_id, r.template, r.name, r.str_value, r.start_ms].join('|')),
    ...numbers.map((r) => ['number', r.session_id, r.template, r.name, Number(r.num_value), r.start_ms].join('|')),
  ].sort();
}
