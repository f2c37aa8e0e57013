import mysql from 'mysql2/promise';
import type { OrphanDoc, SessionDoc } from '../engine/types.js';
import { CoalescedSelects, PointReads, paddedSize } from './batch.js';
import {
  SqlStore,
  STORED_COLUMNS,
  VERSION_COLUMNS,
  versionValues,
  checkTemplateId,
  checkTemplateText,
  nextTemplateRecord,
  storedOf,
  templateOf,
  type Row,
  type StoredRowData,
} from './base.js';
import {
  SESSION_COLUMNS,
  prepareOrphan,
  queryText,
  sessionValues,
  type FieldRow,
  type OrphanRow,
  type PreparedSession,
} from './normalise.js';
import { EXISTING_COLUMNS, existingOf, planUpsert, type ExistingState, type UpsertPlan } from './plan.js';
import { idsToRead, requireUnchanged, type WriteGuard } from './guard.js';
import { ORPHAN_COLUMNS, mysqlDialect, orphanDocOf, type OrphanRowData } from './queries.js';
import { backoffMs, describeError, isConnectionError, isTransientError, sleep } from './retry.js';
import { MIGRATIONS, MIGRATIONS_TABLE_MYSQL, SCHEMA_VERSION, TIFLASH_TABLES } from './schema.js';
import type { StoreOptions, StoredSession, TemplateRecord } from './types.js';

/** Placeholders one prepared statement may hold (the protocol counts them in 16 bits). */
const MAX_PLACEHOLDERS = 65_535;

/**
 * Rows per multi-row prepared statement: powers of two up to what `columns` placeholders per row
 * allow, so each connection prepares a handful of statement shapes and reuses them.
 */
function ladderFor(columns: number, cap = Infinity): number[] {
  const most = Math.min(cap, Math.floor(MAX_PLACEHOLDERS / columns));
  const out: number[] = [];
  for (let rows = 1; rows <= most; rows *= 2) out.unshift(rows);
  return out;
}
/** Reads and deletes by id list: up to 1024 ids to a statement (a range read on the primary key). */
const LADDER = ladderFor(1, 1024);
/** Key deletes are disjunctions; keep them short enough for the range optimizer. */
const DELETE_LADDER = [64, 16, 4, 1] as const;
/** Bytes of parameters (or SQL text) per statement (MariaDB's default max_allowed_packet is 16 MiB). */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;

function* pieces<T>(
  items: readonly T[],
  ladder: readonly number[],
  bytesOf?: (item: T) => number,
): Generator<T[]> {
  let i = 0;
  while (i < items.length) {
    let rows = 1;
    for (const step of ladder) {
      if (step <= items.length - i) {
        rows = step;
        break;
      }
    }
    if (bytesOf !== undefined) {
      // Fewer rows when they are large: the largest ladder step whose rows fit the byte budget.
      let bytes = 0;
      let fit = 0;
      while (fit < rows && (fit === 0 || bytes + bytesOf(items[i + fit]!) <= MAX_STATEMENT_BYTES)) {
        bytes += bytesOf(items[i + fit]!);
        fit++;
      }
      rows = ladder.find((step) => step <= fit) ?? 1;
    }
    yield items.slice(i, i + rows);
    i += rows;
  }
}

const statementCache = new Map<string, string>();

function multiRow(key: string, rows: number, make: (values: string) => string, columns: number): string {
  const cacheKey = `${key}:${rows}`;
  let sql = statementCache.get(cacheKey);
  if (sql === undefined) {
    const one = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
    sql = make(Array.from({ length: rows }, () => one).join(', '));
    statementCache.set(cacheKey, sql);
  }
  return sql;
}

/** The parameters of a multi-row statement, row after row. */
function flat<T>(rows: readonly T[], values: (row: T) => readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const row of rows) for (const v of values(row)) out.push(v);
  return out;
}

/** Ids compare as the `_bin` collation (PAD SPACE) compares them: trailing spaces do not count. */
const idKey = (id: string): string => id.replace(/ +$/, '');

/** Largest id list of one coalesced point read. */
const POINT_READ_BATCH = 64;
/**
 * Point-read statements out at once; more reads wait for one to return and go together. Two keep
 * both of a small server's cores busy while most reads under load share a statement.
 */
const POINT_READS_IN_FLIGHT = 2;

