import type { Lookup, OrphanDoc, SessionDoc } from '../engine/types.js';
import { MAX_EVENTS_BYTES, prepareBatch, queryText } from './normalise.js';
import type { PreparedSession } from './normalise.js';
import {
  BRIEF_COLUMNS,
  briefOf,
  type BriefRowData,
  buildFieldValues,
  buildOrphans,
  buildSearch,
  buildWidthCheck,
  wideSlots,
  SUMMARY_COLUMNS,
  type BuiltQuery,
  buildStats,
  docOf,
  orphanOf,
  pageOf,
  parseNotes,
  HEAD_COLUMNS,
  type HeadRowData,
  statsRowOf,
  summaryOf,
  type Dialect,
  type OrphanRowData,
  type StatsRowData,
  type SummaryRowData,
} from './queries.js';
import { guardOf, type WriteGuard } from './guard.js';
import {
  LOOKUP_LIMIT,
  StoreInputError,
  StoreQueryError,
  type OperatorChange,
  type BriefPage,
  type FieldValuesOptions,
  type FieldValuesResult,
  type OrphanPage,
  type OrphanQuery,
  type SearchPage,
  type SearchQuery,
  type StatsQuery,
  type StatsRow,
  type Store,
  type StoreCounters,
  type StoreInfo,
  type StoredSession,
  type TemplateRecord,
  type OperatorMerge,
  type SessionVersion,
} from './types.js';
import type { Severity } from '../template/index.js';
import type { SessionStatus } from '../engine/types.js';

export type Row = Record<string, unknown>;
type DocRowData = HeadRowData & { readonly events_json: string };
const SESSION_DOC_COLUMNS = `${HEAD_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}, s.events_json`;

/** What {@link SqlStore.getStored} reads (one row of `sessions`). */
export const STORED_COLUMNS = `${HEAD_COLUMNS}, events_json, notes, updated_ms`;
export type StoredRowData = DocRowData & { readonly notes: string | null; readonly updated_ms: number };

export function storedOf(row: StoredRowData): StoredSession {
  return {
    session: docOf(row),
    notes: parseNotes(row.notes),
    updatedAt: Number(row.updated_ms),
  };
}

export function emptyCounters(): StoreCounters {
  return {
    upsertBatches: 0,
    sessionsWritten: 0,
    sessionsStale: 0,
    fieldRowsWritten: 0,
    orphansWritten: 0,
    valuesNormalised: 0,
    retries: 0,
    connectionErrors: 0,
  };
}

const TEMPLATE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkTemplateId(id: string): void {
  if (typeof id !== 'string' || !TEMPLATE_ID.test(id)) throw new StoreQueryError(`invalid template id ${JSON.stringify(id)}`);
}

export function checkTemplateText(text: string): void {
  if (typeof text !== 'string') throw new StoreQueryError('template text must be a string');
  if (Buffer.byteLength(text) > MAX_EVENTS_BYTES) throw new StoreQueryError(`template text over ${MAX_EVENTS_BYTES} bytes`);
}

export function templateOf(row: Row): TemplateRecord {
  return {
    id: String(row.id),
    text: String(row.body),
    revision: Number(row.revision),
    updatedAt: Number(row.updated_ms),
  };
}

/** The record a save writes: the revision rises only when the text changed (undefined: nothing to write). */
export function nextTemplateRecord(id: string, text: string, old: Row | undefined): TemplateRecord | undefined {
  if (old !== undefined && old.body === text) return undefined;
  return { id, text, revision: old === undefined ? 1 : Number(old.revision) + 1, updatedAt: Date.now() };
}

/** `session_versions` columns, in the order {@link versionValues} gives them. */
export const VERSION_COLUMNS = ['session_id', 'version', 'status', 'verdict', 'severity', 'event_count', 'start_ms', 'end_ms', 'written_ms'] as const;

/** The history row of a session version being written. */
export function versionValues(p: PreparedSession): unknown[] {
  const r = p.row;
  return [r.id, r.version, r.status, r.verdict, r.severity, r.eventCount, r.start, r.end, r.updatedAt];
}

/**
 * What both SQL stores share: everything that is one SELECT (get, lookup, search, stats, field
 * values, orphans, templates). Writes and migrations are dialect-specific.
 */
export abstract class SqlStore implements Store {
  protected readonly stats_ = emptyCounters();
  protected info_: StoreInfo;
  /** Largest number of sessions per transaction. */
  protected readonly maxTransactionSessions: number;

