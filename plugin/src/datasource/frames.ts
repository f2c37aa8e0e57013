import { createDataFrame, FieldType, type DataFrame, type FieldConfig, type TraceKeyValuePair, type TraceLog } from '@grafana/data';
import type { FieldValue, OtlpAnyValue, OtlpKeyValue, OtlpTrace, SessionSummary, StatsRow } from '../api/types';

/** Where a session opens in the app (data links from tables and traces). */
export const SESSION_PAGE = '/a/weft-sessions-app/session';

const SEVERITY_COLORS: Record<string, string> = { critical: 'red', warning: 'orange', info: 'blue', ok: 'green' };

/** One row per session; every session field found becomes a column (numbers stay numbers). */
export function sessionsFrame(sessions: readonly SessionSummary[], refId: string): DataFrame {
  const fieldNames = [...new Set(sessions.flatMap((s) => Object.keys(s.fields)))].sort();
  const numeric = new Set(fieldNames.filter((name) => sessions.every((s) => isNumericOrAbsent(s.fields[name]))));
  const link: FieldConfig = {
    links: [{ title: 'Open session', url: `${SESSION_PAGE}/\${__value.raw}` }],
  };
  return createDataFrame({
    refId,
    name: 'sessions',
    meta: { preferredVisualisationType: 'table' },
    fields: [
      { name: 'id', type: FieldType.string, values: sessions.map((s) => s.id), config: link },
      { name: 'start', type: FieldType.time, values: sessions.map((s) => s.start) },
      { name: 'end', type: FieldType.time, values: sessions.map((s) => s.end) },
      { name: 'duration', type: FieldType.number, values: sessions.map((s) => s.end - s.start), config: { unit: 'ms' } },
      { name: 'template', type: FieldType.string, values: sessions.map((s) => s.template) },
      { name: 'key', type: FieldType.string, values: sessions.map((s) => s.key) },
      {
        name: 'verdict',
        type: FieldType.string,
        values: sessions.map((s) => s.verdict ?? ''),
        config: { custom: { cellOptions: { type: 'color-text' } } },
      },
      {
        name: 'severity',
        type: FieldType.string,
        values: sessions.map((s) => s.severity ?? ''),
        config: {
          mappings: [
            {
              type: 'value' as never,
              options: Object.fromEntries(Object.entries(SEVERITY_COLORS).map(([k, color], index) => [k, { color, index }])),
            },
          ],
          custom: { cellOptions: { type: 'color-background' } },
        },
      },
      { name: 'explain', type: FieldType.string, values: sessions.map((s) => s.explain ?? '') },
      { name: 'status', type: FieldType.string, values: sessions.map((s) => s.status) },
      { name: 'version', type: FieldType.number, values: sessions.map((s) => s.version) },
      { name: 'events', type: FieldType.number, values: sessions.map((s) => s.eventCount) },
      { name: 'splitOf', type: FieldType.string, values: sessions.map((s) => s.splitOf ?? '') },
      ...fieldNames.map((name) => ({
        name: `fields.${name}`,
        type: numeric.has(name) ? FieldType.number : FieldType.string,
        values: sessions.map((s) => (numeric.has(name) ? numberOrNull(s.fields[name]) : textOf(s.fields[name]))),
      })),
    ],
  });
}

function isNumericOrAbsent(v: FieldValue | undefined): boolean {
  return v === undefined || typeof v === 'number';
}
function numberOrNull(v: FieldValue | undefined): number | null {
  return typeof v === 'number' ? v : null;
}
function textOf(v: FieldValue | undefined): string {
  if (v === undefined) return '';
  return Array.isArray(v) ? v.map(String).join(', ') : String(v);
}

// ── traces ────────────────────────────────────────────────────────────────────────────────────────

/**
 * A session's OTLP/JSON trace (`GET /api/sessions/:id/trace`) as the frame Grafana's trace view
 * reads: one row per span, the columns of `TraceSpanRow` in @grafana/data (traceID, spanID,
 * parentSpanID, operationName, serviceName, serviceTags, startTime and duration in ms, logs, tags,
 * kind, statusCode, statusMessage, warnings), `preferredVisualisationType: 'trace'`.
 */
export function traceFrame(trace: OtlpTrace, refId: string): DataFrame {
  const rows: TraceRow[] = [];
  for (const resourceSpans of trace.resourceSpans ?? []) {
    const resourceTags = keyValues(resourceSpans.resource?.attributes);
    const serviceName = String(resourceTags.find((t) => t.key === 'service.name')?.value ?? 'weft');
    const serviceTags = resourceTags.filter((t) => t.key !== 'service.name');
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        const start = nanosToMs(span.startTimeUnixNano);
        const end = nanosToMs(span.endTimeUnixNano);
        const logs: TraceLog[] = (span.events ?? []).map((e) => ({
          timestamp: nanosToMs(e.timeUnixNano),
          name: e.name,
          fields: keyValues(e.attributes),
        }));
        const statusCode = span.status?.code ?? 0;
        rows.push({
          traceID: hexId(span.traceId),
          spanID: hexId(span.spanId),
          parentSpanID: span.parentSpanId ? hexId(span.parentSpanId) : undefined,
          operationName: span.name,
          serviceName,
          serviceTags,
          startTime: start,
          duration: Math.max(0, end - start),
          logs,
          tags: keyValues(span.attributes),
          kind: SPAN_KINDS[span.kind ?? 0] ?? 'unspecified',
          statusCode,
          statusMessage: span.status?.message ?? '',
          warnings: logs.filter((l) => /^missing/i.test(l.name ?? '')).map((l) => `${l.name}`),
          scope: scopeSpans.scope?.name ?? '',
        });
      }
    }
  }
  rows.sort((a, b) => a.startTime - b.startTime);
  const column = <K extends keyof TraceRow>(key: K) => rows.map((r) => r[key]);
  return createDataFrame({
    refId,
    name: 'trace',
    meta: { preferredVisualisationType: 'trace', custom: { traceFormat: 'otlp' } },
    fields: [
      { name: 'traceID', type: FieldType.string, values: column('traceID') },
      { name: 'spanID', type: FieldType.string, values: column('spanID') },
      { name: 'parentSpanID', type: FieldType.string, values: column('parentSpanID') },
      { name: 'operationName', type: FieldType.string, values: column('operationName') },
      { name: 'serviceName', type: FieldType.string, values: column('serviceName') },
      { name: 'serviceTags', type: FieldType.other, values: column('serviceTags') },
      { name: 'startTime', type: FieldType.number, values: column('startTime') },
      { name: 'duration', type: FieldType.number, values: column('duration') },
      { name: 'logs', type: FieldType.other, values: column('logs') },
      { name: 'tags', type: FieldType.other, values: column('tags') },
      { name: 'kind', type: FieldType.string, values: column('kind') },
      { name: 'statusCode', type: FieldType.number, values: column('statusCode') },
      { name: 'statusMessage', type: FieldType.string, values: column('statusMessage') },
      { name: 'warnings', type: FieldType.other, values: column('warnings') },
      { name: 'instrumentationLibraryName', type: FieldType.string, values: column('scope') },
    ],
  });
}