/**
 * Search pages (same statement shape) that go as one UNION ALL statement while others are out,
 * and how many such statements may be out at once (see CoalescedSelects). A page costs the
 * server far more than a point read, so more statements are let out than POINT_READS_IN_FLIGHT:
 * in bench:api (50 clients) 4 kept req/s where 2 lost some, at the same CPU per search.
 */
const PAGE_BATCH = 8;
const PAGES_IN_FLIGHT = 4;

/** The column that tells the branches of a coalesced search statement apart. */
const BRANCH = 'weft_branch';

/**
 * Code-point order of two ids: the order of their UTF-8 bytes, which `utf8mb4_bin` compares.
 * UTF-16 order differs only where a surrogate (a code point above U+FFFF) meets U+E000..U+FFFF.
 */
function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    return xs === ys ? x - y : xs ? 1 : -1;
  }
  return a.length - b.length;
}

/** Newest first, then the higher id: a search page's ORDER BY. */
function comparePageRows(a: Row, b: Row): number {
  return Number(b.start_ms) - Number(a.start_ms) || compareIds(String(b.id), String(a.id));
}

/**
 * One branch's rows in its ORDER BY order. MariaDB and MySQL send a UNION ALL branch by branch,
 * each in its own order; a server that interleaves branches (TiDB runs them concurrently) is
 * put right here, at the cost of a sort of one page.
 */
function inPageOrder(rows: Row[]): Row[] {
  for (let i = 1; i < rows.length; i++) if (comparePageRows(rows[i - 1]!, rows[i]!) > 0) return rows.sort(comparePageRows);
  return rows;
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

const ORPHAN_LADDER = ladderFor(11, 256);

const ORPHAN_INSERT = (values: string): string =>
  `INSERT INTO orphans (id, template, step, source, time_ms, reason, join_field, join_value, notes, recorded_ms, value_json) VALUES ${values} ` +
  'ON DUPLICATE KEY UPDATE id = id';

/** Largest SQL text sent as one query (MariaDB's default max_allowed_packet is 16 MiB, MySQL's 64). */
const MAX_QUERY_BYTES = 8 * 1024 * 1024;

const SESSION_UPDATE_TAIL =
  ' ON DUPLICATE KEY UPDATE ' +
  SESSION_COLUMNS.slice(1)
    .map((c) => `${c} = VALUES(${c})`)
    .join(', ');

/** Records operator merges (absorbed_id, survivor_id, absorbed_json, merged_ms); the same absorbed session again replaces its record. */
const RECORD_MERGE_HEAD = 'INSERT INTO operator_merges (absorbed_id, survivor_id, absorbed_json, merged_ms) VALUES ';
const RECORD_MERGE_TAIL =
  ' ON DUPLICATE KEY UPDATE survivor_id = VALUES(survivor_id), absorbed_json = VALUES(absorbed_json), merged_ms = VALUES(merged_ms)';

/** Strings whose quoted form would depend on the sql_mode (NO_BACKSLASH_ESCAPES), or hold NUL. */
const NEEDS_HEX = /[\\\0]/;

/**
 * A value as SQL text that reads back the same whatever the server's sql_mode. Strings are quoted
 * with `'` doubled, which every mode reads alike; those holding a backslash or NUL (whose reading
 * depends on NO_BACKSLASH_ESCAPES) go as their UTF-8 bytes in hex with a character set introducer.
 * Either form takes the column's collation in comparisons (a literal is coercible), so key deletes
 * still read the primary key. Numbers are finite here (the store normalises them) and print as
 * JavaScript writes them, which MySQL reads back to the same double.
 */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`weft store: non-finite number in a write: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value);
  if (NEEDS_HEX.test(text)) return `_utf8mb4 X'${Buffer.from(text, 'utf8').toString('hex')}'`;
  return `'${text.includes("'") ? text.replaceAll("'", "''") : text}'`;
}

function tuple(values: readonly unknown[]): string {
  let out = '(';
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ', ') + literal(values[i]);
  return out + ')';
}

/** One multi-row statement per table, split only where the text would exceed MAX_STATEMENT_BYTES. */
function rowStatements(head: string, rows: readonly string[], tail: string): string[] {
  const out: string[] = [];
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    if (i > from && bytes + rows[i]!.length > MAX_STATEMENT_BYTES) {
      out.push(head + rows.slice(from, i).join(', ') + tail);
      from = i;
      bytes = 0;
    }
    bytes += rows[i]!.length + 2;
  }
  out.push(head + rows.slice(from).join(', ') + tail);
  return out;
}

/** Deletes rows by their full key (a disjunction of point ranges on the primary key). */
function keyDeleteText(table: string, column: string, rows: readonly FieldRow[], value: (f: FieldRow) => unknown): string {
  const terms = rows.map(
    (f) => `(name = ${literal(f.name)} AND ${column} = ${literal(value(f))} AND start_ms = ${literal(f.start)} AND session_id = ${literal(f.sessionId)})`,
  );
  return `DELETE FROM ${table} WHERE ${terms.join(' OR ')}`;
}

/**
 * Sends `statements` as few multi-statement queries as MAX_QUERY_BYTES allows, in order, and
 * returns each statement's result. The server stops at the first failing statement and reports
 * it (the caller rolls back).
 */
async function multiQuery(c: Conn, statements: readonly string[]): Promise<unknown[]> {
  const results: unknown[] = [];
  let from = 0;
  while (from < statements.length) {
    let to = from + 1;
    let bytes = statements[from]!.length;
    while (to < statements.length && bytes + statements[to]!.length + 1 <= MAX_QUERY_BYTES) bytes += statements[to++]!.length + 1;
    const group = statements.slice(from, to);
    const [result] = await c.query(group.join(';\n'));
    if (group.length === 1) results.push(result);
    else results.push(...(result as unknown as unknown[]));
    from = to;
  }
  return results;
}

function orphanValues(r: OrphanRow): unknown[] {
  return [r.id, r.template, r.step, r.source, r.time, r.reason, r.joinField, r.joinValue, r.notes, r.recordedAt, r.value];
}

export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly poolSize?: number;
}

/** Parses `mysql://user:pass@host:port/db?pool=8`. */
export function parseMysqlUrl(url: string): MysqlTarget {
  const u = new URL(url);
  if (u.protocol !== 'mysql:') throw new Error(`not a mysql URL: ${url}`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '') throw new Error(`mysql URL needs a database: ${url}`);
  const pool = u.searchParams.get('pool');
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port === '' ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database,
    ...(pool !== null ? { poolSize: Number(pool) } : {}),
  };
}

