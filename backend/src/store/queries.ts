import type { FieldValue, OrphanDoc, SessionDoc, SessionStatus } from '../engine/types.js';
import { SEVERITIES, type Severity } from '../template/index.js';
import { codePoints, queryText } from './normalise.js';
import { GRAIN_MS, type Grain } from './plan.js';
import {
  StoreQueryError,
  type DurationCondition,
  type FieldCondition,
  type FieldValuesOptions,
  type OrphanQuery,
  type SearchQuery,
  type SessionBrief,
  type SessionSummary,
  type StatsQuery,
  type StatsRow,
  type StoredOrphan,
} from './types.js';

/** Where the two SQL dialects differ in the queries below. */
export interface Dialect {
  readonly kind: 'sqlite' | 'mysql';
  /**
   * The index hint that makes `sessions` be read by primary key only ('' where there is none):
   * a search driven by a field equality joins each field row to its session by id, and without
   * it MySQL/MariaDB also plan a range over `ix_sessions_verdict` (index dives) on every execution.
   */
  readonly sessionsByPrimaryKey: string;
  /** Exact text equality on an indexed column (MySQL's `_bin` collations pad spaces: check length too). */
  textEquals(column: string, value: string, params: unknown[]): string;
  /** Case-sensitive prefix match that can use an index on `column`. */
  textPrefix(column: string, prefix: string, params: unknown[]): string;
  /**
   * A field's value read from the session row's `fields_json` (path bound as a parameter), so a
   * range or prefix can be checked per candidate session by a primary-key point read on the field
   * table instead of reading the whole range. Absent: ranges and prefixes stay semi-joins.
   */
  readonly fieldOfRow?: {
    /** The stored value as the number `session_numbers.num_value` holds (NULL when absent). */
    number(path: string, params: unknown[]): string;
    /** The stored value as the text `session_fields.str_value` holds (NULL when absent). */
    text(path: string, params: unknown[]): string;
    /** True when the field holds a list (one field row per element: no single value to probe). */
    isList(path: string, params: unknown[]): string;
    /** True when the field holds a string (its one `session_fields` row holds that very text). */
    isText(path: string, params: unknown[]): string;
    /**
     * True when the session has at least one value of the field (a scalar or a non-empty list),
     * which is when it has field rows: `!=` and `!~` hold only for sessions that have the field.
     */
    hasValues(path: string, params: unknown[]): string;
  };
}

export const sqliteDialect: Dialect = {
  kind: 'sqlite',
  sessionsByPrimaryKey: '',
  textEquals(column, value, params) {
    params.push(value);
    return `${column} = ?`;
  },
  textPrefix(column, prefix, params) {
    if (prefix === '') return '1 = 1';
    // Code-point order = UTF-8 byte order = SQLite's BINARY collation: [prefix, successor(prefix)).
    const upper = prefixSuccessor(prefix);
    params.push(prefix);
    if (upper === undefined) return `${column} >= ?`;
    params.push(upper);
    return `${column} >= ? AND ${column} < ?`;
  },
  // `->` renders a scalar as the JSON text JSON.stringify wrote (numbers as String(n) does, which
  // is what session_fields holds for them); strings are read unquoted.
  fieldOfRow: {
    number(path, params) {
      params.push(path);
      return 'json_extract(s.fields_json, ?)';
    },
    text(path, params) {
      params.push(path, path, path);
      return "CASE json_type(s.fields_json, ?) WHEN 'text' THEN json_extract(s.fields_json, ?) ELSE s.fields_json -> ? END";
    },
    isList(path, params) {
      params.push(path);
      return "json_type(s.fields_json, ?) = 'array'";
    },
    isText(path, params) {
      params.push(path);
      return "json_type(s.fields_json, ?) = 'text'";
    },
    // json_array_length is 0 for a scalar; both are NULL for an absent field.
    hasValues(path, params) {
      params.push(path, path);
      return "(json_array_length(s.fields_json, ?) > 0 OR json_type(s.fields_json, ?) NOT IN ('array', 'null'))";
    },
  },
};