  protected constructor(
    protected readonly dialect: Dialect,
    info: StoreInfo,
    maxTransactionSessions: number | undefined,
  ) {
    this.info_ = info;
    this.maxTransactionSessions = Math.max(1, maxTransactionSessions ?? 2000);
  }

  /** One read-only statement (retried on transient failure by the implementation). */
  protected abstract select(sql: string, params: readonly unknown[]): Promise<Row[]>;
  /**
   * A search page's statement (a SELECT of {@link buildSearch}: rows ordered by start_ms and id,
   * descending). The MySQL store coalesces concurrent ones; by default, one select.
   */
  protected selectPage(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.select(sql, params);
  }
  /**
   * Writes one batch (≤ maxTransactionSessions, one id once) in one transaction. With a `guard`,
   * the transaction first finds every expected version under lock (or throws StoreConflictError,
   * writing nothing) and writes the guard's merge records with the sessions.
   */
  protected abstract writeBatch(batch: readonly PreparedSession[], guard?: WriteGuard): Promise<void>;

  abstract migrate(): Promise<void>;
  abstract recordOrphans(orphans: readonly OrphanDoc[]): Promise<void>;
  abstract takeOrphans(template: string, field: string, value: string): Promise<OrphanDoc[]>;
  abstract saveTemplate(id: string, text: string): Promise<TemplateRecord>;
  abstract deleteTemplate(id: string): Promise<boolean>;
  abstract recordMerge(survivorId: string, absorbed: SessionDoc): Promise<void>;
  abstract deleteMerge(absorbedId: string): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;

  async upsertSessions(sessions: readonly SessionDoc[]): Promise<void> {
    if (sessions.length === 0) return;
    const prepared = prepareBatch(sessions, Date.now());
    for (const p of prepared) this.stats_.valuesNormalised += p.notes.length;
    this.stats_.sessionsStale += sessions.length - prepared.length;
    for (let i = 0; i < prepared.length; i += this.maxTransactionSessions) {
      await this.writeBatch(prepared.slice(i, i + this.maxTransactionSessions));
    }
    this.stats_.upsertBatches++;
  }

  async replaceIfUnchanged(change: OperatorChange): Promise<void> {
    const now = Date.now();
    const guard = guardOf(change, now);
    const prepared = prepareBatch(change.sessions, now);
    // Split, the check would hold for each part only: a conflict found in the second would leave the first written.
    if (prepared.length > this.maxTransactionSessions) {
      throw new StoreInputError(`operator change: ${prepared.length} sessions do not fit one transaction (at most ${this.maxTransactionSessions})`);
    }
    for (const p of prepared) this.stats_.valuesNormalised += p.notes.length;
    await this.writeBatch(prepared, guard);
  }

  async lookup(lookup: Lookup): Promise<SessionDoc[]> {
    if (lookup.by === 'key') {
      const key = String(lookup.key);
      const params: unknown[] = [lookup.template];
      const keyCond = this.dialect.textEquals('anchor_key', queryText(key), params);
      params.push(LOOKUP_LIMIT);
      const rows = await this.select(
        `SELECT ${HEAD_COLUMNS}, events_json FROM sessions WHERE template = ? AND ${keyCond} ORDER BY start_ms DESC, id DESC LIMIT ?`,
        params,
      );
      // The column keeps the first 512 characters: compare the whole key.
      return (rows as unknown as DocRowData[]).map(docOf).filter((d) => d.key === key);
    }
    const params: unknown[] = [lookup.field];
    const valueCond = this.dialect.textEquals('f.str_value', queryText(String(lookup.value)), params);
    params.push(lookup.template, LOOKUP_LIMIT);
    const rows = await this.select(
      `SELECT ${SESSION_DOC_COLUMNS} FROM session_fields f JOIN sessions s ON s.id = f.session_id ` +
        `WHERE f.name = ? AND ${valueCond} AND f.template = ? ORDER BY f.start_ms DESC, f.session_id DESC LIMIT ?`,
      params,
    );
    return (rows as unknown as DocRowData[]).map(docOf);
  }

  async getSession(id: string): Promise<SessionDoc | undefined> {
    return (await this.getStored(id))?.session;
  }

  async getStored(id: string): Promise<StoredSession | undefined> {
    const rows = await this.select(`SELECT ${STORED_COLUMNS} FROM sessions WHERE id = ?`, [id]);
    const row = rows[0] as unknown as StoredRowData | undefined;
    return row === undefined ? undefined : storedOf(row);
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const built = await this.planSearch(query, SUMMARY_COLUMNS);
    const rows = (await this.selectPage(built.sql, built.params)) as unknown as SummaryRowData[];
    const page = pageOf(rows, built.limit, summaryOf);
    return { sessions: page.items, cursor: page.cursor };
  }

