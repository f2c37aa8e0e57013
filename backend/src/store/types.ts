import type { Lookup, OrphanDoc, SessionDoc, SessionStatus } from '../engine/types.js';
import type { Severity } from '../template/index.js';

/**
 * Where fired sessions live (DESIGN.md "Store"). The engine's sink and its late path both go through
 * this interface; `sqlite` (embedded default) and `mysql` (TiDB / MySQL / MariaDB) implement it and
 * pass one contract suite.
 */
export interface Store {
  /** Runs pending schema migrations; safe to call twice and from two processes at once. */
  migrate(): Promise<void>;
  /**
   * Upserts fired sessions in one transaction: a row is replaced only by a higher version, fields
   * (EAV rows) and verdict rollups move with it. Re-delivering the same fire changes nothing.
   * A session whose status is `merged` keeps its row but leaves the rollups (this is how merges are
   * marked). Values that do not fit are stored truncated or normalised, with a note (see
   * {@link StoredSession.notes}). Lost connections, deadlocks and write conflicts are retried with
   * backoff (the promise settles only once the batch is durable, or the retry budget is spent).
   * Batches larger than {@link StoreOptions.maxTransactionSessions} are split into several
   * transactions, each consistent on its own.
   */
  upsertSessions(sessions: readonly SessionDoc[]): Promise<void>;
  /** Idempotent: an orphan recorded twice (same engine `id`) is kept once. */
  recordOrphans(orphans: readonly OrphanDoc[]): Promise<void>;
  /**
   * Stored sessions a late record may belong to: by anchor key, or by a field value (string match;
   * a number or boolean field matches its `String()` form; any element of a multi-valued field).
   * Like the engine's in-memory store, merged sessions are included (the engine skips them).
   * At most {@link LOOKUP_LIMIT} sessions, newest first.
   */
  lookup(lookup: Lookup): Promise<SessionDoc[]>;
  getSession(id: string): Promise<SessionDoc | undefined>;
  close(): Promise<void>;

  // ── query side (API, traces, Grafana) ────────────────────────────────────────────────────────

  /** A session with what the store knows about it (notes about normalised values, write time). */
  getStored(id: string): Promise<StoredSession | undefined>;
  /** Sessions matching every condition, newest first (start, then id, descending), keyset-paginated. */
  search(query: SearchQuery): Promise<SearchPage>;
  /**
   * The same search, each hit reduced to what a trace search shows ({@link SessionBrief}): fewer
   * columns read and decoded (Tempo search, Grafana's trace lists).
   */
  searchBriefs(query: SearchQuery): Promise<BriefPage>;
  /** Counts per verdict per bucket, read from the rollups (never from the sessions table). */
  stats(query: StatsQuery): Promise<StatsRow[]>;
  /** Most frequent values of a field (for Grafana variables and search suggestions). */
  fieldValues(name: string, options?: FieldValuesOptions): Promise<FieldValuesResult>;
  /** Orphans, newest first (event time, then id, descending), keyset-paginated. */
  orphans(query?: OrphanQuery): Promise<OrphanPage>;
  /**
   * Removes and returns the orphans of `template` that waited on `field` = `value` (the engine's
   * adopt request: it hands them to `Engine.adopt`; those that still join nothing come back as
   * orphans). Atomic: two callers never both take the same orphan.
   */
  takeOrphans(template: string, field: string, value: string): Promise<OrphanDoc[]>;

  /** The versions this store wrote for a session, oldest first (the stored one last). */
  history(id: string): Promise<SessionVersion[]>;
  /**
   * Records an operator's merge of `absorbed` (as it was before the merge) into `survivorId`, so
   * that an unmerge can restore it. Call before upserting the merged pair; recording the same
   * absorbed session again replaces the record.
   */
  recordMerge(survivorId: string, absorbed: SessionDoc): Promise<void>;
  /** Operator merges into `survivorId`, oldest first. */
  merges(survivorId: string): Promise<OperatorMerge[]>;
  /** Forgets the operator merge of `absorbedId` (after an unmerge restored it). */
  deleteMerge(absorbedId: string): Promise<void>;
  /**
   * An operator's change (a merge, an unmerge) as one transaction, applied only if the sessions it
   * was computed from are unchanged: under lock, each id of `change.expected` must still be stored
   * at the version read (or still be absent, for `null`). If so, the sessions are upserted (fields,
   * rollups and history move as with {@link upsertSessions}) and the merge records are recorded and
   * deleted; if not, nothing is written and a {@link StoreConflictError} names the sessions that
   * moved (a concurrent merge or unmerge from any process, or a new version fired by the engine).
   * A malformed change (see {@link OperatorChange}) throws {@link StoreInputError} before any
   * write. Transient failures are retried as for upserts; a retry after a commit whose
   * acknowledgement was lost finds the versions moved (by this very write) and reports a conflict:
   * the caller's retry then sees the change done.
   */
  replaceIfUnchanged(change: OperatorChange): Promise<void>;