export const mysqlDialect: Dialect = {
  kind: 'mysql',
  sessionsByPrimaryKey: ' FORCE INDEX (PRIMARY)',
  textEquals(column, value, params) {
    params.push(value, codePoints(value));
    return `${column} = ? AND CHAR_LENGTH(${column}) = ?`;
  },
  textPrefix(column, prefix, params) {
    if (prefix === '') return '1 = 1';
    params.push(prefix.replace(/[!%_]/g, '!$&') + '%');
    return `${column} LIKE ? ESCAPE '!'`;
  },
  // MariaDB's JSON functions return a scalar's text as written: JSON.stringify wrote numbers as
  // String(n) does, which is what session_fields holds for them. (MySQL 8 and TiDB re-render numbers
  // from their binary JSON; a number whose rendering differs from JavaScript's, e.g. 1e21, could then
  // be missed by a text prefix/range probe — never matched wrongly: the probe reads the real row.)
  fieldOfRow: {
    number(path, params) {
      params.push(path);
      return 'CAST(JSON_UNQUOTE(JSON_EXTRACT(s.fields_json, ?)) AS DOUBLE)';
    },
    text(path, params) {
      params.push(path);
      return 'JSON_UNQUOTE(JSON_EXTRACT(s.fields_json, ?))';
    },
    isList(path, params) {
      params.push(path);
      return "JSON_TYPE(JSON_EXTRACT(s.fields_json, ?)) = 'ARRAY'";
    },
    isText(path, params) {
      params.push(path);
      return "JSON_TYPE(JSON_EXTRACT(s.fields_json, ?)) = 'STRING'";
    },
    // A scalar's length is 1, a list's its element count; NULL when the field is absent.
    hasValues(path, params) {
      params.push(path);
      return 'JSON_LENGTH(s.fields_json, ?) > 0';
    },
  },
};

/** The smallest string greater than every string starting with `prefix`; undefined if none. */
export function prefixSuccessor(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      let next = last + 1;
      if (next === 0xd800) next = 0xe000;
      points.push(String.fromCodePoint(next));
      return points.join('');
    }
  }
  return undefined;
}

// ── cursors ────────────────────────────────────────────────────────────────────────────────────

export interface Position {
  readonly time: number;
  readonly id: string;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.time, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { time: value[0] as number, id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new StoreQueryError('invalid cursor');
}

function pageLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isFinite(limit) || limit < 1) throw new StoreQueryError(`limit must be a positive number, got ${limit}`);
  return Math.min(Math.floor(limit), max);
}