  async searchBriefs(query: SearchQuery): Promise<BriefPage> {
    const built = await this.planSearch(query, BRIEF_COLUMNS);
    const rows = (await this.selectPage(built.sql, built.params)) as unknown as BriefRowData[];
    const page = pageOf(rows, built.limit, briefOf);
    return { sessions: page.items, cursor: page.cursor };
  }

  /**
   * Field rows from which a range or prefix counts as wide (checked per candidate session rather
   * than read whole); undefined: by page size ({@link buildWidthCheck}). Both ways give the same
   * hits; tests set it to take either way on small data.
   */
  searchWideAt: number | undefined = undefined;

  /** The search, after asking which of its ranges and prefixes are wide (one bounded read). */
  private async planSearch(query: SearchQuery, columns: string): Promise<BuiltQuery> {
    const plain = buildSearch(this.dialect, query, columns); // bad input fails before any read
    const check = buildWidthCheck(this.dialect, query, this.searchWideAt);
    if (check === undefined) return plain;
    const rows = await this.select(check.sql, check.params);
    return buildSearch(this.dialect, query, columns, wideSlots(check, rows[0]));
  }

  async stats(query: StatsQuery): Promise<StatsRow[]> {
    const built = buildStats(query);
    const rows = (await this.select(built.sql, built.params)) as unknown as StatsRowData[];
    const out = rows.map((r) => statsRowOf(r, query.template));
    // Rows come per template; across templates, order by time (stable: template order kept).
    if (query.template === undefined) out.sort((a, b) => a.time - b.time);
    return out;
  }

  async fieldValues(name: string, options: FieldValuesOptions = {}): Promise<FieldValuesResult> {
    const built = buildFieldValues(this.dialect, name, options);
    const rows = await this.select(built.sql, built.params);
    const total = rows.length > 0 ? Number(rows[0]!.total) : 0;
    return {
      values: rows.map((r) => ({ value: String(r.str_value), count: Number(r.n) })),
      complete: total < built.scanLimit,
    };
  }

  async orphans(query: OrphanQuery = {}): Promise<OrphanPage> {
    const built = buildOrphans(this.dialect, query);
    const rows = (await this.select(built.sql, built.params)) as unknown as OrphanRowData[];
    const page = pageOf(
      rows.map((r) => ({ ...r, start_ms: r.time_ms })),
      built.limit,
      orphanOf,
    );
    return { orphans: page.items, cursor: page.cursor };
  }

  async history(id: string): Promise<SessionVersion[]> {
    const rows = await this.select(
      'SELECT version, status, verdict, severity, event_count, start_ms, end_ms, written_ms FROM session_versions WHERE session_id = ? ORDER BY version',
      [id],
    );
    return rows.map((r) => ({
      version: Number(r.version),
      status: String(r.status) as SessionStatus,
      verdict: r.verdict === null ? null : String(r.verdict),
      severity: r.severity === null ? null : (String(r.severity) as Severity),
      eventCount: Number(r.event_count),
      start: Number(r.start_ms),
      end: Number(r.end_ms),
      writtenAt: Number(r.written_ms),
    }));
  }

  async merges(survivorId: string): Promise<OperatorMerge[]> {
    const rows = await this.select(
      'SELECT survivor_id, absorbed_json, merged_ms FROM operator_merges WHERE survivor_id = ? ORDER BY merged_ms, absorbed_id',
      [survivorId],
    );
    return rows.map((r) => ({
      survivorId: String(r.survivor_id),
      absorbed: JSON.parse(String(r.absorbed_json)) as SessionDoc,
      mergedAt: Number(r.merged_ms),
    }));
  }

  async listTemplates(): Promise<TemplateRecord[]> {
    const rows = await this.select('SELECT id, body, revision, updated_ms FROM templates ORDER BY id', []);
    return rows.map(templateOf);
  }

  async getTemplate(id: string): Promise<TemplateRecord | undefined> {
    const rows = await this.select('SELECT id, body, revision, updated_ms FROM templates WHERE id = ?', [id]);
    return rows[0] === undefined ? undefined : templateOf(rows[0]);
  }

  info(): StoreInfo {
    return this.info_;
  }

  counters(): StoreCounters {
    return { ...this.stats_ };
  }
}