  /** Stores a template's source text; the revision rises only when the text changes. */
  saveTemplate(id: string, text: string): Promise<TemplateRecord>;
  listTemplates(): Promise<TemplateRecord[]>;
  getTemplate(id: string): Promise<TemplateRecord | undefined>;
  deleteTemplate(id: string): Promise<boolean>;

  /** Throws if the database cannot be reached right now (no retry): for health checks. */
  ping(): Promise<void>;
  /** What this store is (kind, server version, schema version); filled by `migrate()`. */
  info(): StoreInfo;
  /** Monotonic counters since open (a snapshot), for `/metrics`. */
  counters(): StoreCounters;
}

/** Lookups return at most this many sessions. */
export const LOOKUP_LIMIT = 1000;
/** Longest string kept in an indexed column (field values, anchor keys), in code points. */
export const MAX_INDEXED_CHARS = 512;
export const MAX_FIELD_NAME_CHARS = 64;
/** Session ids (and split/merge links) longer than this are refused. */
export const MAX_ID_CHARS = 128;
/** Template ids longer than this are refused. */
export const MAX_TEMPLATE_CHARS = 64;

export type StoreKind = 'sqlite' | 'mysql';

export interface StoreInfo {
  readonly kind: StoreKind;
  /** `select version()` on MySQL-protocol servers, `sqlite_version()` for SQLite. */
  readonly server: string;
  readonly tidb: boolean;
  /** Highest applied migration; 0 before `migrate()`. */
  readonly schemaVersion: number;
}

export interface StoreCounters {
  /** `upsertSessions` calls that completed. */
  upsertBatches: number;
  /** Sessions inserted or replaced by a higher version. */
  sessionsWritten: number;
  /** Sessions ignored because the stored version was equal or higher (re-delivery, replays). */
  sessionsStale: number;
  /** `session_fields` rows written. */
  fieldRowsWritten: number;
  /** Orphans newly stored (duplicates excluded). */
  orphansWritten: number;
  /** Values truncated or normalised (one per note). */
  valuesNormalised: number;
  /** Operations retried after a transient failure (lost connection, deadlock, write conflict). */
  retries: number;
  /** Of which: connection-level failures. */
  connectionErrors: number;
}

export interface StoreOptions {
  /** Run migrations when opening (default true). */
  readonly migrate?: boolean;
  /** Keep retrying transient failures for this long before giving up (default 10 minutes). */
  readonly retryForMs?: number;
  /** mysql: pool size (default 8; also `?pool=` in the URL). */
  readonly poolSize?: number;
  /** Largest number of sessions per transaction (default 2000). */
  readonly maxTransactionSessions?: number;
  /** Warnings (retries, skipped TiDB DDL); default `console.warn`. */
  readonly log?: (message: string) => void;
}

/** A stored session and what the store knows about it. */
export interface StoredSession {
  readonly session: SessionDoc;
  /** What was truncated or normalised on the way in (empty when nothing was). */
  readonly notes: readonly string[];
  /** Wall-clock ms of the write that stored this version. */
  readonly updatedAt: number;
}

/** A search hit: the session without its events. */
export interface SessionSummary extends Omit<SessionDoc, 'events'> {
  readonly eventCount: number;
  readonly notes: readonly string[];
  readonly updatedAt: number;
}

/** A search hit as a trace search shows it. */
export type SessionBrief = Pick<SessionDoc, 'id' | 'template' | 'key' | 'start' | 'end' | 'verdict' | 'severity' | 'fields'>;

export interface BriefPage {
  readonly sessions: SessionBrief[];
  /** As {@link SearchPage.cursor}. */
  readonly cursor: string | null;
}