function timeBound(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new StoreQueryError(`${what} must be a finite number`);
  return Math.trunc(value);
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function inList(column: string, values: readonly unknown[], params: unknown[]): string {
  if (values.length === 0) return '1 = 0';
  params.push(...values);
  return `${column} IN (${values.map(() => '?').join(', ')})`;
}

// ── search ─────────────────────────────────────────────────────────────────────────────────────

/** What a session summary is read from (the document without events). */
export const HEAD_COLUMNS =
  'id, template, anchor_key, key_full, start_ms, end_ms, status, version, verdict, severity, explain_text, split_of, merged_into, fields_json';
export const SUMMARY_COLUMNS = `${HEAD_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}, s.notes, s.updated_ms, s.event_count`;

/** What a {@link SessionBrief} is read from. */
export const BRIEF_COLUMNS = 's.id, s.template, s.anchor_key, s.key_full, s.start_ms, s.end_ms, s.verdict, s.severity, s.fields_json';

export interface BuiltQuery {
  readonly sql: string;
  readonly params: unknown[];
  readonly limit: number;
}

/** Text values (strings, booleans, numbers by their `String()` form) live in `session_fields`, finite numbers also in `session_numbers`. */
type FieldTable = 'session_fields' | 'session_numbers';

/** One way a condition can hold: a predicate on one row of one table (alias and name included). */
interface Probe {
  readonly table: FieldTable;
  readonly field: string;
  /** Equality on the value: a correlated probe is a primary-key point read (name, value, start, id). */
  readonly point: boolean;
  readonly predicate: (alias: string, params: unknown[]) => string;
}

function probe(table: FieldTable, field: string, rest: (alias: string, params: unknown[]) => string, point = true): Probe {
  return {
    table,
    field,
    point,
    predicate: (alias, params) => {
      params.push(field);
      return `${alias}.name = ? AND ${rest(alias, params)}`;
    },
  };
}

/** The condition a `!=` or `notPrefix` negates (undefined for the others). */
function positiveOf(c: FieldCondition): FieldCondition | undefined {
  if (c.op === '!=') return { field: c.field, op: '=', value: c.value };
  if (c.op === 'notPrefix') return { field: c.field, op: 'prefix', value: c.value };
  return undefined;
}

/** The alternatives (any may hold) a field condition stands for; for a negation, those of the condition it negates. */
function probesOf(dialect: Dialect, c: FieldCondition): Probe[] {
  if (typeof c.field !== 'string' || c.field === '') throw new StoreQueryError('field condition without a field name');
  const field = c.field;
  switch (c.op) {
    case '=': {
      const value: unknown = c.value;
      if (typeof value === 'number' && Number.isFinite(value)) {
        return [probe('session_numbers', field, (a, p) => (p.push(value), `${a}.num_value = ?`))];
      }
      if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
        const text = queryText(String(value));
        return [probe('session_fields', field, (a, p) => dialect.textEquals(`${a}.str_value`, text, p))];
      }
      throw new StoreQueryError(`field ${field}: unsupported value ${String(value)}`);
    }
    case 'in': {
      if (!Array.isArray(c.values)) throw new StoreQueryError(`field ${field}: 'in' needs values`);
      const texts = c.values
        .filter((v) => !(typeof v === 'number' && Number.isFinite(v)))
        .map((v) => queryText(String(v)));
      const nums = c.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const out: Probe[] = [];
      if (texts.length > 0) out.push(probe('session_fields', field, (a, p) => inList(`${a}.str_value`, texts, p)));
      if (nums.length > 0) out.push(probe('session_numbers', field, (a, p) => inList(`${a}.num_value`, nums, p)));
      return out;
    }
    case 'range': {
      const bounds = (['gt', 'gte', 'lt', 'lte'] as const).filter((b) => c[b] !== undefined);
      if (bounds.length === 0) throw new StoreQueryError(`field ${field}: range without bounds`);
      const numeric = bounds.every((b) => typeof c[b] === 'number');
      const textual = bounds.every((b) => typeof c[b] === 'string');
      if (!numeric && !textual) throw new StoreQueryError(`field ${field}: range bounds must all be numbers or all strings`);
      const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
      const values = bounds.map((b) => {
        const v = c[b]!;
        if (typeof v === 'number' && !Number.isFinite(v)) throw new StoreQueryError(`field ${field}: ${b} must be finite`);
        return typeof v === 'string' ? queryText(v) : v;
      });
      const column = numeric ? 'num_value' : 'str_value';
      return [
        probe(
          numeric ? 'session_numbers' : 'session_fields',
          field,
          (a, p) => {
            p.push(...values);
            return bounds.map((b) => `${a}.${column} ${ops[b]} ?`).join(' AND ');
          },
          false,
        ),
      ];
    }
    case 'prefix': {
      if (typeof c.value !== 'string') throw new StoreQueryError(`field ${field}: prefix must be a string`);
      const text = queryText(c.value);
      return [probe('session_fields', field, (a, p) => dialect.textPrefix(`${a}.str_value`, text, p), false)];
    }
    case '!=':
    case 'notPrefix':
      return probesOf(dialect, positiveOf(c)!);
    default:
      throw new StoreQueryError(`unknown field operator ${String((c as { op: unknown }).op)}`);
  }
}

