import type { FieldValue } from '../engine/types.js';
import { prepareFields, type FieldRow, type PreparedSession } from './normalise.js';

/**
 * The write plan of one upsert transaction, computed from the batch and the rows it replaces (read
 * under lock): which sessions to insert or replace, which field rows to rewrite, and how the verdict
 * rollups move. Shared by both stores so they cannot disagree on semantics.
 */

/** What the store holds for an id before the write (the columns the plan needs). */
export interface ExistingState {
  readonly id: string;
  readonly version: number;
  readonly status: string;
  readonly template: string;
  readonly verdict: string | null;
  readonly severity: string | null;
  readonly start: number;
  readonly fieldsHash: string;
  /** The stored fields (JSON): the rows to replace are derived from them. */
  readonly fieldsJson: string;
}

/** The SELECT list that reads an ExistingState, and the mapping of its row (both stores). */
export const EXISTING_COLUMNS = 'id, version, status, template, verdict, severity, start_ms, fields_hash, fields_json';

export function existingOf(r: Record<string, unknown>): ExistingState {
  return {
    id: String(r.id),
    version: Number(r.version),
    status: String(r.status),
    template: String(r.template),
    verdict: r.verdict === null ? null : String(r.verdict),
    severity: r.severity === null ? null : String(r.severity),
    start: Number(r.start_ms),
    fieldsHash: String(r.fields_hash),
    fieldsJson: String(r.fields_json),
  };
}

export type Grain = 'm' | 'h' | 'd';
export const GRAINS: readonly Grain[] = ['m', 'h', 'd'];
export const GRAIN_MS: Readonly<Record<Grain, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

export function bucketOf(time: number, grain: Grain): number {
  const size = GRAIN_MS[grain];
  return Math.floor(time / size) * size;
}

export interface RollupDelta {
  readonly grain: Grain;
  readonly template: string;
  readonly bucket: number;
  /** '' for a session without verdict. */
  readonly verdict: string;
  /** '' for a session without severity. */
  readonly severity: string;
  readonly delta: number;
}

export interface UpsertPlan {
  /** Ids not stored yet. */
  readonly inserts: PreparedSession[];
  /** Stored with a lower version: replaced. */
  readonly updates: PreparedSession[];
  /**
   * Inserts and updates together, in id order (the order the rows were locked in): what a store
   * that writes both with one statement kind (MySQL's upsert) sends, and the versions the history
   * (`session_versions`) records. The history is the versions the store *held*, not every version
   * the engine fired: fires of one session that meet before a write (in the sink, or in one batch)
   * are coalesced to the highest, and the others were never readable, so they are not history
   * either (each fire is still counted in the run's metrics).
   */
  readonly writes: PreparedSession[];
  /** Field rows of replaced sessions that the new version no longer has (deleted first). */
  readonly fieldDeletes: FieldRow[];
  /** Field rows to insert: all of new sessions', and the new ones of replaced sessions. */
  readonly fieldInserts: FieldRow[];
  /** Non-zero, in primary-key order (so concurrent writers lock rollup rows in one order). */
  readonly rollups: RollupDelta[];
  /** Sessions ignored: the stored version is equal or higher. */
  readonly stale: number;
}

interface Counted {
  readonly template: string;
  readonly verdict: string | null;
  readonly severity: string | null;
  readonly start: number;
  readonly status: string;
}

export function planUpsert(batch: readonly PreparedSession[], existing: ReadonlyMap<string, ExistingState>): UpsertPlan {
  const inserts: PreparedSession[] = [];
  const updates: PreparedSession[] = [];
  const fieldDeletes: FieldRow[] = [];
  const fieldInserts: FieldRow[] = [];
  const deltas = new Map<string, RollupDelta>();
  let stale = 0;

  const move = (s: Counted, sign: 1 | -1): void => {
    if (s.status === 'merged') return;
    for (const grain of GRAINS) {
      const bucket = bucketOf(s.start, grain);
      const verdict = s.verdict ?? '';
      const severity = s.severity ?? '';
      const key = `${grain}\u0000${s.template}\u0000${bucket}\u0000${verdict}\u0000${severity}`;
      const prev = deltas.get(key);
      deltas.set(key, { grain, template: s.template, bucket, verdict, severity, delta: (prev?.delta ?? 0) + sign });
    }
  };

  for (const session of batch) {
    const row = session.row;
    const old = existing.get(row.id);
    if (old === undefined) {
      inserts.push(session);
      fieldInserts.push(...session.fields);
      move(row, 1);
      continue;
    }
    if (old.version >= row.version) {
      stale++;
      continue;
    }
    updates.push(session);
    if (old.fieldsHash !== row.fieldsHash) {
      const before = storedFieldRows(old);
      const kept = new Set(before.map(rowKey));
      const now = new Set(session.fields.map(rowKey));
      for (const f of before) if (!now.has(rowKey(f))) fieldDeletes.push(f);
      for (const f of session.fields) if (!kept.has(rowKey(f))) fieldInserts.push(f);
    }
    move(old, -1);
    move(row, 1);
  }

  const rollups = [...deltas.values()].filter((d) => d.delta !== 0).sort(compareRollupKeys);
  const writes = [...inserts, ...updates].sort((a, b) => compareText(a.row.id, b.row.id));
  return { inserts, updates, writes, fieldDeletes, fieldInserts, rollups, stale };
}

/** The field rows a stored session has (its fields are stored normalised: deriving them again is exact). */
function storedFieldRows(old: ExistingState): FieldRow[] {
  let fields: Record<string, FieldValue> = {};
  try {
    fields = (JSON.parse(old.fieldsJson) as Record<string, FieldValue> | null) ?? {};
  } catch {
    // An unreadable row: its fields are replaced wholesale below (deletes by key are then no-ops).
  }
  return prepareFields(fields, old.id, old.template, old.start, []).rows;
}

function rowKey(f: FieldRow): string {
  return `${f.name}\u0000${f.str}\u0000${f.start}\u0000${f.template}\u0000${f.num ?? ''}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareRollupKeys(a: RollupDelta, b: RollupDelta): number {
  return (
    compareText(a.grain, b.grain) ||
    compareText(a.template, b.template) ||
    a.bucket - b.bucket ||
    compareText(a.verdict, b.verdict) ||
    compareText(a.severity, b.severity)
  );
}