/** A field value in a condition; numbers compare numerically, strings and booleans as text. */
export type ConditionValue = string | number | boolean;

export type FieldCondition =
  /** Any element equals `value` (a string also matches a number field whose `String()` form equals it). */
  | { readonly field: string; readonly op: '='; readonly value: ConditionValue }
  /** Any element equals one of `values`. */
  | { readonly field: string; readonly op: 'in'; readonly values: readonly ConditionValue[] }
  /**
   * Any element within the bounds: numeric bounds compare numbers (`num_value`), string bounds
   * compare text by code point. Give at least one bound; all bounds of one condition share a type.
   */
  | {
      readonly field: string;
      readonly op: 'range';
      readonly gt?: number | string;
      readonly gte?: number | string;
      readonly lt?: number | string;
      readonly lte?: number | string;
    }
  /** Any (text) element starts with `value` (case-sensitive). */
  | { readonly field: string; readonly op: 'prefix'; readonly value: string }
  /**
   * The session has the field and no element equals `value` (TraceQL's `!=`): exactly the sessions
   * with at least one value of the field that `=` does not match. A multi-valued field matches only
   * when none of its elements equals `value`; a session without the field (or with an empty list)
   * never matches.
   */
  | { readonly field: string; readonly op: '!='; readonly value: ConditionValue }
  /**
   * The session has the field and no (text) element starts with `value` (TraceQL's `!~` with a
   * prefix pattern): the sessions with the field that `prefix` does not match.
   */
  | { readonly field: string; readonly op: 'notPrefix'; readonly value: string };

/** A comparison of a session's duration (end − start, ms) with `ms`. */
export interface DurationCondition {
  readonly op: '=' | '!=' | '>' | '>=' | '<' | '<=';
  /** Milliseconds; fractions allowed (sessions last whole milliseconds). */
  readonly ms: number;
}

export interface SearchQuery {
  readonly template?: string;
  /** Anchor key equality. */
  readonly key?: string;
  readonly verdict?: string | readonly string[];
  readonly severity?: Severity | readonly Severity[];
  /** Template none of these. */
  readonly notTemplate?: string | readonly string[];
  /** Anchor key none of these: the sessions `key` would not return for any of them. */
  readonly notKey?: string | readonly string[];
  /**
   * A verdict, and none of these: sessions without a verdict (yet) do not match, as a missing
   * attribute never matches TraceQL's `!=`.
   */
  readonly notVerdict?: string | readonly string[];
  /** Session duration (end − start): all must hold. */
  readonly duration?: readonly DurationCondition[];
  /** Default: `open` and `final` (merged sessions are hidden unless asked for). */
  readonly status?: SessionStatus | readonly SessionStatus[];
  /** Session start ≥ from (epoch ms). */
  readonly from?: number;
  /** Session start < to (epoch ms). */
  readonly to?: number;
  /** All must hold. */
  readonly fields?: readonly FieldCondition[];
  /** Page size, default 50, at most 1000. */
  readonly limit?: number;
  /** `cursor` of the previous page. */
  readonly cursor?: string;
}

export interface SearchPage {
  readonly sessions: SessionSummary[];
  /** Opaque; pass it back for the next (older) page; null when this page is the last. */
  readonly cursor: string | null;
}

export type Bucket = '1m' | '1h' | '1d';

export interface StatsQuery {
  readonly template?: string;
  /** Epoch ms; rounded down to the bucket. */
  readonly from: number;
  /** Epoch ms, exclusive; rounded up to the bucket. */
  readonly to: number;
  /** Buckets are UTC-aligned (a day is 00:00–24:00 UTC). */
  readonly bucket: Bucket;
  readonly verdict?: string | readonly string[];
  readonly severity?: Severity | readonly Severity[];
}

/** Sessions (merged ones excluded) whose start lies in the bucket, per template, verdict and severity. */
export interface StatsRow {
  /** Bucket start, epoch ms. */
  readonly time: number;
  readonly template: string;
  readonly verdict: string | null;
  readonly severity: Severity | null;
  readonly count: number;
}

export interface FieldValuesOptions {
  readonly template?: string;
  /** Only values starting with this (case-sensitive). */
  readonly prefix?: string;
  /** Default 20, at most 1000. */
  readonly limit?: number;
  /** Field rows examined at most (default 200 000); beyond it counts are a sample. */
  readonly scanLimit?: number;
}

