import { z } from 'zod';
import type { FieldCondition, SearchQuery } from '../store/index.js';
import { badRequest, parseInput } from './errors.js';
import { duration, durationBounds, fieldName, inOrder, instant, limit, list, severity, status, templateId } from './params.js';
import { parseTraceQL, traceQLToSearch } from './traceql.js';

const FIELD_PARAM = /^f\.(.+?)(?:\.(eq|ne|gt|gte|lt|lte|prefix))?$/;

const searchParams = z.object({
  template: templateId.optional(),
  key: z.string().min(1).max(512).optional(),
  verdict: list(z.string().max(128)).optional(),
  severity: list(severity).optional(),
  status: list(status).optional(),
  from: instant.optional(),
  to: instant.optional(),
  minDuration: duration.optional(),
  maxDuration: duration.optional(),
  limit: limit(1000).optional(),
  cursor: z.string().max(512).optional(),
  q: z.string().max(4096).optional(),
}).superRefine(inOrder).superRefine((p, ctx) => {
  if (p.minDuration !== undefined && p.maxDuration !== undefined && p.minDuration > p.maxDuration) {
    ctx.addIssue({ code: 'custom', path: ['maxDuration'], message: `is less than minDuration (${p.maxDuration} < ${p.minDuration} ms)` });
  }
});

/**
 * `GET /api/sessions` parameters → a store query. Field conditions are `f.<name>=v` (equality;
 * repeated or comma-free values: any of them), `f.<name>.ne=v` (the session has the field and no
 * value of it is v; repeated: none of them), `f.<name>.gt|gte|lt|lte=n` (range; numbers compare
 * numerically, other values as text), `f.<name>.prefix=s`; `minDuration` / `maxDuration` bound the
 * session's duration (inclusive; ms or `1.5s`); `q` takes the same TraceQL subset as the Tempo
 * search (`{ .verdict = "x" && .amount > 100 }`), and-ed with the rest.
 */
export function searchQueryOf(raw: Record<string, unknown>): SearchQuery {
  const plain: Record<string, unknown> = {};
  const fields: FieldCondition[] = [];
  const ranges = new Map<string, Record<string, number | string>>();
  for (const [name, value] of Object.entries(raw)) {
    const match = FIELD_PARAM.exec(name);
    if (!match) {
      plain[name] = value;
      continue;
    }
    // Field names are identifiers (template schema), so a dot left in one is a misspelt operator.
    if (match[1]!.includes('.')) {
      throw badRequest(`${name}: "${match[1]!.slice(match[1]!.lastIndexOf('.') + 1)}" is not an operator: use f.<field>=v or f.<field>.ne, gt, gte, lt, lte, prefix`);
    }
    const field = parseInput(fieldName, match[1], 'query');
    const op = match[2] ?? 'eq';
    const values = (Array.isArray(value) ? value : [value]).map(String);
    if (op === 'eq') {
      fields.push(values.length === 1 ? { field, op: '=', value: values[0]! } : { field, op: 'in', values });
    } else if (op === 'ne') {
      for (const value of values) fields.push({ field, op: '!=', value });
    } else if (op === 'prefix') {
      if (values.length !== 1) throw badRequest(`${name}: give it once`);
      fields.push({ field, op: 'prefix', value: values[0]! });
    } else {
      if (values.length !== 1) throw badRequest(`${name}: give it once`);
      const bounds = ranges.get(field) ?? {};
      bounds[op] = numberOrText(name, values[0]!);
      ranges.set(field, bounds);
    }
  }
  for (const [field, bounds] of ranges) fields.push({ field, op: 'range', ...bounds });
  const unknown = Object.keys(plain).filter((k) => !(k in searchParams.shape));
  if (unknown.length > 0) {
    throw badRequest(`unknown parameter(s) ${unknown.join(', ')}: use template, key, verdict, severity, status, from, to, minDuration, maxDuration, limit, cursor, q, f.<field>[.ne|.gt|.gte|.lt|.lte|.prefix]`);
  }
  const p = parseInput(searchParams, plain, 'query');
  const durations = durationBounds(p.minDuration, p.maxDuration);
  let query: SearchQuery = {
    ...(p.template !== undefined ? { template: p.template } : {}),
    ...(p.key !== undefined ? { key: p.key } : {}),
    ...(p.verdict !== undefined ? { verdict: p.verdict } : {}),
    ...(p.severity !== undefined ? { severity: p.severity } : {}),
    ...(p.status !== undefined ? { status: p.status } : {}),
    ...(p.from !== undefined ? { from: p.from } : {}),
    ...(p.to !== undefined ? { to: p.to } : {}),
    ...(p.limit !== undefined ? { limit: p.limit } : {}),
    ...(p.cursor !== undefined ? { cursor: p.cursor } : {}),
    ...(fields.length > 0 ? { fields } : {}),
    ...(durations.length > 0 ? { duration: durations } : {}),
  };
  if (p.q !== undefined) query = mergeQueries(query, traceQLToSearch(parseTraceQL(p.q)));
  return query;
}

function numberOrText(name: string, value: string): number | string {
  const n = Number(value);
  // `1e400` is a number too large for a double, not text: compared as text it matched "4.99" (> "1e400").
  if (value.trim() !== '' && !Number.isNaN(n) && !Number.isFinite(n)) throw badRequest(`${name}: ${value} is out of the range of numbers`);
  return value.trim() !== '' && Number.isFinite(n) ? n : value;
}

/** Both queries must hold: a top-level key given twice with different values matches nothing, so it is refused. */
export function mergeQueries(a: SearchQuery, b: SearchQuery): SearchQuery {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    if (k === 'fields' || k === 'duration') {
      // Lists of conditions that must all hold: both sides' hold.
      out[k] = [...((a[k] as readonly unknown[] | undefined) ?? []), ...(v as readonly unknown[])];
    } else if (out[k] !== undefined && JSON.stringify(out[k]) !== JSON.stringify(v)) {
      throw badRequest(`${k} is given both as a parameter and in q`);
    } else {
      out[k] = v;
    }
  }
  return out as SearchQuery;
}