/** The JSON path of a field in `fields_json`; undefined for names a quoted path member cannot spell plainly. */
function jsonPath(field: string): string | undefined {
  return /^[^"\\\u0000-\u001f]+$/.test(field) ? `$."${field}"` : undefined;
}

/** A range or prefix condition's alternative, as `condition.alternative`. */
type Slot = string;

/** Counts, up to `cap`, the field rows of each range or prefix that could be probed per session. */
export interface WidthCheck {
  readonly sql: string;
  readonly params: unknown[];
  /** Column `w<k>` of the one row answered counts `slots[k]`. */
  readonly slots: readonly Slot[];
  readonly cap: number;
}

/**
 * Which way a range or prefix is cheaper depends on how many rows it matches, which only the data
 * knows: a narrow one (fewer than `cap` rows) is read whole as a semi-join (at most `cap` rows);
 * a wide one is checked per candidate session (its sessions are common, so the newest page comes
 * after a few candidates). `cap` ≈ the break-even √(page × sessions) for a million sessions.
 * Undefined when the query has nothing to decide (or the dialect cannot probe per session).
 */
export function buildWidthCheck(dialect: Dialect, q: SearchQuery, wideAt?: number): WidthCheck | undefined {
  if (dialect.fieldOfRow === undefined || q.fields === undefined) return undefined;
  const limit = pageLimit(q.limit, 50, 1000);
  const cap = Math.max(1, Math.floor(wideAt ?? Math.min(50_000, 1000 * Math.ceil(Math.sqrt(limit + 1)))));
  const params: unknown[] = [];
  const slots: Slot[] = [];
  const counts: string[] = [];
  q.fields.forEach((c, i) => {
    // Negations are always checked per candidate session (see absentFrom).
    if (positiveOf(c) !== undefined) return;
    probesOf(dialect, c).forEach((alt, j) => {
      if (alt.point || jsonPath(alt.field) === undefined) return;
      const k = slots.length;
      slots.push(`${i}.${j}`);
      const predicate = alt.predicate(`f${k}`, params);
      params.push(cap);
      counts.push(`(SELECT COUNT(*) FROM (SELECT 1 FROM ${alt.table} f${k} WHERE ${predicate} LIMIT ?) c${k}) AS w${k}`);
    });
  });
  if (slots.length === 0) return undefined;
  return { sql: `SELECT ${counts.join(', ')}`, params, slots, cap };
}

/** The slots of a {@link WidthCheck} that reached its cap. */
export function wideSlots(check: WidthCheck, row: Readonly<Record<string, unknown>> | undefined): Set<Slot> {
  return new Set(check.slots.filter((_, k) => Number(row?.[`w${k}`] ?? 0) >= check.cap));
}

/**
 * The search. `wide`: range/prefix alternatives ({@link buildWidthCheck}) to check per candidate
 * session; the others are semi-joins.
 */
export function buildSearch(
  dialect: Dialect,
  q: SearchQuery,
  columns: string = SUMMARY_COLUMNS,
  wide: ReadonlySet<Slot> = new Set(),
): BuiltQuery {
  const limit = pageLimit(q.limit, 50, 1000);
  const params: unknown[] = [];
  const where: string[] = [];
  const conditions = q.fields ?? [];
  // An equality condition drives the query from the field index (name, value, start): newest-first
  // pages then read only the rows they return. Values of one field are stored once per session,
  // so the join cannot repeat a session.
  const probes = conditions.map((c) => probesOf(dialect, c));
  const drivingAt = conditions.findIndex((c) => c.op === '=');
  const driving = drivingAt >= 0 ? probes[drivingAt]![0]! : undefined;
  let from: string;
  let timeCol: string;
  let idCol: string;
  if (driving !== undefined) {
    // By id only, unless an anchor key is given: its index may then be the better way in.
    const hint = q.key === undefined ? dialect.sessionsByPrimaryKey : '';
    from = `${driving.table} f0 JOIN sessions s${hint} ON s.id = f0.session_id`;
    timeCol = 'f0.start_ms';
    idCol = 'f0.session_id';
    where.push(driving.predicate('f0', params));
    if (q.template !== undefined) {
      params.push(q.template);
      where.push('f0.template = ?');
    }
  } else {
    from = 'sessions s';
    timeCol = 's.start_ms';
    idCol = 's.id';
    if (q.template !== undefined) {
      params.push(q.template);
      where.push('s.template = ?');
    }
  }
  const fromTime = timeBound(q.from, 'from');
  const toTime = timeBound(q.to, 'to');
  if (fromTime !== undefined) {
    params.push(fromTime);
    where.push(`${timeCol} >= ?`);
  }
  if (toTime !== undefined) {
    params.push(toTime);
    where.push(`${timeCol} < ?`);
  }
  if (q.cursor !== undefined) {
    const at = decodeCursor(q.cursor);
    params.push(at.time, at.time, at.time, at.id);
    where.push(`${timeCol} <= ? AND (${timeCol} < ? OR (${timeCol} = ? AND ${idCol} < ?))`);
  }
  if (q.key !== undefined) where.push(dialect.textEquals('s.anchor_key', queryText(String(q.key)), params));
  const verdicts = list(q.verdict);
  if (verdicts !== undefined) where.push(inList('s.verdict', verdicts, params));
  const severities = list(q.severity);
  if (severities !== undefined) where.push(inList('s.severity', severities, params));
  const statuses = list(q.status);
  if (statuses === undefined) where.push("s.status <> 'merged'");
  else where.push(inList('s.status', statuses, params));
  // Negations and durations are residual filters on the candidates the conditions above select.
  const notTemplates = list(q.notTemplate);
  if (notTemplates !== undefined) where.push(`NOT (${inList('s.template', notTemplates, params)})`);
  for (const k of list(q.notKey) ?? []) where.push(`NOT (${dialect.textEquals('s.anchor_key', queryText(String(k)), params)})`);
  const notVerdicts = list(q.notVerdict);
  if (notVerdicts !== undefined) where.push(`s.verdict IS NOT NULL AND NOT (${inList('s.verdict', notVerdicts, params)})`);
  for (const d of q.duration ?? []) where.push(durationFilter(d, params));
  let n = 1;
  const alias = (): string => `f${n++}`;
  probes.forEach((alternatives, i) => {
    if (i === drivingAt) return;
    const c = conditions[i]!;
    if (positiveOf(c) !== undefined) {
      where.push(absentFrom(dialect, c, alternatives[0]!, params, alias));
      return;
    }
    if (alternatives.length === 0) {
      where.push('1 = 0');
      return;
    }
    const any = alternatives.map((alt, j) => {
      const alias = `f${n++}`;
      const ofSession = `${alias}.start_ms = s.start_ms AND ${alias}.session_id = s.id`;
      // Equalities: a point read per candidate session (its start is part of the key).
      if (alt.point) return `EXISTS (SELECT 1 FROM ${alt.table} ${alias} WHERE ${alt.predicate(alias, params)} AND ${ofSession})`;
      const path = wide.has(`${i}.${j}`) ? jsonPath(alt.field) : undefined;
      if (dialect.fieldOfRow !== undefined && path !== undefined) {
        // A wide range or prefix: the candidates come from the other conditions (an index on
        // sessions, a driving equality, or sessions newest first), and each one's value (from its
        // own fields_json) makes the check a point read of the field table's key (name, value,
        // start, id) that also applies the range, so a probe only confirms a row really stored.
        // A list has one row per element: its sessions fall back to a range read limited to the
        // session. CASE keeps the optimizer from turning the probe into a semi-join that reads the
        // whole range first (what took seconds).
        const row = dialect.fieldOfRow;
        const isList = row.isList(path, params);
        const listed = `EXISTS (SELECT 1 FROM ${alt.table} ${alias} WHERE ${alt.predicate(alias, params)} AND ${ofSession})`;
        const pointAlias = `f${n++}`;
        const predicate = alt.predicate(pointAlias, params);
        const column = alt.table === 'session_numbers' ? 'num_value' : 'str_value';
        const value = alt.table === 'session_numbers' ? row.number(path, params) : row.text(path, params);
        const point = `EXISTS (SELECT 1 FROM ${alt.table} ${pointAlias} WHERE ${predicate} AND ${pointAlias}.${column} = ${value} AND ${pointAlias}.start_ms = s.start_ms AND ${pointAlias}.session_id = s.id)`;
        return `CASE WHEN ${isList} THEN ${listed} ELSE ${point} END`;
      }
      // A narrow one: a semi-join the optimizer may run from either side (at most `cap` rows).
      return `s.id IN (SELECT ${alias}.session_id FROM ${alt.table} ${alias} WHERE ${alt.predicate(alias, params)})`;
    });
    where.push(any.length === 1 ? any[0]! : `(${any.join(' OR ')})`);
  });
  params.push(limit + 1);
  const sql =
    `SELECT ${columns} FROM ${from}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${timeCol} DESC, ${idCol} DESC LIMIT ?`;
  return { sql, params, limit };
}

const DURATION_OPS = { '=': '=', '!=': '<>', '>': '>', '>=': '>=', '<': '<', '<=': '<=' } as const;

/** A comparison of the session's duration, end − start (a residual filter: no index holds durations). */
function durationFilter(d: DurationCondition, params: unknown[]): string {
  const op = (DURATION_OPS as Record<string, string>)[String(d?.op)];
  if (op === undefined) throw new StoreQueryError(`duration: unknown operator ${String(d?.op)} (use =, !=, >, >=, <, <=)`);
  if (typeof d.ms !== 'number' || !Number.isFinite(d.ms)) throw new StoreQueryError(`duration: ${String(d.ms)} is not a finite number of milliseconds`);
  params.push(d.ms);
  return `s.end_ms - s.start_ms ${op} ?`;
}

/**
 * A `!=` or `notPrefix` (`c`) as a filter on the candidate session `s`: it has the field, and
 * `positive`, the one probe of the condition it negates, holds for none of its field rows.
 * Checked per candidate session (a `!=` by a point read of the field table's key), never by
 * reading the negated condition's rows whole: those are most of the field's rows when the value
 * is common, and when it is rare nearly every candidate passes, so a page fills after a few.
 */
function absentFrom(dialect: Dialect, c: FieldCondition, positive: Probe, params: unknown[], alias: () => string): string {
  const row = dialect.fieldOfRow;
  const path = row !== undefined ? jsonPath(c.field) : undefined;
  const ofSession = (a: string): string => `${a}.start_ms = s.start_ms AND ${a}.session_id = s.id`;
  const rowsOfSession = (): string => {
    const a = alias();
    return `EXISTS (SELECT 1 FROM ${positive.table} ${a} WHERE ${positive.predicate(a, params)} AND ${ofSession(a)})`;
  };
  if (row === undefined || path === undefined) {
    // A name no JSON path can spell: read the field's rows (and the negated condition's) whole.
    const has = alias();
    params.push(c.field);
    const hasSql = `s.id IN (SELECT ${has}.session_id FROM session_fields ${has} WHERE ${has}.name = ?)`;
    const holds = alias();
    return `${hasSql} AND s.id NOT IN (SELECT ${holds}.session_id FROM ${positive.table} ${holds} WHERE ${positive.predicate(holds, params)})`;
  }
  const has = row.hasValues(path, params);
  // An equality is a point read of the field table's key (name, value, start, id).
  if (positive.point) return `${has} AND NOT ${rowsOfSession()}`;
  // A prefix: a string's one row is read by its key, valued from fields_json (as a wide prefix
  // is); a list, number or boolean reads the prefix's rows of this session.
  const isText = row.isText(path, params);
  const a = alias();
  const predicate = positive.predicate(a, params);
  const point = `EXISTS (SELECT 1 FROM ${positive.table} ${a} WHERE ${predicate} AND ${a}.str_value = ${row.text(path, params)} AND ${ofSession(a)})`;
  return `${has} AND NOT (CASE WHEN ${isText} THEN ${point} ELSE ${rowsOfSession()} END)`;
}

export interface HeadRowData {
  readonly id: string;
  readonly template: string;
  readonly anchor_key: string;
  readonly key_full: string | null;
  readonly start_ms: number;
  readonly end_ms: number;
  readonly status: string;
  readonly version: number;
  readonly verdict: string | null;
  readonly severity: string | null;
  readonly explain_text: string | null;
  readonly split_of: string | null;
  readonly merged_into: string | null;
  readonly fields_json: string;
}

export interface SummaryRowData extends HeadRowData {
  readonly notes: string | null;
  readonly updated_ms: number;
  readonly event_count: number;
}

export function parseNotes(notes: string | null): string[] {
  if (notes === null || notes === '') return [];
  try {
    const value: unknown = JSON.parse(notes);
    return Array.isArray(value) ? value.map(String) : [String(value)];
  } catch {
    return [notes];
  }
}

export type Head = Omit<SessionDoc, 'events'>;

/**
 * The session document without events, from its columns: one object literal, which docOf and
 * summaryOf extend in place. Spreading an intermediate object (`{ ...identityOf(row), … }`, then
 * `{ ...headOf(row), events }`) went through V8's generic object copy: 14 µs per session read of
 * a trace by id, against 1.7 µs for the literal (the two JSON.parse calls aside). Property order is
 * the documents' (JSON answers list them in it).
 */
export function headOf(row: HeadRowData): Head {
  return {
    id: String(row.id),
    template: String(row.template),
    key: row.key_full ?? String(row.anchor_key),
    start: Number(row.start_ms),
    end: Number(row.end_ms),
    status: row.status as SessionStatus,
    version: Number(row.version),
    verdict: row.verdict,
    severity: row.severity as Severity | null,
    explain: row.explain_text,
    splitOf: row.split_of,
    mergedInto: row.merged_into,
    fields: JSON.parse(row.fields_json) as Readonly<Record<string, FieldValue>>,
  };
}

export function summaryOf(row: SummaryRowData): SessionSummary {
  const summary = headOf(row) as Head & { eventCount?: number; notes?: string[]; updatedAt?: number };
  summary.eventCount = Number(row.event_count);
  summary.notes = parseNotes(row.notes);
  summary.updatedAt = Number(row.updated_ms);
  return summary as SessionSummary;
}

export type BriefRowData = Pick<HeadRowData, 'id' | 'template' | 'anchor_key' | 'key_full' | 'start_ms' | 'end_ms' | 'verdict' | 'severity' | 'fields_json'>;

/**
 * One object literal, not a spread of an intermediate object: a search page makes 20 of these per
 * request, and copying through an intermediate object cost V8 a map transition per property.
 */
export function briefOf(row: BriefRowData): SessionBrief {
  return {
    id: String(row.id),
    template: String(row.template),
    key: row.key_full ?? String(row.anchor_key),
    start: Number(row.start_ms),
    end: Number(row.end_ms),
    verdict: row.verdict,
    severity: row.severity as Severity | null,
    fields: JSON.parse(row.fields_json) as Readonly<Record<string, FieldValue>>,
  };
}

export function docOf(row: HeadRowData & { readonly events_json: string }): SessionDoc {
  const doc = headOf(row) as Head & { events?: SessionDoc['events'] };
  doc.events = JSON.parse(row.events_json) as SessionDoc['events'];
  return doc as SessionDoc;
}

export function pageOf<R extends { start_ms: number; id: string }, T>(
  rows: readonly R[],
  limit: number,
  map: (row: R) => T,
): { items: T[]; cursor: string | null } {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    items: page.map(map),
    cursor: more && last !== undefined ? encodeCursor({ time: Number(last.start_ms), id: last.id }) : null,
  };
}

