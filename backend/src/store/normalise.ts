import { digest } from '../engine/hash.js';
import type { EventDoc, FieldScalar, FieldValue, OrphanDoc, SessionDoc } from '../engine/types.js';
import {
  MAX_FIELD_NAME_CHARS,
  MAX_ID_CHARS,
  MAX_INDEXED_CHARS,
  MAX_TEMPLATE_CHARS,
  StoreInputError,
} from './types.js';

/**
 * Turns what the engine hands over into rows that always fit the schema: strings made well-formed
 * (lone surrogates → U+FFFD) and cut to their column, non-finite numbers stored as their text,
 * oversized event payloads elided. Every change is described by a note that is stored with the row.
 */

/** Longest events document kept per session (UTF-8 bytes); TiDB's default entry limit is 6 MiB. */
export const MAX_EVENTS_BYTES = 4 * 1024 * 1024;
/** Longest explanation kept (code points). */
export const MAX_EXPLAIN_CHARS = 4000;
/** Longest verdict id / status / severity / link ids kept. */
export const MAX_SHORT_CHARS = 128;
/** Elements of one multi-valued field that get indexed. */
export const MAX_FIELD_ELEMENTS = 1000;
/** Longest orphan reason kept. */
export const MAX_REASON_CHARS = 512;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** Cuts to at most `max` code points (never splitting a surrogate pair). */
export function truncateChars(text: string, max: number): string {
  if (text.length <= max) return text;
  let units = 0;
  let points = 0;
  while (units < text.length && points < max) {
    const code = text.charCodeAt(units);
    units += code >= 0xd800 && code <= 0xdbff && units + 1 < text.length ? 2 : 1;
    points++;
  }
  return text.slice(0, units);
}

export function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** A string made safe for an indexed column: well-formed and at most `max` code points. */
export function columnText(text: string, max: number, what: string, notes: string[] | undefined): string {
  let out = wellFormed(text);
  if (out !== text) notes?.push(`${what}: invalid UTF-16 (lone surrogates) replaced by U+FFFD`);
  if (out.length > max) {
    const cut = truncateChars(out, max);
    if (cut !== out) {
      notes?.push(`${what}: truncated from ${codePoints(out)} to ${max} characters`);
      out = cut;
    }
  }
  return out;
}

/** Same cut as for stored values, for the value side of a query (so equal inputs still meet). */
export function queryText(text: string): string {
  return columnText(text, MAX_INDEXED_CHARS, '', undefined);
}

function optionalText(value: string | null | undefined, max: number, what: string, notes: string[]): string | null {
  if (value === null || value === undefined) return null;
  return columnText(String(value), max, what, notes);
}

export interface SessionRow {
  readonly id: string;
  readonly template: string;
  readonly anchorKey: string;
  readonly start: number;
  readonly end: number;
  readonly status: string;
  readonly version: number;
  readonly verdict: string | null;
  readonly severity: string | null;
  readonly explain: string | null;
  readonly splitOf: string | null;
  readonly mergedInto: string | null;
  readonly eventCount: number;
  /** Identifies the field rows (values and the start they carry), to skip rewriting unchanged ones. */
  readonly fieldsHash: string;
  /** JSON array of notes, null when the session was stored as given. */
  readonly notes: string | null;
  readonly updatedAt: number;
  /** The fields (JSON object, normalised). */
  readonly fieldsJson: string;
  /** The whole anchor key when the indexed column could not hold it as given; else null. */
  readonly keyFull: string | null;
  /** The events (JSON array). */
  readonly events: string;
}

/** One indexed value: a `session_fields` row, and a `session_numbers` row when `num` is set. */
export interface FieldRow {
  readonly sessionId: string;
  readonly name: string;
  readonly template: string;
  readonly str: string;
  readonly num: number | null;
  readonly start: number;
}

export interface PreparedSession {
  readonly row: SessionRow;
  readonly fields: readonly FieldRow[];
  readonly notes: readonly string[];
}

const STATUSES = new Set(['open', 'final', 'merged']);

function requireKeyText(value: unknown, max: number, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new StoreInputError(`session ${what} must be a non-empty string`);
  if (codePoints(value) > max) throw new StoreInputError(`session ${what} longer than ${max} characters`);
  if (wellFormed(value) !== value) throw new StoreInputError(`session ${what} is not well-formed UTF-16`);
  return value;
}

