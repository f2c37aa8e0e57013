/** Which database failures are worth retrying, and how long to wait between attempts. */

interface DbError {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly fatal?: unknown;
  readonly message?: unknown;
}

/** The connection is gone (killed, server restarted, network): retry on a fresh connection. */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_PACKETS_OUT_OF_ORDER',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
]);

const CONNECTION_ERRNOS = new Set([
  1040, // too many connections
  1053, // server shutdown in progress
  1152, // aborted connection
  1927, // MariaDB: connection was killed
  2002, // can't connect
  2003, // can't connect
  2006, // server has gone away
  2013, // lost connection during query
  4031, // MySQL 8: disconnected by the server because of inactivity
]);

/** The transaction lost a race (deadlock, lock timeout, TiDB write conflict): retry it whole. */
const TRANSIENT_ERRNOS = new Set([
  1205, // lock wait timeout
  1213, // deadlock
  1317, // query interrupted (KILL QUERY)
  8002, // TiDB: SELECT FOR UPDATE write conflict
  8022, // TiDB: transaction retry error
  8028, // TiDB: information schema changed
  9001, // TiDB: PD unavailable
  9002, // TiDB: TiKV timeout
  9005, // TiDB: region unavailable
  9006, // TiDB: GC life time too short
  9007, // TiDB: write conflict
]);

export function isConnectionError(error: unknown): boolean {
  const e = error as DbError | null;
  if (e === null || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.errno === 'number' && CONNECTION_ERRNOS.has(e.errno)) return true;
  if (e.fatal === true) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /closed state|connection lost|server has gone away/i.test(message);
}

export function isTransientError(error: unknown, duplicateIsConflict: boolean): boolean {
  const e = error as DbError | null;
  if (e === null || typeof e !== 'object') return false;
  if (typeof e.errno === 'number' && TRANSIENT_ERRNOS.has(e.errno)) return true;
  // A concurrent writer inserted the same new session first: re-plan against its row.
  if (duplicateIsConflict && (e.errno === 1062 || e.code === 'ER_DUP_ENTRY')) return true;
  // SQLite: another process holds the write lock past busy_timeout.
  if (e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED' || e.code === 'SQLITE_BUSY_SNAPSHOT') return true;
  return false;
}

/** Exponential backoff with full jitter: 50 ms, 100 ms, … capped at 5 s. */
export function backoffMs(attempt: number): number {
  const cap = Math.min(5000, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeError(error: unknown): string {
  const e = error as DbError | null;
  if (e === null || typeof e !== 'object') return String(error);
  const code = typeof e.code === 'string' ? e.code : typeof e.errno === 'number' ? String(e.errno) : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  return code ? `${code}: ${message}` : message;
}