export interface FieldValuesResult {
  readonly values: { readonly value: string; readonly count: number }[];
  /** False when the scan stopped at `scanLimit` (counts are then from a sample). */
  readonly complete: boolean;
}

export interface OrphanQuery {
  readonly template?: string;
  readonly step?: string;
  readonly source?: string;
  /** Reason equality. */
  readonly reason?: string;
  readonly joinField?: string;
  readonly joinValue?: string;
  /** Event time ≥ from. */
  readonly from?: number;
  /** Event time < to. */
  readonly to?: number;
  /** Default 50, at most 1000. */
  readonly limit?: number;
  readonly cursor?: string;
}

export interface StoredOrphan extends OrphanDoc {
  readonly recordedAt: number;
  readonly notes: readonly string[];
}

export interface OrphanPage {
  readonly orphans: StoredOrphan[];
  readonly cursor: string | null;
}

export interface TemplateRecord {
  readonly id: string;
  /** The template source exactly as saved (YAML or JSON). */
  readonly text: string;
  /** 1 on first save, +1 whenever the text changes. */
  readonly revision: number;
  /** Wall-clock ms of the last change. */
  readonly updatedAt: number;
}

/** One written version of a session (what changed between fires, without the events). */
export interface SessionVersion {
  readonly version: number;
  readonly status: SessionStatus;
  readonly verdict: string | null;
  readonly severity: Severity | null;
  readonly eventCount: number;
  readonly start: number;
  readonly end: number;
  /** Wall-clock ms of the write. */
  readonly writtenAt: number;
}

/** An operator's merge: `absorbed` is the absorbed session as it was before the merge. */
export interface OperatorMerge {
  readonly survivorId: string;
  readonly absorbed: SessionDoc;
  readonly mergedAt: number;
}

/**
 * What {@link Store.replaceIfUnchanged} writes, and the versions it was computed from. Every session
 * written must have been read: its id is in `expected` and its new version is above the one read.
 * Merge records move only with the sessions they link: a recorded merge's survivor and absorbed
 * session, and a deleted merge's absorbed session, are among `sessions`; a recorded `absorbed` is
 * the absorbed session as read (its version is the expected one).
 */
export interface OperatorChange {
  /** Session id → version read (`null`: read as not stored). Ids only read may be listed too. */
  readonly expected: ReadonlyMap<string, number | null>;
  /** The new versions, one per id (at most {@link StoreOptions.maxTransactionSessions}). */
  readonly sessions: readonly SessionDoc[];
  /** Operator merges to record (as {@link Store.recordMerge} does). */
  readonly recordMerges?: readonly MergeRecord[];
  /** Absorbed session ids whose operator merge to forget (as {@link Store.deleteMerge} does). */
  readonly deleteMerges?: readonly string[];
}

/** An operator merge to record: `absorbed` as it was before the merge, folded into `survivorId`. */
export interface MergeRecord {
  readonly survivorId: string;
  readonly absorbed: SessionDoc;
}

/** A session whose stored version is not the one an {@link OperatorChange} was computed from. */
export interface MovedSession {
  readonly id: string;
  /** The version read (`null`: not stored then). */
  readonly expected: number | null;
  /** The version stored now (`null`: not stored). */
  readonly stored: number | null;
}

/**
 * An {@link OperatorChange} found sessions changed since they were read: nothing was written. The
 * API maps it to 409 (read again, retry).
 */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  constructor(readonly moved: readonly MovedSession[]) {
    super(
      `sessions changed since they were read: ${moved.map((m) => `${m.id} (read at version ${m.expected ?? 'none'}, now ${m.stored ?? 'none'})`).join(', ')}`,
    );
  }
  /** The ids of the sessions that moved. */
  get ids(): string[] {
    return this.moved.map((m) => m.id);
  }
}

/** A query the store refuses (bad cursor, bad bounds): the API maps it to 400. */
export class StoreQueryError extends Error {
  override readonly name = 'StoreQueryError';
}

/** A session the store cannot key (missing or over-long id, template, version): a bug upstream. */
export class StoreInputError extends Error {
  override readonly name = 'StoreInputError';
}