function timeValue(value: unknown, what: string, notes: string[]): number {
  if (typeof value === 'number' && Number.isFinite(value)) {
    const t = Math.trunc(value);
    if (Math.abs(t) <= Number.MAX_SAFE_INTEGER) return t;
  }
  notes.push(`${what}: ${String(value)} is not a finite time, stored as 0`);
  return 0;
}

/** A scalar as the store keeps it in the document and in `session_fields`. */
interface ScalarForm {
  readonly doc: FieldScalar;
  readonly str: string;
  readonly num: number | null;
}

function scalarForm(value: unknown, what: string, notes: string[]): ScalarForm | undefined {
  switch (typeof value) {
    case 'string': {
      const str = columnText(value, MAX_INDEXED_CHARS, what, notes);
      return { doc: str, str, num: null };
    }
    case 'number':
      if (Number.isFinite(value)) return { doc: value, str: String(value), num: value };
      notes.push(`${what}: non-finite number ${String(value)} stored as the string "${String(value)}"`);
      return { doc: String(value), str: String(value), num: null };
    case 'boolean':
      return { doc: value, str: String(value), num: null };
    case 'bigint': {
      const num = Number(value);
      notes.push(`${what}: bigint stored as number ${num}`);
      return { doc: num, str: String(value), num };
    }
    case 'undefined':
      return undefined;
    default: {
      if (value === null) return undefined;
      let text: string;
      try {
        text = JSON.stringify(value) ?? String(value);
      } catch {
        text = String(value);
      }
      notes.push(`${what}: ${Array.isArray(value) ? 'nested list' : 'object'} stored as its JSON text`);
      const str = columnText(text, MAX_INDEXED_CHARS, what, notes);
      return { doc: str, str, num: null };
    }
  }
}

/** Normalised fields for the document, and one index row per distinct element. */
export function prepareFields(
  fields: Readonly<Record<string, FieldValue>> | undefined,
  sessionId: string,
  template: string,
  start: number,
  notes: string[],
): { doc: Record<string, FieldValue>; rows: FieldRow[] } {
  const doc: Record<string, FieldValue> = {};
  const rows: FieldRow[] = [];
  if (fields === null || typeof fields !== 'object') return { doc, rows };
  for (const [rawName, value] of Object.entries(fields)) {
    const name = columnText(rawName, MAX_FIELD_NAME_CHARS, `field name ${JSON.stringify(truncateChars(rawName, 80))}`, notes);
    if (Object.prototype.hasOwnProperty.call(doc, name)) {
      notes.push(`fields.${name}: two field names normalise to the same name; the later one is dropped`);
      continue;
    }
    const what = `fields.${name}`;
    if (value === null || value === undefined) {
      notes.push(`${what}: ${String(value)} value dropped`);
      continue;
    }
    if (Array.isArray(value)) {
      const elements: FieldScalar[] = [];
      // Distinct values only, compared as MySQL's PAD SPACE collations do (trailing spaces ignored):
      // the value is part of the row's key.
      const seen = new Map<string, string>();
      for (const element of value as unknown[]) {
        const form = scalarForm(element, `${what}[${elements.length}]`, notes);
        if (form === undefined) {
          notes.push(`${what}: ${String(element)} element dropped`);
          continue;
        }
        elements.push(form.doc);
        const key = padKey(form.str);
        const earlier = seen.get(key);
        if (earlier !== undefined) {
          if (earlier !== form.str) notes.push(`${what}: ${JSON.stringify(form.str)} indexed as ${JSON.stringify(earlier)} (they differ only in trailing spaces)`);
          continue;
        }
        if (seen.size >= MAX_FIELD_ELEMENTS) {
          if (seen.size === MAX_FIELD_ELEMENTS) notes.push(`${what}: only the first ${MAX_FIELD_ELEMENTS} distinct elements are indexed`);
          seen.set(key, form.str);
          continue;
        }
        seen.set(key, form.str);
        rows.push({ sessionId, name, template, str: form.str, num: form.num, start });
      }
      doc[name] = elements;
      continue;
    }
    const form = scalarForm(value, what, notes);
    if (form === undefined) continue;
    doc[name] = form.doc;
    rows.push({ sessionId, name, template, str: form.str, num: form.num, start });
  }
  return { doc, rows };
}

