/**
 * Dimension lookups: many keys in, the rows found out, in one round trip (`WHERE key IN (…)` or one
 * HTTP request). Keys left out of the answer are misses.
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { parseMysqlUrl } from '../store/index.js';
import type { EnrichSpec } from '../template/index.js';

export type Row = Readonly<Record<string, unknown>>;

export interface DimensionLookup {
  /** Rows by key for `keys`; rejects on failure or when `timeoutMs` passes first. */
  fetch(keys: readonly string[], timeoutMs: number): Promise<Map<string, Row>>;
  close(): Promise<void>;
}

/** Opens the lookup an enrichment declares; a table without its own `database` lives in `defaultDatabase` (the store's). */
export function openLookup(spec: EnrichSpec, defaultDatabase: string | undefined): DimensionLookup {
  const from = spec.lookup;
  if (from.kind === 'http') return new HttpLookup(from.url);
  const url = from.database ?? defaultDatabase;
  if (url === undefined) throw new Error(`enrich.${spec.name}: table ${from.table} needs a database (from.database or the store URL)`);
  const columns = [...new Set(spec.fields.values())];
  if (url.startsWith('sqlite:')) return new SqliteLookup(url.slice('sqlite:'.length).replace(/^\/\//, ''), from.table, from.keyColumn, columns);
  if (url.startsWith('mysql:') || url.startsWith('tidb:')) return new MysqlLookup(url.replace(/^tidb:/, 'mysql:'), from.table, from.keyColumn, columns);
  throw new Error(`enrich.${spec.name}: unknown database URL ${JSON.stringify(url)} (use sqlite:<path> or mysql://…)`);
}

/** Identifiers were checked by the template schema (plain names, optionally schema.table); quoting keeps keywords safe. */
function quoted(name: string, quote: string): string {
  return name.split('.').map((part) => `${quote}${part}${quote}`).join('.');
}

function selectSql(table: string, keyColumn: string, columns: readonly string[], count: number, quote: string): string {
  const list = columns.map((c) => quoted(c, quote)).join(', ');
  const marks = new Array(count).fill('?').join(', ');
  return `SELECT ${quoted(keyColumn, quote)} AS weft_key, ${list} FROM ${quoted(table, quote)} WHERE ${quoted(keyColumn, quote)} IN (${marks})`;
}

function byKey(rows: readonly Record<string, unknown>[]): Map<string, Row> {
  const found = new Map<string, Row>();
  for (const row of rows) {
    const { weft_key: key, ...columns } = row;
    found.set(String(key), columns);
  }
  return found;
}

class MysqlLookup implements DimensionLookup {
  private readonly pool: mysql.Pool;

  constructor(url: string, private readonly table: string, private readonly keyColumn: string, private readonly columns: readonly string[]) {
    const target = parseMysqlUrl(url);
    this.pool = mysql.createPool({
      host: target.host, port: target.port, user: target.user, password: target.password, database: target.database,
      connectionLimit: target.poolSize ?? 4, waitForConnections: true, charset: 'UTF8MB4_BIN',
      supportBigNumbers: true, bigNumberStrings: false, decimalNumbers: true, dateStrings: true, enableKeepAlive: true,
    });
    this.pool.on('connection', (conn) => (conn as unknown as { on(e: 'error', l: () => void): void }).on('error', () => undefined));
  }

  async fetch(keys: readonly string[], timeoutMs: number): Promise<Map<string, Row>> {
    // mysql2 destroys the connection when the timeout passes, so a stuck query frees its slot.
    const [rows] = await this.pool.query({ sql: selectSql(this.table, this.keyColumn, this.columns, keys.length, '`'), timeout: timeoutMs }, keys as string[]);
    return byKey(rows as Record<string, unknown>[]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** SQLite is in-process and answers from a local file: synchronous, no timeout to enforce. */
class SqliteLookup implements DimensionLookup {
  private readonly db: Database.Database;
  private readonly statements = new Map<number, Database.Statement>();

  constructor(path: string, private readonly table: string, private readonly keyColumn: string, private readonly columns: readonly string[]) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
  }

  async fetch(keys: readonly string[]): Promise<Map<string, Row>> {
    let statement = this.statements.get(keys.length);
    if (!statement) {
      statement = this.db.prepare(selectSql(this.table, this.keyColumn, this.columns, keys.length, '"'));
      this.statements.set(keys.length, statement);
    }
    return byKey(statement.all(...keys) as Record<string, unknown>[]);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** POST {"keys": [...]} → {"<key>": {column: value}}; a key missing from the answer is a miss. */
class HttpLookup implements DimensionLookup {
  constructor(private readonly url: string) {}

  async fetch(keys: readonly string[], timeoutMs: number): Promise<Map<string, Row>> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ keys }),
      // The caller enforces `timeoutMs`; this only frees the socket of a request nobody waits for.
      signal: AbortSignal.timeout(timeoutMs + 5_000),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${this.url}`);
    const body = (await response.json()) as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`${this.url} did not answer a JSON object of rows by key`);
    const found = new Map<string, Row>();
    for (const [key, row] of Object.entries(body)) if (row && typeof row === 'object') found.set(key, row as Row);
    return found;
  }

  async close(): Promise<void> {}
}