type Conn = mysql.PoolConnection;

/** A prepared statement's result: rows for SELECT, a header ({ affectedRows }) otherwise. */
async function exec<T = Row[]>(c: Conn, sql: string, params: readonly unknown[]): Promise<T> {
  const [result] = await c.execute(sql, params as never);
  return result as unknown as T;
}

/**
 * TiDB / MySQL 8 / MariaDB 10.11 through a mysql2 pool. Every operation runs on a pooled
 * connection with READ COMMITTED isolation (no gap locks between concurrent upserts) and is retried
 * whole, with backoff, when the connection is lost or the transaction loses a race; the upsert is
 * idempotent, so a retry after an unacknowledged commit changes nothing.
 */
export class MysqlStore extends SqlStore {
  private readonly pool: mysql.Pool;
  private readonly retryForMs: number;
  private readonly log: (message: string) => void;
  private readonly database: string;
  private closed = false;
  /** `getStored` (and `getSession`) reads, coalesced while statements are out (see PointReads). */
  private readonly storedReads = new PointReads<StoredRowData>((ids) => this.readStored(ids), POINT_READ_BATCH, idKey, POINT_READS_IN_FLIGHT);

  constructor(target: MysqlTarget, options: StoreOptions = {}) {
    super(mysqlDialect, { kind: 'mysql', server: 'unknown', tidb: false, schemaVersion: 0 }, options.maxTransactionSessions);
    this.retryForMs = options.retryForMs ?? 600_000;
    this.log = options.log ?? ((m) => console.warn(m));
    this.database = target.database;
    this.pool = mysql.createPool({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      connectionLimit: options.poolSize ?? target.poolSize ?? 8,
      waitForConnections: true,
      // The tables' collation: string literals then compare and sort like the columns, and the
      // optimizer keeps index order (with utf8mb4_unicode_ci it adds filesorts).
      charset: 'UTF8MB4_BIN',
      supportBigNumbers: true,
      bigNumberStrings: false,
      decimalNumbers: true,
      dateStrings: true,
      enableKeepAlive: true,
      connectTimeout: 10_000,
      maxPreparedStatements: 500,
      // The session upsert sends its statements as two multi-statement queries (see writeIn);
      // nothing else concatenates values into SQL text.
      multipleStatements: true,
      // Text without parameters (the upsert's, whose values are literals already) goes as it is:
      // mysql2 would scan megabytes of it for placeholders that are not there.
      queryFormat: (sql: string, values: unknown) => (Array.isArray(values) && values.length > 0 ? mysql.format(sql, values) : sql),
    });
    // Every new connection: READ COMMITTED, and a listener so a late error on an idle connection
    // (killed by the server) cannot go unhandled.
    this.pool.on('connection', (conn) => {
      const core = conn as unknown as {
        on(event: 'error', listener: (e: unknown) => void): void;
        query(sql: string, cb: (e: unknown) => void): void;
      };
      core.on('error', () => undefined);
      core.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => undefined);
    });
  }

  /** Runs `fn` on a pooled connection (in a transaction if asked), retrying transient failures. */
  /**
   * `transaction`: true wraps `fn` in START TRANSACTION … COMMIT; 'inline' means `fn` sends both
   * itself (inside its own queries); either way a failure rolls back before the connection is reused.
   */
  private async run<T>(what: string, fn: (c: Conn) => Promise<T>, transaction: boolean | 'inline', duplicateIsConflict = false): Promise<T> {
    return this.retrying(
      what,
      async () => {
        let conn: Conn | undefined;
        try {
          conn = await this.pool.getConnection();
          if (transaction === true) await conn.query('START TRANSACTION');
          const result = await fn(conn);
          if (transaction === true) await conn.query('COMMIT');
          conn.release();
          return result;
        } catch (error) {
          if (conn !== undefined) {
            if (isConnectionError(error)) conn.destroy();
            else {
              try {
                if (transaction !== false) await conn.query('ROLLBACK');
                conn.release();
              } catch {
                conn.destroy();
              }
            }
          }
          throw error;
        }
      },
      duplicateIsConflict,
    );
  }

  /** Calls `attempt` until it succeeds, backing off, while its failures are transient and time remains. */
  private async retrying<T>(what: string, attempt: () => Promise<T>, duplicateIsConflict = false): Promise<T> {
    const started = Date.now();
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        const lost = isConnectionError(error);
        const retryable = lost || isTransientError(error, duplicateIsConflict);
        if (this.closed || !retryable || Date.now() - started > this.retryForMs) throw error;
        this.stats_.retries++;
        if (lost) this.stats_.connectionErrors++;
        if (n === 0 || n % 10 === 0) this.log(`weft store: ${what} retried (attempt ${n + 1}): ${describeError(error)}`);
        await sleep(backoffMs(n));
      }
    }
  }

  async migrate(): Promise<void> {
    const lock = `weft_migrate.${this.database}`.slice(0, 64);
    const server = await this.run(
      'migrate',
      async (c) => {
        const [locked] = (await c.query('SELECT GET_LOCK(?, 120) AS ok', [lock])) as unknown as [Row[]];
        if (Number(locked[0]?.ok) !== 1) throw new Error('weft store: timed out waiting for the migration lock');
        try {
          await c.query(MIGRATIONS_TABLE_MYSQL);
          const [rows] = (await c.query('SELECT version FROM schema_migrations')) as unknown as [Row[]];
          const applied = new Set(rows.map((r) => Number(r.version)));
          for (const m of MIGRATIONS) {
            if (applied.has(m.version)) continue;
            for (const sql of m.mysql) {
              try {
                await c.query(sql);
              } catch (error) {
                // ER_DUP_KEYNAME: an index this migration adds exists already (an earlier run of it was cut short).
                if ((error as { errno?: number }).errno !== 1061) throw error;
              }
            }
            await c.query(
              'INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE version = version',
              [m.version, m.name, Date.now()],
            );
          }
        } finally {
          await c.query('SELECT RELEASE_LOCK(?)', [lock]);
        }
        const [version] = (await c.query('SELECT VERSION() AS v')) as unknown as [Row[]];
        return String(version[0]?.v ?? 'unknown');
      },
      false,
    );
    const tidb = /tidb/i.test(server);
    this.info_ = { kind: 'mysql', server, tidb, schemaVersion: SCHEMA_VERSION };
    if (tidb) await this.tiflashReplicas();
  }

  /** TiDB only: a TiFlash replica for the tables macro queries scan. Not fatal without TiFlash nodes. */
  private async tiflashReplicas(): Promise<void> {
    for (const table of TIFLASH_TABLES) {
      try {
        await this.run(
          'tiflash',
          async (c) => {
            const [rows] = (await c.query(
              'SELECT REPLICA_COUNT AS n FROM information_schema.tiflash_replica WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
              [table],
            )) as unknown as [Row[]];
            if (rows.length > 0 && Number(rows[0]!.n) >= 1) return;
            await c.query(`ALTER TABLE ${table} SET TIFLASH REPLICA 1`);
          },
          false,
        );
      } catch (error) {
        this.log(`weft store: no TiFlash replica for ${table}: ${describeError(error)}`);
      }
    }
  }

  /**
   * One prepared statement on any pooled connection, through mysql2's callback pool: the API runs
   * one such read per request, and the promise wrapper's per-call stack capture and separate
   * checkout/release cost it more than the query's own client-side work. The pool drops a
   * connection that failed fatally; the read is then retried on another.
   */
  protected async select(sql: string, params: readonly unknown[]): Promise<Row[]> {
    const core = this.pool.pool;
    return this.retrying('query', () =>
      new Promise<Row[]>((resolve, reject) => {
        core.execute(sql, params as never, (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows as Row[])));
      }),
    );
  }

  /** Search pages, coalesced while statements are out (see CoalescedSelects). */
  private readonly pages = new CoalescedSelects<Row>(
    (sql, params) => this.select(sql, params),
    (sql, list) => this.selectPages(sql, list),
    PAGE_BATCH,
    PAGES_IN_FLIGHT,
  );

  protected override selectPage(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.pages.select(sql, params);
  }

  /**
   * Search pages of one statement shape as one statement: each a parenthesised branch (its own
   * ORDER BY and LIMIT) tagged with its position, joined by UNION ALL (MySQL 8, MariaDB, TiDB).
   * The text depends only on the shape and the count, so a connection prepares a few of them.
   */
  private async selectPages(sql: string, list: readonly (readonly unknown[])[]): Promise<Row[][]> {
    if (!sql.startsWith('SELECT ')) throw new Error('weft store: a search page must be a SELECT');
    const rest = sql.slice('SELECT '.length);
    const branches: string[] = [];
    const params: unknown[] = [];
    list.forEach((p, i) => {
      branches.push(`(SELECT ${i} AS ${BRANCH}, ${rest})`);
      for (const v of p) params.push(v);
    });
    const rows = await this.select(branches.join(' UNION ALL '), params);
    const out: Row[][] = list.map(() => []);
    for (const row of rows) out[Number(row[BRANCH])]!.push(row);
    return out.map(inPageOrder);
  }

  override async getStored(id: string): Promise<StoredSession | undefined> {
    const row = await this.storedReads.get(id);
    // Each caller gets its own document (parsed from the shared row): callers may change theirs.
    return row === undefined ? undefined : storedOf(row);
  }

  /** One statement for up to POINT_READ_BATCH ids; the IN list is padded to a power of two. */
  private async readStored(ids: readonly string[]): Promise<Map<string, StoredRowData>> {
    const size = paddedSize(ids.length, POINT_READ_BATCH);
    const params: string[] = [...ids];
    while (params.length < size) params.push(ids[ids.length - 1]!);
    const rows = (await this.select(
      `SELECT ${STORED_COLUMNS} FROM sessions WHERE id IN (${placeholders(size)})`,
      params,
    )) as unknown as StoredRowData[];
    const out = new Map<string, StoredRowData>();
    for (const row of rows) out.set(idKey(String(row.id)), row);
    return out;
  }

  protected async writeBatch(batch: readonly PreparedSession[], guard?: WriteGuard): Promise<void> {
    const plan = await this.run('upsert', (c) => this.writeIn(c, batch, guard), 'inline', true);
    this.stats_.sessionsWritten += plan.writes.length;
    this.stats_.sessionsStale += plan.stale;
    this.stats_.fieldRowsWritten += plan.fieldInserts.length;
  }

  /**
   * One upsert transaction in two round trips: START TRANSACTION with the locking reads, then every
   * write and the COMMIT (more queries only past MAX_QUERY_BYTES). Each round trip waits on the
   * server and, in `weft run`, on an event loop busy with the engine: measured there at 2–6 ms per
   * statement whatever its size, which made a dozen statements per transaction the cost of a
   * write. Values go into the text as literals (strings as UTF-8 hex, see `literal`), so nothing
   * depends on escaping rules or the server's sql_mode.
   */
  private async writeIn(c: Conn, batch: readonly PreparedSession[], guard?: WriteGuard): Promise<UpsertPlan> {
    // A guard's ids are locked with the batch's (those only read as well), in one id order.
    const ids = idsToRead(batch, guard);
    const reads = ['START TRANSACTION'];
    for (const piece of pieces(ids, LADDER)) {
      reads.push(`SELECT ${EXISTING_COLUMNS} FROM sessions WHERE id IN (${piece.map(literal).join(', ')}) FOR UPDATE`);
    }
    const results = await multiQuery(c, reads);
    const existing = new Map<string, ExistingState>();
    for (const rows of results.slice(1) as Row[][]) for (const r of rows) existing.set(String(r.id), existingOf(r));
    // Thrown here, the transaction is rolled back by `run` before anything was written. An expected
    // absent id is not locked (nothing to lock): a concurrent insert of it fails this transaction's
    // INSERT on the duplicate key, and the retry finds it stored.
    if (guard !== undefined) requireUnchanged(guard, (id) => existing.get(id)?.version ?? null);
    const plan = planUpsert(batch, existing);

    const writes: string[] = [];
    const insert = <T>(head: string, items: readonly T[], values: (item: T) => readonly unknown[], tail = ''): void => {
      if (items.length > 0) writes.push(...rowStatements(head, items.map((item) => tuple(values(item))), tail));
    };
    // New sessions go in with a plain INSERT, never an upsert: the read cannot lock an id that does
    // not exist yet, so two transactions may both plan to insert it; the second then fails on the
    // duplicate key and is retried whole (reading the first one's row), where an upsert would
    // overwrite a higher version and count the session twice in the rollups.
    insert(`INSERT INTO sessions (${SESSION_COLUMNS.join(', ')}) VALUES `, plan.inserts, sessionValues);
    insert(`INSERT INTO sessions (${SESSION_COLUMNS.join(', ')}) VALUES `, plan.updates, sessionValues, SESSION_UPDATE_TAIL);
    // Deletes first: a row whose key comes back (e.g. a value differing in trailing spaces only,
    // which PAD SPACE collations compare equal) is then inserted again.
    for (const piece of pieces(plan.fieldDeletes, DELETE_LADDER)) writes.push(keyDeleteText('session_fields', 'str_value', piece, (f) => f.str));
    for (const piece of pieces(plan.fieldDeletes.filter((f) => f.num !== null), DELETE_LADDER)) {
      writes.push(keyDeleteText('session_numbers', 'num_value', piece, (f) => f.num));
    }
    insert('INSERT INTO session_fields (name, str_value, start_ms, session_id, template) VALUES ', plan.fieldInserts, (f) => [
      f.name, f.str, f.start, f.sessionId, f.template,
    ]);
    insert('INSERT INTO session_numbers (name, num_value, start_ms, session_id, template) VALUES ', plan.fieldInserts.filter((f) => f.num !== null), (f) => [
      f.name, f.num, f.start, f.sessionId, f.template,
    ]);
    insert('INSERT INTO verdict_rollups (grain, template, bucket, verdict, severity, n) VALUES ', plan.rollups, (d) => [
      d.grain, d.template, d.bucket, d.verdict, d.severity, d.delta,
    ], ' ON DUPLICATE KEY UPDATE n = n + VALUES(n)');
    // The history gets one row per version written here (see UpsertPlan.writes): the versions the
    // batch coalesced away were never stored, so they are not history either.
    insert(`INSERT INTO session_versions (${VERSION_COLUMNS.join(', ')}) VALUES `, plan.writes, versionValues, ' ON DUPLICATE KEY UPDATE session_id = session_id');
    if (guard !== undefined) {
      insert(RECORD_MERGE_HEAD, guard.recordMerges, (m) => [m.absorbed.id, m.survivorId, JSON.stringify(m.absorbed), guard.mergedAt], RECORD_MERGE_TAIL);
      if (guard.deleteMerges.length > 0) writes.push(`DELETE FROM operator_merges WHERE absorbed_id IN (${guard.deleteMerges.map(literal).join(', ')})`);
    }
    writes.push('COMMIT');
    await multiQuery(c, writes);
    return plan;
  }

  async recordOrphans(orphans: readonly OrphanDoc[]): Promise<void> {
    if (orphans.length === 0) return;
    const now = Date.now();
    const byId = new Map<string, OrphanRow>();
    for (const o of orphans) {
      const row = prepareOrphan(o, now);
      if (row.notes !== null) this.stats_.valuesNormalised += (JSON.parse(row.notes) as unknown[]).length;
      byId.set(row.id, row);
    }
    const rows = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const written = await this.run(
      'orphans',
      async (c) => {
        let n = 0;
        for (const piece of pieces(rows, ORPHAN_LADDER, (r) => r.value.length + 512)) {
          const result = await exec<{ affectedRows: number }>(c, multiRow('oi', piece.length, ORPHAN_INSERT, 11), flat(piece, orphanValues));
          // ON DUPLICATE KEY UPDATE id = id: 1 per new row, 0 per duplicate.
          n += result.affectedRows;
        }
        return n;
      },
      true,
    );
    this.stats_.orphansWritten += written;
  }

  async takeOrphans(template: string, field: string, value: string): Promise<OrphanDoc[]> {
    const rows = await this.run(
      'orphans',
      async (c) => {
        const params: unknown[] = [template, field];
        const valueCond = mysqlDialect.textEquals('join_value', queryText(value), params);
        const found = await exec<OrphanRowData[]>(
          c,
          `SELECT ${ORPHAN_COLUMNS} FROM orphans WHERE template = ? AND join_field = ? AND ${valueCond} FOR UPDATE`,
          params,
        );
        for (const piece of pieces(found, LADDER)) {
          await exec(c, `DELETE FROM orphans WHERE id IN (${placeholders(piece.length)})`, piece.map((r) => r.id));
        }
        return found;
      },
      true,
    );
    return rows.map(orphanDocOf);
  }

  async saveTemplate(id: string, text: string): Promise<TemplateRecord> {
    checkTemplateId(id);
    checkTemplateText(text);
    return this.run(
      'template',
      async (c) => {
        const rows = await exec(c, 'SELECT id, body, revision, updated_ms FROM templates WHERE id = ? FOR UPDATE', [id]);
        const old = rows[0];
        const record = nextTemplateRecord(id, text, old);
        if (record === undefined) return templateOf(old!);
        await exec(
          c,
          'INSERT INTO templates (id, body, revision, updated_ms) VALUES (?, ?, ?, ?) ' +
            'ON DUPLICATE KEY UPDATE body = VALUES(body), revision = VALUES(revision), updated_ms = VALUES(updated_ms)',
          [record.id, record.text, record.revision, record.updatedAt],
        );
        return record;
      },
      true,
      true,
    );
  }

  async deleteTemplate(id: string): Promise<boolean> {
    return this.run(
      'template',
      async (c) => {
        const result = await exec<{ affectedRows: number }>(c, 'DELETE FROM templates WHERE id = ?', [id]);
        return result.affectedRows > 0;
      },
      false,
    );
  }

  async recordMerge(survivorId: string, absorbed: SessionDoc): Promise<void> {
    await this.run(
      'merge',
      (c) =>
        exec(c, `${RECORD_MERGE_HEAD}(?, ?, ?, ?)${RECORD_MERGE_TAIL}`, [absorbed.id, survivorId, JSON.stringify(absorbed), Date.now()]),
      false,
    );
  }

  async deleteMerge(absorbedId: string): Promise<void> {
    await this.run('unmerge', (c) => exec(c, 'DELETE FROM operator_merges WHERE absorbed_id = ?', [absorbedId]), false);
  }

  async ping(): Promise<void> {
    const conn = await this.pool.getConnection();
    try {
      await conn.query('SELECT 1');
      conn.release();
    } catch (error) {
      conn.destroy();
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** For tests and tools: ids of the server connections this store's pool holds. */
  async connectionIds(): Promise<number[]> {
    const conn = await this.pool.getConnection();
    try {
      const [rows] = (await conn.query('SELECT CONNECTION_ID() AS id')) as unknown as [Row[]];
      return rows.map((r) => Number(r.id));
    } finally {
      conn.release();
    }
  }
}