// ── stats ──────────────────────────────────────────────────────────────────────────────────────

const BUCKET_GRAIN = { '1m': 'm', '1h': 'h', '1d': 'd' } as const satisfies Record<StatsQuery['bucket'], Grain>;

export function buildStats(q: StatsQuery): { sql: string; params: unknown[] } {
  const grain = BUCKET_GRAIN[q.bucket];
  if (grain === undefined) throw new StoreQueryError(`bucket must be 1m, 1h or 1d, got ${String(q.bucket)}`);
  const size = GRAIN_MS[grain];
  const fromTime = timeBound(q.from, 'from');
  const toTime = timeBound(q.to, 'to');
  if (fromTime === undefined || toTime === undefined) throw new StoreQueryError('stats need from and to');
  const lo = Math.floor(fromTime / size) * size;
  const hi = Math.ceil(toTime / size) * size;
  const params: unknown[] = [grain];
  const where = ['grain = ?'];
  if (q.template !== undefined) {
    params.push(q.template);
    where.push('template = ?');
  }
  params.push(lo, hi);
  where.push('bucket >= ? AND bucket < ?');
  const verdicts = list(q.verdict);
  if (verdicts !== undefined) where.push(inList('verdict', verdicts.map((v) => v ?? ''), params));
  const severities = list(q.severity);
  if (severities !== undefined) where.push(inList('severity', severities, params));
  where.push('n <> 0');
  // Primary-key order (grain, template, bucket, …): no sort on the server. The template column is
  // read only when it varies.
  const columns = q.template === undefined ? 'bucket, template, verdict, severity, n' : 'bucket, verdict, severity, n';
  return {
    sql: `SELECT ${columns} FROM verdict_rollups WHERE ${where.join(' AND ')} ORDER BY template, bucket, verdict, severity`,
    params,
  };
}