interface TraceRow {
  traceID: string;
  spanID: string;
  parentSpanID: string | undefined;
  operationName: string;
  serviceName: string;
  serviceTags: TraceKeyValuePair[];
  startTime: number;
  duration: number;
  logs: TraceLog[];
  tags: TraceKeyValuePair[];
  kind: string;
  statusCode: number;
  statusMessage: string;
  warnings: string[];
  scope: string;
}

const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/** OTLP/JSON carries nanoseconds as decimal strings (beyond 2^53); ms keep the sub-ms part as a fraction. */
export function nanosToMs(nanos: string | number): number {
  if (typeof nanos === 'number') return nanos / 1e6;
  const text = nanos.trim();
  if (text.length <= 6) return Number(text) / 1e6;
  return Number(text.slice(0, -6)) + Number(text.slice(-6)) / 1e6;
}

/** OTLP/JSON ids are hex; protobuf-to-JSON mappings give base64: accept both, answer hex. */
export function hexId(id: string): string {
  if (/^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)) return id.toLowerCase();
  try {
    const bytes = atob(id);
    return [...bytes].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch {
    return id;
  }
}

function keyValues(attributes: readonly OtlpKeyValue[] | undefined): TraceKeyValuePair[] {
  return (attributes ?? []).map((a) => ({ key: a.key, value: anyValue(a.value) }));
}

export function anyValue(v: OtlpAnyValue | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

// ── verdict counts ────────────────────────────────────────────────────────────────────────────────

export type SeriesBy = 'verdict' | 'severity' | 'template';

/** The rollup bucket to ask for: the largest of 1m/1h/1d that is not coarser than the panel's interval. */
export function bucketFor(intervalMs: number): { bucket: '1m' | '1h' | '1d'; ms: number } {
  if (intervalMs >= 86_400_000) return { bucket: '1d', ms: 86_400_000 };
  if (intervalMs >= 3_600_000) return { bucket: '1h', ms: 3_600_000 };
  return { bucket: '1m', ms: 60_000 };
}

/**
 * One time series per verdict (or severity, or template): rollup rows summed into the panel's
 * interval (never finer than one minute), zeros where a bucket has no sessions so lines drop to 0
 * rather than bridging gaps.
 */
export function verdictCountFrames(
  rows: readonly StatsRow[],
  range: { from: number; to: number },
  intervalMs: number,
  refId: string,
  by: SeriesBy = 'verdict',
): DataFrame[] {
  const step = Math.max(60_000, intervalMs);
  const first = Math.floor(range.from / step) * step;
  const times: number[] = [];
  for (let t = first; t < range.to; t += step) times.push(t);
  const series = new Map<string, { counts: number[]; severity: string | null; template: string }>();
  for (const row of rows) {
    const name = (by === 'verdict' ? row.verdict : by === 'severity' ? row.severity : row.template) ?? 'none';
    let s = series.get(name);
    if (!s) {
      s = { counts: times.map(() => 0), severity: row.severity, template: row.template };
      series.set(name, s);
    }
    const index = Math.floor((row.time - first) / step);
    if (index >= 0 && index < times.length) s.counts[index]! += row.count;
  }
  return [...series.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, s]) =>
      createDataFrame({
        refId,
        name,
        meta: { preferredVisualisationType: 'graph' },
        fields: [
          { name: 'time', type: FieldType.time, values: times, config: { interval: step } },
          {
            name: 'count',
            type: FieldType.number,
            values: s.counts,
            labels: { [by]: name },
            config: {
              displayNameFromDS: name,
              // Severity series take the severity's colour; verdicts keep the palette (several share a severity).
              ...(by === 'severity' && s.severity && SEVERITY_COLORS[s.severity]
                ? { color: { mode: 'fixed', fixedColor: SEVERITY_COLORS[s.severity] } }
                : {}),
            },
          },
        ],
      }),
    );
}

/** Values of one field with how many sessions hold each (for tables and variables). */
export function fieldValuesFrame(field: string, values: ReadonlyArray<{ value: string; count: number }>, refId: string): DataFrame {
  return createDataFrame({
    refId,
    name: field,
    meta: { preferredVisualisationType: 'table' },
    fields: [
      { name: 'value', type: FieldType.string, values: values.map((v) => v.value) },
      { name: 'count', type: FieldType.number, values: values.map((v) => v.count) },
    ],
  });
}
