/**
 * The correlator's JSON API as the plugin reads it (issue 5; backend/src/api and its OpenAPI file).
 * The plugin is built and shipped apart from the backend, so these are its own copy of the wire
 * shapes rather than imports from backend/src.
 */

export type Severity = 'critical' | 'warning' | 'info' | 'ok';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info', 'ok'];

export type SessionStatus = 'open' | 'final' | 'merged';

export type FieldScalar = string | number | boolean;
export type FieldValue = FieldScalar | FieldScalar[];

export interface EventDoc {
  readonly step: string;
  readonly source: string;
  readonly time: number;
  readonly value: unknown;
}

/** A search hit: the session without its events. */
export interface SessionSummary {
  readonly id: string;
  readonly template: string;
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly status: SessionStatus;
  readonly version: number;
  readonly verdict: string | null;
  readonly severity: Severity | null;
  readonly explain: string | null;
  readonly splitOf: string | null;
  readonly mergedInto: string | null;
  readonly fields: Readonly<Record<string, FieldValue>>;
  readonly eventCount: number;
  readonly notes?: readonly string[];
  readonly updatedAt?: number;
}

export interface SearchPage {
  readonly sessions: SessionSummary[];
  readonly cursor: string | null;
}

/** One stored version of a session, as the detail endpoint lists them (newest first). */
export interface SessionVersion {
  readonly version: number;
  readonly verdict: string | null;
  readonly severity: Severity | null;
  readonly status?: SessionStatus;
  readonly trigger?: string;
  readonly at?: number;
  readonly eventCount?: number;
}

/** `GET /api/sessions/:id`. */
export interface SessionDetail extends Omit<SessionSummary, 'eventCount'> {
  readonly events: readonly EventDoc[];
  readonly versions?: readonly SessionVersion[];
  /** Sessions recorded as splits of this one (`splitOf` = this id). */
  readonly splits?: readonly string[];
  /** Steps of the template's `session.complete` list that the session lacks. */
  readonly missing?: readonly string[];
  /** The template's behaviour tree: parent of each step (null for roots), in the template's step order. */
  readonly tree?: Readonly<Record<string, string | null>>;
}

export type Bucket = '1m' | '1h' | '1d';

export interface StatsRow {
  readonly time: number;
  readonly template: string;
  readonly verdict: string | null;
  readonly severity: Severity | null;
  readonly count: number;
}

export interface FieldValues {
  readonly values: ReadonlyArray<{ readonly value: string; readonly count: number }>;
  readonly complete: boolean;
}

export interface Orphan {
  readonly id: string;
  readonly template: string;
  readonly step: string;
  readonly source: string;
  readonly time: number;
  readonly value: unknown;
  readonly reason: string;
}

export interface OrphanPage {
  readonly orphans: Orphan[];
  readonly cursor: string | null;
}

export interface TemplateRecord {
  readonly id: string;
  readonly text: string;
  readonly revision: number;
  readonly updatedAt: number;
  readonly title?: string;
}

/** A problem in a template, located at a line when the text was YAML/JSON. */
export interface TemplateIssue {
  readonly file?: string;
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

export interface PreviewRecord {
  readonly source: string;
  readonly value: unknown;
  readonly at?: number;
}

export interface PreviewSession {
  readonly id: string;
  readonly template: string;
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly status: SessionStatus;
  readonly verdict: string | null;
  readonly severity: Severity | null;
  readonly explain: string | null;
  readonly fields: Readonly<Record<string, FieldValue>>;
  readonly events: readonly EventDoc[];
}

export interface PreviewResult {
  readonly sessions: readonly PreviewSession[];
  readonly orphans: ReadonlyArray<{ readonly step: string; readonly source: string; readonly reason: string; readonly value?: unknown }>;
  /** Parent of each step (null for roots). */
  readonly tree: Readonly<Record<string, string | null>>;
  /** Input records refused (line = index + 1 in the list given). */
  readonly rejected?: ReadonlyArray<{ readonly line?: number; readonly reason: string }>;
}

/** OTLP/JSON (`GET /api/sessions/:id/trace`), the parts the trace frame reads. */
export interface OtlpAnyValue {
  readonly stringValue?: string;
  readonly intValue?: number | string;
  readonly doubleValue?: number;
  readonly boolValue?: boolean;
  readonly arrayValue?: { readonly values?: readonly OtlpAnyValue[] };
  readonly kvlistValue?: { readonly values?: readonly OtlpKeyValue[] };
  readonly bytesValue?: string;
}
export interface OtlpKeyValue {
  readonly key: string;
  readonly value?: OtlpAnyValue;
}
export interface OtlpEvent {
  readonly timeUnixNano: string | number;
  readonly name: string;
  readonly attributes?: readonly OtlpKeyValue[];
}
export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind?: number;
  readonly startTimeUnixNano: string | number;
  readonly endTimeUnixNano: string | number;
  readonly attributes?: readonly OtlpKeyValue[];
  readonly events?: readonly OtlpEvent[];
  readonly status?: { readonly code?: number; readonly message?: string };
}
export interface OtlpTrace {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource?: { readonly attributes?: readonly OtlpKeyValue[] };
    readonly scopeSpans?: ReadonlyArray<{
      readonly scope?: { readonly name?: string; readonly version?: string };
      readonly spans?: readonly OtlpSpan[];
    }>;
  }>;
}

/** The correlator's error body: `{ error, message, issues? }`. */
export interface ApiErrorBody {
  readonly error?: string;
  readonly message?: string;
  readonly issues?: readonly unknown[];
}
