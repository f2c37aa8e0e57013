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

/** One stored version of a session (`history` of the detail endpoint). */
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

/** `GET /api/sessions/:id`. */
export interface SessionDetail extends Omit<SessionSummary, 'eventCount'> {
  readonly events: readonly EventDoc[];
  readonly traceId?: string;
  readonly history?: readonly SessionVersion[];
  readonly links?: {
    readonly splitOf: string | null;
    readonly mergedInto: string | null;
    /** Sessions an operator merged into this one (an unmerge restores them). */
    readonly operatorMerged: ReadonlyArray<{ readonly id: string; readonly mergedAt: number }>;
  };
}

/** A step of a template's behaviour tree, in template order (validate and preview answer these). */
export interface TreeStep {
  readonly step: string;
  readonly source: string;
  readonly kind?: string;
  readonly parent: string | null;
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

/** `GET /api/templates` lists these (no text); `GET /api/templates/:id` adds the text. */
export interface TemplateSummary {
  readonly id: string;
  readonly revision: number;
  readonly updatedAt: number;
}
export interface TemplateRecord extends TemplateSummary {
  readonly text: string;
}

/** `POST /api/templates/validate`: always 200; `valid` false with the issues when it does not compile. */
export interface Validation {
  readonly valid: boolean;
  readonly issues: readonly TemplateIssue[];
  readonly id?: string;
  readonly title?: string;
  readonly tree?: readonly TreeStep[];
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

/** A session the preview made (not stored: no version history or links). */
export type PreviewSession = Pick<SessionDetail, 'id' | 'template' | 'key' | 'start' | 'end' | 'status' | 'verdict' | 'severity' | 'explain' | 'fields' | 'events'>;

/** `POST /api/templates/preview`: the sessions and orphans the records make, and the template's tree. */
export interface PreviewResult {
  readonly tree: readonly TreeStep[];
  readonly sessions: readonly PreviewSession[];
  readonly orphans: ReadonlyArray<{ readonly step: string; readonly source: string; readonly reason: string; readonly value?: unknown }>;
  /** Records refused (`record`: 1-based position in the list sent). */
  readonly errors: ReadonlyArray<{ readonly record: number; readonly reason: string }>;
}

/** Parent of each step (null for roots), in template order. */
export function parentsOf(tree: readonly TreeStep[]): Record<string, string | null> {
  return Object.fromEntries(tree.map((t) => [t.step, t.parent]));
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