function eventsJson(events: readonly EventDoc[] | undefined, notes: string[]): { json: string; count: number } {
  // The contract's four keys: fired documents carry the engine's held events, which have more.
  const list: EventDoc[] = Array.isArray(events)
    ? events.map((e: EventDoc) => ({ step: e.step, source: e.source, time: e.time, value: e.value }))
    : [];
  let json: string;
  try {
    json = JSON.stringify(list);
  } catch (error) {
    notes.push(`events: not serialisable (${(error as Error).message}); values replaced by their text`);
    json = JSON.stringify(list.map((e) => ({ ...e, value: safeText(e.value) })));
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most documents are obviously small enough.
  if (json.length * 3 <= MAX_EVENTS_BYTES || Buffer.byteLength(json) <= MAX_EVENTS_BYTES) return { json, count: list.length };
  // Elide the largest record values first until the document fits.
  const sized = list.map((e, i) => ({ i, bytes: Buffer.byteLength(JSON.stringify(e.value) ?? '') }));
  sized.sort((a, b) => b.bytes - a.bytes);
  const out: EventDoc[] = [...list];
  let total = Buffer.byteLength(json);
  let elided = 0;
  for (const { i, bytes } of sized) {
    if (total <= MAX_EVENTS_BYTES) break;
    const e = out[i]!;
    const replacement = { _truncated: `record of ${bytes} bytes elided (events over ${MAX_EVENTS_BYTES} bytes)` };
    out[i] = { ...e, value: replacement };
    total -= bytes - Buffer.byteLength(JSON.stringify(replacement));
    elided++;
  }
  json = JSON.stringify(out);
  if (Buffer.byteLength(json) > MAX_EVENTS_BYTES) {
    notes.push(`events: ${list.length} events over ${MAX_EVENTS_BYTES} bytes even without values; all dropped`);
    return { json: '[]', count: 0 };
  }
  notes.push(`events: ${elided} record value(s) elided to fit ${MAX_EVENTS_BYTES} bytes`);
  return { json, count: out.length };
}

function safeText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}

const hashText = (text: string): string => digest('sha1', text, 'base64url');

function padKey(text: string): string {
  return text.replace(/ +$/, '');
}

/** Validates keys, normalises values, and renders the rows one session is stored as. */
export function prepareSession(input: SessionDoc, now: number): PreparedSession {
  const id = requireKeyText(input.id, MAX_ID_CHARS, 'id');
  const template = requireKeyText(input.template, MAX_TEMPLATE_CHARS, 'template');
  if (typeof input.version !== 'number' || !Number.isSafeInteger(input.version)) {
    throw new StoreInputError(`session ${id}: version must be a safe integer, got ${String(input.version)}`);
  }
  if (!STATUSES.has(input.status)) throw new StoreInputError(`session ${id}: unknown status ${String(input.status)}`);
  const notes: string[] = [];
  const rawKey = typeof input.key === 'string' ? input.key : String(input.key);
  if (typeof input.key !== 'string') notes.push(`key: ${typeof input.key} stored as its text`);
  const anchorKey = columnText(rawKey, MAX_INDEXED_CHARS, 'key', notes);
  const start = timeValue(input.start, 'start', notes);
  const end = timeValue(input.end, 'end', notes);
  const { doc: fields, rows } = prepareFields(input.fields, id, template, start, notes);
  const verdict = optionalText(input.verdict, MAX_SHORT_CHARS, 'verdict', notes);
  const severity = optionalText(input.severity, 16, 'severity', notes);
  const explain = optionalText(input.explain, MAX_EXPLAIN_CHARS, 'explain', notes);
  const splitOf = optionalText(input.splitOf, MAX_ID_CHARS, 'splitOf', notes);
  const mergedInto = optionalText(input.mergedInto, MAX_ID_CHARS, 'mergedInto', notes);
  const events = eventsJson(input.events, notes);
  const fieldsHash = hashText(JSON.stringify([start, template, rows.map((r) => [r.name, r.str, r.num])]));
  return {
    row: {
      id,
      template,
      anchorKey,
      start,
      end,
      status: input.status,
      version: input.version,
      verdict,
      severity,
      explain,
      splitOf,
      mergedInto,
      eventCount: events.count,
      fieldsHash,
      notes: notes.length > 0 ? JSON.stringify(notes) : null,
      updatedAt: now,
      fieldsJson: JSON.stringify(fields),
      keyFull: anchorKey === rawKey ? null : rawKey,
      events: events.json,
    },
    fields: rows,
    notes,
  };
}

/**
 * Validates and normalises a batch; of several fires of one id only the highest version is kept
 * (the first of equal versions: re-delivery of the same fire).
 */
