import Database from 'better-sqlite3';
import type { OrphanDoc, SessionDoc } from '../engine/types.js';
import { SqlStore, VERSION_COLUMNS, versionValues, checkTemplateId, checkTemplateText, nextTemplateRecord, templateOf, type Row } from './base.js';
import { SESSION_COLUMNS, prepareOrphan, queryText, sessionValues, type PreparedSession } from './normalise.js';
import { EXISTING_COLUMNS, existingOf, planUpsert, type ExistingState, type UpsertPlan } from './plan.js';
import { ORPHAN_COLUMNS, orphanDocOf, sqliteDialect, type OrphanRowData } from './queries.js';
import { idsToRead, requireUnchanged, type WriteGuard } from './guard.js';
import { backoffMs, describeError, isTransientError, sleep } from './retry.js';
import { MIGRATIONS, MIGRATIONS_TABLE_SQLITE, SCHEMA_VERSION } from './schema.js';
import type { StoreOptions, TemplateRecord } from './types.js';

/** Records an operator merge (absorbed_id, survivor_id, absorbed_json, merged_ms); the same absorbed session again replaces it. */
const RECORD_MERGE =
  'INSERT INTO operator_merges (absorbed_id, survivor_id, absorbed_json, merged_ms) VALUES (?, ?, ?, ?) ' +
  'ON CONFLICT (absorbed_id) DO UPDATE SET survivor_id = excluded.survivor_id, absorbed_json = excluded.absorbed_json, merged_ms = excluded.merged_ms';
const DELETE_MERGE = 'DELETE FROM operator_merges WHERE absorbed_id = ?';

/**
 * The embedded default: one SQLite file (or `:memory:`) through better-sqlite3, in WAL mode.
 * better-sqlite3 is synchronous, so each operation runs to completion (its transaction included)
 * before the next starts; the async interface only wraps it. Writers in other processes are
 * serialised by SQLite's write lock (BEGIN IMMEDIATE, busy timeout, then retry with backoff).
 */