export interface StatsRowData {
  readonly bucket: number;
  readonly template?: string;
  readonly verdict: string;
  readonly severity: string;
  readonly n: number;
}

const SEVERITY_SET: ReadonlySet<string> = new Set(SEVERITIES);

export function statsRowOf(row: StatsRowData, template: string | undefined): StatsRow {
  return {
    time: Number(row.bucket),
    template: template ?? String(row.template),
    verdict: row.verdict === '' ? null : row.verdict,
    severity: SEVERITY_SET.has(row.severity) ? (row.severity as Severity) : null,
    count: Number(row.n),
  };
}

// ── field values ───────────────────────────────────────────────────────────────────────────────

export function buildFieldValues(dialect: Dialect, name: string, o: FieldValuesOptions): BuiltQuery & { scanLimit: number } {
  const limit = pageLimit(o.limit, 20, 1000);
  const scanLimit = pageLimit(o.scanLimit, 200_000, 10_000_000);
  const params: unknown[] = [name];
  const where = ['name = ?'];
  if (o.template !== undefined) {
    params.push(o.template);
    where.push('template = ?');
  }
  if (o.prefix !== undefined && o.prefix !== '') where.push(dialect.textPrefix('str_value', queryText(o.prefix), params));
  params.push(scanLimit, limit);
  const sql =
    `SELECT str_value, COUNT(*) AS n, SUM(COUNT(*)) OVER () AS total FROM ` +
    `(SELECT str_value FROM session_fields WHERE ${where.join(' AND ')} LIMIT ?) t ` +
    `GROUP BY str_value ORDER BY n DESC, str_value LIMIT ?`;
  return { sql, params, limit, scanLimit };
}

