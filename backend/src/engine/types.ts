import type { Severity } from '../template/index.js';

/** A scalar field value; a list is a multi-valued field (each element stored and indexed). */
export type FieldScalar = string | number | boolean;
export type FieldValue = FieldScalar | FieldScalar[];

/** One record as placed in a session: `value` is the raw record exactly as read. */
export interface EventDoc {
  readonly step: string;
  readonly source: string;
  readonly time: number;
  readonly value: unknown;
}

/**
 * The contract's four keys of an event. Events in fired documents are the engine's held events and
 * carry more (step position, dedup id, key); serialisers write this.
 */
export function plainEvent(e: EventDoc): EventDoc {
  return { step: e.step, source: e.source, time: e.time, value: e.value };
}

/**
 * The JSON text an event's value was read as, when it is known: a held record's `raw` (replay gave
 * it), a stored record kept as text (TextEvent). Undefined for a record known only parsed.
 */
export function rawOf(e: EventDoc): string | undefined {
  const raw = (e as { raw?: unknown }).raw;
  return typeof raw === 'string' ? raw : undefined;
}

/**
 * A record held as the JSON text it was read as; `value` parses it on each read. A final session's
 * records that came with their text are handed out this way (see Correlator.fire): the engine
 * needs their parsed trees no more, and whoever keeps the document keeps a slice of the input
 * line, not a tree of objects that young-generation GCs copy to keep.
 */
export class TextEvent implements EventDoc {
  constructor(readonly step: string, readonly source: string, readonly time: number, readonly raw: string) {}

  get value(): unknown {
    return JSON.parse(this.raw);
  }

  /** Serialisers that take the object whole see the contract's four keys. */
  toJSON(): EventDoc {
    return plainEvent(this);
  }
}

/**
 * `open`: fired before its window closed (complete or idle trigger); `final`: its window closed
 * (later fires are late repairs); `merged`: absorbed by `mergedInto`, holds no events.
 */
export type SessionStatus = 'open' | 'final' | 'merged';

/** What a fire carries downstream, and what a store keeps: an upsert keyed by `id`, higher `version` wins. */
export interface SessionDoc {
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
  readonly events: readonly EventDoc[];
}

/** `enrich`: a dimension lookup the session waited for came back (see {@link EnrichRequest}). */
export type Trigger = 'complete' | 'watermark' | 'idle' | 'late' | 'merge' | 'enrich';

export interface OrphanDoc {
  /** Stable for the record (template, step, dedup id): a re-delivered orphan is the same orphan. */
  readonly id: string;
  readonly template: string;
  readonly step: string;
  readonly source: string;
  readonly time: number;
  readonly value: unknown;
  readonly reason: string;
  /** For supplements: the join they waited on, so a late repair can adopt them. */
  readonly joinField?: string;
  readonly joinValue?: string;
}

/**
 * A record the engine recognised: its step, event time, dedup id, and anchor key or join value.
 * It is an EventDoc too, so sessions hold it and fires carry it without copying.
 */
export interface NormalEvent extends EventDoc {
  readonly template: string;
  /** Position of `step` in the template's steps. */
  readonly stepIndex: number;
  readonly id: string;
  /** The anchor key (anchor step) or the join value (supplement step). */
  readonly key: string;
  readonly value: unknown;
  /**
   * `value`'s JSON text as read, when the caller had it (replay does): a store may keep this text
   * instead of the parsed tree once the session is final (see MemorySessions).
   */
  readonly raw: string | undefined;
}

/** Which stored sessions a late record needs to see. */
export type Lookup =
  | { readonly template: string; readonly by: 'key'; readonly key: string }
  | { readonly template: string; readonly by: 'field'; readonly field: string; readonly value: string };

/** A record behind the watermark: the caller loads `lookup` from its store and hands both to `Engine.repair`. */
export interface LateRequest {
  readonly lookup: Lookup;
  readonly event: NormalEvent;
}

/**
 * A late repair gave a session a join value: orphaned supplements waiting on it may now join. The
 * caller loads the stored orphans with that join field and value, removes them from its orphans,
 * and hands them to `Engine.adopt` (those that still join nothing come back as orphans).
 */
export interface AdoptRequest {
  readonly template: string;
  readonly field: string;
  readonly value: string;
}

/**
 * What the caller knows about one key of one enrichment (its cache of dimension rows). The engine
 * reads it synchronously at each fire: no I/O, just the caller's current knowledge.
 */
export type EnrichOutcome =
  /** The row, by column. */
  | { readonly kind: 'found'; readonly row: Readonly<Record<string, unknown>> }
  | { readonly kind: 'missing' }
  /** The lookup failed after its retry budget. */
  | { readonly kind: 'failed'; readonly reason: string };

export interface EnrichmentView {
  outcome(template: string, enrichment: string, key: string): EnrichOutcome | undefined;
}

/**
 * A fire needed `key` of `enrichment` and the view did not know it (the session is marked
 * `enrichment: pending`). The caller looks it up, records the outcome in its view, then calls
 * `Engine.enriched` with the request (and the stored session, when it has left memory).
 */
export interface EnrichRequest {
  readonly template: string;
  readonly enrichment: string;
  readonly key: string;
  /** The session waiting for it. */
  readonly session: { readonly id: string; readonly key: string };
}

export type Emission =
  | { readonly kind: 'fire'; readonly trigger: Trigger; readonly session: SessionDoc }
  | { readonly kind: 'orphan'; readonly orphan: OrphanDoc }
  | { readonly kind: 'late'; readonly request: LateRequest }
  | { readonly kind: 'adopt'; readonly request: AdoptRequest }
  | { readonly kind: 'enrich'; readonly request: EnrichRequest };

/** Why a record was not taken; the run goes on. */
export interface Rejection {
  readonly source: string;
  readonly reason: string;
}

export interface EngineCounters {
  records: number;
  rejected: number;
  /** Records that matched no step (noise): they still move watermarks. */
  unmatched: number;
  duplicates: number;
  lateRequested: number;
  lateReapplied: number;
  lateDropped: number;
  orphans: number;
  merges: number;
  fires: Record<Trigger, number>;
}
