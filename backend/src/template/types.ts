import type { CompiledExpression } from './cel.js';

export const SEVERITIES = ['critical', 'warning', 'info', 'ok'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface SourceSpec {
  readonly name: string;
  readonly topic: string;
  /** Field holding event time: a top-level key first, else a dotted path. */
  readonly time: string;
  /** Field holding a dedup id; absent: a hash of the record. */
  readonly id: string | undefined;
  readonly disorderMs: number;
  /** A source silent for this long (processing time) stops holding the watermark back. */
  readonly idleMs: number | undefined;
}

interface StepBase {
  readonly name: string;
  /** Position in the template's `steps`, used as a compact step id in session state. */
  readonly index: number;
  readonly source: string;
  readonly when: CompiledExpression;
}

export interface AnchorStep extends StepBase {
  readonly kind: 'anchor';
  readonly anchor: CompiledExpression;
}

export interface JoinSpec {
  readonly field: string;
  readonly key: CompiledExpression;
  /** Supplement time must lie in [session.start + lowMs, session.end + highMs]. */
  readonly lowMs: number;
  readonly highMs: number;
}

export interface SupplementStep extends StepBase {
  readonly kind: 'supplement';
  readonly join: JoinSpec;
}

export type StepSpec = AnchorStep | SupplementStep;

export interface SessionSpec {
  readonly gapMs: number;
  readonly maxSpanMs: number;
  /** Step indexes whose joint presence fires the session at once. */
  readonly complete: readonly number[];
  readonly idleFireMs: number | undefined;
  readonly latenessMs: number;
  readonly splitWithinMs: number;
}

export interface FieldSpec {
  readonly name: string;
  readonly expr: CompiledExpression;
}

/** Explanation text with `{{ cel }}` holes rendered against the session context. */
export type ExplainPart = string | CompiledExpression;

export interface VerdictSpec {
  readonly id: string;
  readonly severity: Severity;
  readonly when: CompiledExpression;
  readonly explain: readonly ExplainPart[];
}

/** Where an enrichment looks its keys up. */
export type EnrichLookup =
  | { readonly kind: 'sql'; readonly table: string; readonly keyColumn: string; readonly database: string | undefined }
  | { readonly kind: 'http'; readonly url: string };

/** One `enrich` entry: the session's key for it, where to look it up, and which columns become fields. */
export interface EnrichSpec {
  readonly name: string;
  readonly key: CompiledExpression;
  readonly lookup: EnrichLookup;
  /** Field name → column. */
  readonly fields: ReadonlyMap<string, string>;
  readonly cacheTtlMs: number;
  readonly cacheSize: number;
  readonly timeoutMs: number;
  readonly batchSize: number;
  readonly batchWindowMs: number;
  readonly concurrency: number;
  readonly attempts: number;
  readonly backoffMs: number;
  /** `absent`, or the value each field takes when the key is not found. */
  readonly onMiss: 'absent' | Readonly<Record<string, string | number | boolean>>;
}

/** Fields the engine sets on sessions of templates that enrich: `pending` / `failed`, and why it failed. */
export const ENRICHMENT_FIELD = 'enrichment';
export const ENRICHMENT_ERROR_FIELD = 'enrichment_error';

export interface CompiledTemplate {
  readonly id: string;
  readonly title: string;
  readonly sources: ReadonlyMap<string, SourceSpec>;
  readonly steps: readonly StepSpec[];
  readonly stepsByName: ReadonlyMap<string, StepSpec>;
  readonly stepsBySource: ReadonlyMap<string, readonly StepSpec[]>;
  readonly anchorSources: readonly string[];
  readonly session: SessionSpec;
  /** In evaluation order (dependencies first). */
  readonly fields: readonly FieldSpec[];
  /** The fields joins read, with what they depend on, in evaluation order: evaluated eagerly on every change. */
  readonly joinFields: readonly FieldSpec[];
  /** Parent step of each step in the behaviour tree; null for roots. */
  readonly treeParent: ReadonlyMap<string, string | null>;
  readonly verdicts: readonly VerdictSpec[];
  /** Dimension lookups, evaluated after the fields and before the verdicts. */
  readonly enrich: readonly EnrichSpec[];
  /** The document as written (plain JSON), for the API and the editor. */
  readonly document: unknown;
}