// ── orphans ────────────────────────────────────────────────────────────────────────────────────

export const ORPHAN_COLUMNS = 'id, template, step, source, time_ms, reason, join_field, join_value, notes, recorded_ms, value_json';

export function buildOrphans(dialect: Dialect, q: OrphanQuery): BuiltQuery {
  const limit = pageLimit(q.limit, 50, 1000);
  const params: unknown[] = [];
  const where: string[] = [];
  const eq = (column: string, value: string | undefined): void => {
    if (value === undefined) return;
    params.push(value);
    where.push(`${column} = ?`);
  };
  eq('template', q.template);
  eq('step', q.step);
  eq('source', q.source);
  eq('reason', q.reason);
  eq('join_field', q.joinField);
  if (q.joinValue !== undefined) where.push(dialect.textEquals('join_value', queryText(q.joinValue), params));
  const fromTime = timeBound(q.from, 'from');
  const toTime = timeBound(q.to, 'to');
  if (fromTime !== undefined) {
    params.push(fromTime);
    where.push('time_ms >= ?');
  }
  if (toTime !== undefined) {
    params.push(toTime);
    where.push('time_ms < ?');
  }
  if (q.cursor !== undefined) {
    const at = decodeCursor(q.cursor);
    params.push(at.time, at.time, at.time, at.id);
    where.push('time_ms <= ? AND (time_ms < ? OR (time_ms = ? AND id < ?))');
  }
  params.push(limit + 1);
  const sql =
    `SELECT ${ORPHAN_COLUMNS} FROM orphans` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY time_ms DESC, id DESC LIMIT ?';
  return { sql, params, limit };
}

export interface OrphanRowData {
  readonly id: string;
  readonly template: string;
  readonly step: string;
  readonly source: string;
  readonly time_ms: number;
  readonly reason: string;
  readonly join_field: string | null;
  readonly join_value: string | null;
  readonly notes: string | null;
  readonly recorded_ms: number;
  readonly value_json: string;
}

export function orphanOf(row: OrphanRowData): StoredOrphan {
  const orphan: StoredOrphan = {
    id: row.id,
    template: row.template,
    step: row.step,
    source: row.source,
    time: Number(row.time_ms),
    value: JSON.parse(row.value_json) as unknown,
    reason: row.reason,
    recordedAt: Number(row.recorded_ms),
    notes: parseNotes(row.notes),
    ...(row.join_field !== null ? { joinField: row.join_field } : {}),
    ...(row.join_value !== null ? { joinValue: row.join_value } : {}),
  };
  return orphan;
}

/** The orphan as the engine handed it over. */
export function orphanDocOf(row: OrphanRowData): OrphanDoc {
  const { recordedAt: _recordedAt, notes: _notes, ...doc } = orphanOf(row);
  return doc;
}

/** Statuses, for validating search input. */
export const STATUSES: readonly SessionStatus[] = ['open', 'final', 'merged'];