export class SqliteStore extends SqlStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly retryForMs: number;
  private readonly log: (message: string) => void;

  constructor(path: string, options: StoreOptions = {}) {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 1000');
    db.pragma('foreign_keys = OFF');
    const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    super(sqliteDialect, { kind: 'sqlite', server: `SQLite ${version}`, tidb: false, schemaVersion: 0 }, options.maxTransactionSessions);
    this.db = db;
    this.retryForMs = options.retryForMs ?? 600_000;
    this.log = options.log ?? ((m) => console.warn(m));
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Runs `fn`, retrying while another process holds the database locked. */
  private async retrying<T>(what: string, fn: () => T): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (error) {
        if (!this.db.open || !isTransientError(error, false) || Date.now() - started > this.retryForMs) throw error;
        this.stats_.retries++;
        if (attempt === 0) this.log(`weft store: ${what} retried: ${describeError(error)}`);
        await sleep(backoffMs(attempt));
      }
    }
  }

  async migrate(): Promise<void> {
    const run = this.db.transaction(() => {
      this.db.exec(MIGRATIONS_TABLE_SQLITE);
      const applied = new Set(
        (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
      );
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        for (const sql of m.sqlite) this.db.exec(sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      }
    });
    await this.retrying('migrate', () => run.immediate());
    this.info_ = { ...this.info_, schemaVersion: SCHEMA_VERSION };
  }

  protected async select(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.retrying('query', () => this.stmt(sql).all(...params) as Row[]);
  }

  protected async writeBatch(batch: readonly PreparedSession[], guard?: WriteGuard): Promise<void> {
    const tx = this.db.transaction((): UpsertPlan => {
      const read = this.stmt(
        `SELECT ${EXISTING_COLUMNS} FROM sessions WHERE id = ?`,
      );
      const existing = new Map<string, ExistingState>();
      for (const id of idsToRead(batch, guard)) {
        const r = read.get(id) as Row | undefined;
        if (r === undefined) continue;
        existing.set(id, existingOf(r));
      }
      // BEGIN IMMEDIATE holds the database's write lock: no other process writes between this check and the commit.
      if (guard !== undefined) requireUnchanged(guard, (id) => existing.get(id)?.version ?? null);
      const plan = planUpsert(batch, existing);
      const insert = this.stmt(
        `INSERT INTO sessions (${SESSION_COLUMNS.join(', ')}) VALUES (${SESSION_COLUMNS.map(() => '?').join(', ')})`,
      );
      for (const p of plan.inserts) insert.run(...sessionValues(p));
      const update = this.stmt(
        `UPDATE sessions SET ${SESSION_COLUMNS.slice(1).map((c) => `${c} = ?`).join(', ')} WHERE id = ?`,
      );
      for (const p of plan.updates) {
        const values = sessionValues(p);
        update.run(...values.slice(1), values[0]);
      }
      const delText = this.stmt('DELETE FROM session_fields WHERE name = ? AND str_value = ? AND start_ms = ? AND session_id = ?');
      const delNumber = this.stmt('DELETE FROM session_numbers WHERE name = ? AND num_value = ? AND start_ms = ? AND session_id = ?');
      for (const f of plan.fieldDeletes) {
        delText.run(f.name, f.str, f.start, f.sessionId);
        if (f.num !== null) delNumber.run(f.name, f.num, f.start, f.sessionId);
      }
      const text = this.stmt('INSERT INTO session_fields (name, str_value, start_ms, session_id, template) VALUES (?, ?, ?, ?, ?)');
      const number = this.stmt('INSERT INTO session_numbers (name, num_value, start_ms, session_id, template) VALUES (?, ?, ?, ?, ?)');
      for (const f of plan.fieldInserts) {
        text.run(f.name, f.str, f.start, f.sessionId, f.template);
        if (f.num !== null) number.run(f.name, f.num, f.start, f.sessionId, f.template);
      }
      const rollup = this.stmt(
        'INSERT INTO verdict_rollups (grain, template, bucket, verdict, severity, n) VALUES (?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (grain, template, bucket, verdict, severity) DO UPDATE SET n = n + excluded.n',
      );
      for (const d of plan.rollups) rollup.run(d.grain, d.template, d.bucket, d.verdict, d.severity, d.delta);
      const version = this.stmt(
        `INSERT OR IGNORE INTO session_versions (${VERSION_COLUMNS.join(', ')}) VALUES (${VERSION_COLUMNS.map(() => '?').join(', ')})`,
      );
      for (const p of plan.inserts) version.run(...versionValues(p));
      for (const p of plan.updates) version.run(...versionValues(p));
      if (guard !== undefined) {
        for (const m of guard.recordMerges) this.stmt(RECORD_MERGE).run(m.absorbed.id, m.survivorId, JSON.stringify(m.absorbed), guard.mergedAt);
        for (const id of guard.deleteMerges) this.stmt(DELETE_MERGE).run(id);
      }
      return plan;
    });
    const plan = await this.retrying('upsert', () => tx.immediate());
    this.stats_.sessionsWritten += plan.inserts.length + plan.updates.length;
    this.stats_.sessionsStale += plan.stale;
    this.stats_.fieldRowsWritten += plan.fieldInserts.length;
  }

  async recordOrphans(orphans: readonly OrphanDoc[]): Promise<void> {
    if (orphans.length === 0) return;
    const now = Date.now();
    const rows = orphans.map((o) => prepareOrphan(o, now));
    for (const r of rows) if (r.notes !== null) this.stats_.valuesNormalised += (JSON.parse(r.notes) as unknown[]).length;
    const tx = this.db.transaction((): number => {
      const insert = this.stmt(
        'INSERT INTO orphans (id, template, step, source, time_ms, reason, join_field, join_value, notes, recorded_ms, value_json) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      );
      let written = 0;
      for (const r of rows) {
        written += insert.run(r.id, r.template, r.step, r.source, r.time, r.reason, r.joinField, r.joinValue, r.notes, r.recordedAt, r.value).changes;
      }
      return written;
    });
    this.stats_.orphansWritten += await this.retrying('orphans', () => tx.immediate());
  }

  async takeOrphans(template: string, field: string, value: string): Promise<OrphanDoc[]> {
    const tx = this.db.transaction((): OrphanRowData[] => {
      const rows = this.stmt(`SELECT ${ORPHAN_COLUMNS} FROM orphans WHERE template = ? AND join_field = ? AND join_value = ?`).all(
        template,
        field,
        queryText(value),
      ) as OrphanRowData[];
      const del = this.stmt('DELETE FROM orphans WHERE id = ?');
      for (const r of rows) del.run(r.id);
      return rows;
    });
    return (await this.retrying('orphans', () => tx.immediate())).map(orphanDocOf);
  }

  async saveTemplate(id: string, text: string): Promise<TemplateRecord> {
    checkTemplateId(id);
    checkTemplateText(text);
    const tx = this.db.transaction((): TemplateRecord => {
      const old = this.stmt('SELECT id, body, revision, updated_ms FROM templates WHERE id = ?').get(id) as Row | undefined;
      const record = nextTemplateRecord(id, text, old);
      if (record === undefined) return templateOf(old!);
      this.stmt(
        'INSERT INTO templates (id, body, revision, updated_ms) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET body = excluded.body, revision = excluded.revision, updated_ms = excluded.updated_ms',
      ).run(record.id, record.text, record.revision, record.updatedAt);
      return record;
    });
    return this.retrying('template', () => tx.immediate());
  }

  async deleteTemplate(id: string): Promise<boolean> {
    return this.retrying('template', () => this.stmt('DELETE FROM templates WHERE id = ?').run(id).changes > 0);
  }

  async recordMerge(survivorId: string, absorbed: SessionDoc): Promise<void> {
    await this.retrying('merge', () => this.stmt(RECORD_MERGE).run(absorbed.id, survivorId, JSON.stringify(absorbed), Date.now()));
  }

  async deleteMerge(absorbedId: string): Promise<void> {
    await this.retrying('unmerge', () => this.stmt(DELETE_MERGE).run(absorbedId));
  }

  async ping(): Promise<void> {
    this.stmt('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** For tests and tools: the underlying connection. */
  get database(): Database.Database {
    return this.db;
  }
}
