/**
 * Checkpoints: per (stage, topic, partition) the next offset to read and the state that goes with
 * it, in one row of the store's database (`weft_checkpoints`), written in one statement so offset
 * and state can never disagree. Why the database and not a compacted topic: the state and the
 * sessions it produced then live in the same durable place (restart needs one system, not two);
 * a snapshot of many open sessions easily exceeds a broker's default 1 MB message limit; and
 * librdkafka's mock cluster (our test broker) does not compact. A row only moves forward: a
 * slower previous owner of a partition cannot overwrite a newer checkpoint with an older one.
 */
import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { parseMysqlUrl } from '../store/index.js';
import { backoffMs, describeError, isConnectionError, isTransientError, sleep } from '../store/retry.js';

export interface Checkpoint<T> {
  /** The first offset not yet reflected in `state`. */
  readonly offset: number;
  readonly state: T;
}

export interface CheckpointStore {
  load<T>(stage: string, topic: string, partition: number): Promise<Checkpoint<T> | undefined>;
  /** Keeps the row with the higher offset (equal: the newer write). */
  save(stage: string, topic: string, partition: number, checkpoint: Checkpoint<unknown>): Promise<void>;
  close(): Promise<void>;
}

const gzipAsync = promisify(gzip);
/** The compression runs on libuv's thread pool, off the thread that runs the engines (a checkpoint holds every open session). */
const encode = (state: unknown): Promise<Buffer> => gzipAsync(JSON.stringify(state), { level: 1 });
const decode = <T>(blob: Buffer): T => JSON.parse(gunzipSync(blob).toString('utf8')) as T;

export async function openCheckpoints(storeUrl: string, log: (message: string) => void): Promise<CheckpointStore> {
  if (storeUrl.startsWith('sqlite:')) {
    const rest = storeUrl.slice('sqlite:'.length);
    return new SqliteCheckpoints(rest.startsWith('//') ? rest.slice(2) : rest);
  }
  const checkpoints = new MysqlCheckpoints(storeUrl.replace(/^tidb:/, 'mysql:'), log);
  await checkpoints.migrate();
  return checkpoints;
}

class SqliteCheckpoints implements CheckpointStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS weft_checkpoints (
      stage TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
      next_offset INTEGER NOT NULL, state BLOB NOT NULL, updated_at INTEGER NOT NULL,
      PRIMARY KEY (stage, topic, part))`);
  }

  async load<T>(stage: string, topic: string, partition: number): Promise<Checkpoint<T> | undefined> {
    const row = this.db.prepare('SELECT next_offset, state FROM weft_checkpoints WHERE stage = ? AND topic = ? AND part = ?')
      .get(stage, topic, partition) as { next_offset: number; state: Buffer } | undefined;
    return row ? { offset: Number(row.next_offset), state: decode<T>(row.state) } : undefined;
  }

  async save(stage: string, topic: string, partition: number, checkpoint: Checkpoint<unknown>): Promise<void> {
    this.db.prepare(`INSERT INTO weft_checkpoints (stage, topic, part, next_offset, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (stage, topic, part) DO UPDATE SET next_offset = excluded.next_offset, state = excluded.state, updated_at = excluded.updated_at
      WHERE excluded.next_offset >= weft_checkpoints.next_offset`)
      .run(stage, topic, partition, checkpoint.offset, await encode(checkpoint.state), Date.now());
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

class MysqlCheckpoints implements CheckpointStore {
  private readonly pool: mysql.Pool;

  constructor(url: string, private readonly log: (message: string) => void) {
    const target = parseMysqlUrl(url);
    this.pool = mysql.createPool({
      host: target.host, port: target.port, user: target.user, password: target.password, database: target.database,
      connectionLimit: 4, waitForConnections: true, enableKeepAlive: true, connectTimeout: 10_000,
    });
    this.pool.on('connection', (conn) => {
      (conn as unknown as { on(event: 'error', listener: () => void): void }).on('error', () => undefined);
    });
  }

  async migrate(): Promise<void> {
    await this.retry('create weft_checkpoints', () => this.pool.query(`CREATE TABLE IF NOT EXISTS weft_checkpoints (
      stage VARCHAR(64) NOT NULL, topic VARCHAR(249) NOT NULL, part INT NOT NULL,
      next_offset BIGINT NOT NULL, state LONGBLOB NOT NULL, updated_at BIGINT NOT NULL,
      PRIMARY KEY (stage, topic, part))`));
  }

  async load<T>(stage: string, topic: string, partition: number): Promise<Checkpoint<T> | undefined> {
    const [rows] = await this.retry('load checkpoint', () => this.pool.execute(
      'SELECT next_offset, state FROM weft_checkpoints WHERE stage = ? AND topic = ? AND part = ?', [stage, topic, partition]));
    const row = (rows as Array<{ next_offset: number | string; state: Buffer }>)[0];
    return row ? { offset: Number(row.next_offset), state: decode<T>(row.state) } : undefined;
  }

  async save(stage: string, topic: string, partition: number, checkpoint: Checkpoint<unknown>): Promise<void> {
    const blob = await encode(checkpoint.state);
    // Assignments run left to right: next_offset is compared before it is itself replaced.
    await this.retry('save checkpoint', () => this.pool.execute(
      `INSERT INTO weft_checkpoints (stage, topic, part, next_offset, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE
         state = IF(VALUES(next_offset) >= next_offset, VALUES(state), state),
         updated_at = IF(VALUES(next_offset) >= next_offset, VALUES(updated_at), updated_at),
         next_offset = GREATEST(next_offset, VALUES(next_offset))`,
      [stage, topic, partition, checkpoint.offset, blob, Date.now()]));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Lost connections and lost races are retried (the write is idempotent); other errors throw. */
  private async retry<T>(what: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        const transient = isConnectionError(error) || isTransientError(error, false);
        if (!transient || Date.now() - started > 600_000) throw error;
        this.log(`${what}: ${describeError(error)}; retrying`);
        await sleep(backoffMs(attempt));
      }
    }
  }
}