export function prepareBatch(sessions: readonly SessionDoc[], now: number): PreparedSession[] {
  // Every document is checked (a bad one fails the batch as before), but only the version that will
  // be written is rendered: rendering (events JSON, field rows, hashes) is most of the client's cost.
  const byId = new Map<string, SessionDoc>();
  for (const session of sessions) {
    checkSession(session);
    const seen = byId.get(session.id);
    if (seen === undefined || seen.version < session.version) byId.set(session.id, session);
  }
  const out: PreparedSession[] = [];
  for (const session of byId.values()) out.push(prepareSession(session, now));
  return out;
}

/** What {@link prepareSession} refuses (it throws the same errors), without rendering anything. */
function checkSession(input: SessionDoc): void {
  const id = requireKeyText(input.id, MAX_ID_CHARS, 'id');
  requireKeyText(input.template, MAX_TEMPLATE_CHARS, 'template');
  if (typeof input.version !== 'number' || !Number.isSafeInteger(input.version)) {
    throw new StoreInputError(`session ${id}: version must be a safe integer, got ${String(input.version)}`);
  }
  if (!STATUSES.has(input.status)) throw new StoreInputError(`session ${id}: unknown status ${String(input.status)}`);
}

export interface OrphanRow {
  readonly id: string;
  readonly template: string;
  readonly step: string;
  readonly source: string;
  readonly time: number;
  readonly reason: string;
  readonly joinField: string | null;
  readonly joinValue: string | null;
  readonly notes: string | null;
  readonly recordedAt: number;
  readonly value: string;
}

export function prepareOrphan(orphan: OrphanDoc, now: number): OrphanRow {
  const notes: string[] = [];
  const template = columnText(String(orphan.template), MAX_TEMPLATE_CHARS, 'template', notes);
  const step = columnText(String(orphan.step), MAX_SHORT_CHARS, 'step', notes);
  const source = columnText(String(orphan.source), MAX_SHORT_CHARS, 'source', notes);
  const time = timeValue(orphan.time, 'time', notes);
  const reason = columnText(String(orphan.reason ?? ''), MAX_REASON_CHARS, 'reason', notes);
  const joinField = orphan.joinField === undefined ? null : columnText(String(orphan.joinField), MAX_FIELD_NAME_CHARS, 'joinField', notes);
  const joinValue = orphan.joinValue === undefined ? null : columnText(String(orphan.joinValue), MAX_INDEXED_CHARS, 'joinValue', notes);
  let value: string;
  try {
    value = JSON.stringify(orphan.value ?? null);
  } catch (error) {
    notes.push(`value: not serialisable (${(error as Error).message}); stored as text`);
    value = JSON.stringify(safeText(orphan.value));
  }
  if (Buffer.byteLength(value) > MAX_EVENTS_BYTES) {
    notes.push(`value: record of ${Buffer.byteLength(value)} bytes elided`);
    value = JSON.stringify({ _truncated: `record of ${Buffer.byteLength(value)} bytes elided` });
  }
  // The engine's stable id when it gives one that fits; else one derived from the record.
  const given = (orphan as { id?: unknown }).id;
  const id =
    typeof given === 'string' && given !== '' && given.length <= MAX_ID_CHARS && wellFormed(given) === given
      ? given
      : hashText(JSON.stringify([orphan.template, orphan.step, orphan.source, time, value]));
  return {
    id,
    template,
    step,
    source,
    time,
    reason,
    joinField,
    joinValue,
    notes: notes.length > 0 ? JSON.stringify(notes) : null,
    recordedAt: now,
    value,
  };
}

/** Column order of `sessions` writes, matching {@link sessionValues}. */
export const SESSION_COLUMNS = [
  'id',
  'template',
  'anchor_key',
  'start_ms',
  'end_ms',
  'status',
  'version',
  'verdict',
  'severity',
  'explain_text',
  'split_of',
  'merged_into',
  'event_count',
  'fields_hash',
  'notes',
  'updated_ms',
  'key_full',
  'fields_json',
  'events_json',
] as const;

export function sessionValues(p: PreparedSession): unknown[] {
  const r = p.row;
  return [
    r.id,
    r.template,
    r.anchorKey,
    r.start,
    r.end,
    r.status,
    r.version,
    r.verdict,
    r.severity,
    r.explain,
    r.splitOf,
    r.mergedInto,
    r.eventCount,
    r.fieldsHash,
    r.notes,
    r.updatedAt,
    r.keyFull,
    r.fieldsJson,
    r.events,
  ];
}

