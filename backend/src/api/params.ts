import { z } from 'zod';
import type { DurationCondition } from '../store/index.js';
import { SEVERITIES } from '../template/index.js';
import { traceQLDurationMs } from './traceql.js';

/** A query parameter given once, repeated, or comma-separated: always a list of non-empty strings. */
export const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(item).min(1));

/**
 * ISO-8601 as `Date.parse` reads it: a date, optionally a time (minutes, seconds, fraction) and a
 * zone. `Date.parse` alone also takes V8's legacy forms, so "1,2", "abc 1" or "%00" read as dates
 * in 2000 or 2001: a typo answered with a page of the wrong time range.
 */
const ISO_8601 = /^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/** Epoch milliseconds, or an ISO-8601 date-time. */
export const instant = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const text = typeof v === 'string' ? v.trim() : '';
  const ms = typeof v === 'number' ? v : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : ISO_8601.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `not a time (epoch ms or ISO-8601): ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

/** A duration: a number of milliseconds, or a TraceQL duration (`500ms`, `1.5s`, `2m`, `1h`, `1d`). */
export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : traceQLDurationMs(v.trim());
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `not a duration (milliseconds, or e.g. 500ms, 1.5s, 2m, 1h): ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

/** A search's inclusive duration bounds (ms; undefined: no bound) as the store's duration conditions. */
export function durationBounds(minMs: number | undefined, maxMs: number | undefined): DurationCondition[] {
  return [...(minMs !== undefined ? [{ op: '>=' as const, ms: minMs }] : []), ...(maxMs !== undefined ? [{ op: '<=' as const, ms: maxMs }] : [])];
}

/**
 * A `from`/`to` pair in order: a range that ends before it starts is a mistaken query (swapped
 * bounds), answered with a 400 rather than an empty page that looks like "no sessions".
 */
export function inOrder(range: { readonly from?: number | undefined; readonly to?: number | undefined }, ctx: z.RefinementCtx): void {
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: `is before from (${new Date(range.to).toISOString()} < ${new Date(range.from).toISOString()})` });
  }
}

/**
 * A whole number given as a query parameter: decimal digits only, an empty one being absent (as
 * Tempo reads its parameters). z.coerce read `end=` as 0 (a Tempo search ending in 1970: no traces,
 * as if nothing matched) and `0x10` or `1e3` as numbers.
 */
export const whole = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().regex(/^\d+$/, 'expected a whole number (decimal digits)').transform(Number).pipe(z.number().min(min).max(max)).optional(),
  );
export const limit = (max: number) => whole(1, max);
export const severity = z.enum(SEVERITIES);
export const status = z.enum(['open', 'final', 'merged']);
export const sessionId = z.string().min(1).max(128);
export const templateId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a template id is 1–64 of [A-Za-z0-9_.-]');
export const fieldName = z.string().min(1).max(64);
