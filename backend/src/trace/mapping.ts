import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { EventDoc, SessionDoc } from '../engine/types.js';
import type { CompiledTemplate } from '../template/index.js';
import { attributeValue, flattenRecord } from './attributes.js';
import { recordSpanIdOf, rootSpanIdOf, traceIdOf } from './ids.js';

export const SCOPE = { name: 'weft', version: '0.1.0' } as const;

/**
 * Root span attribute names for the session's own columns. Fields go under their own names (so
 * TraceQL reads `{ .verdict = "x" && .amount > 100 }`); a field named like one of these goes
 * under `field.<name>` instead.
 */
export const ROOT_ATTRIBUTES = ['template', 'key', 'verdict', 'severity', 'explain', 'session.id', 'status', 'version', 'split_of', 'merged_into'] as const;
const RESERVED = new Set<string>([...ROOT_ATTRIBUTES, 'service.name', 'step', 'source']);

export function fieldAttributeName(field: string): string {
  return RESERVED.has(field) ? `field.${field}` : field;
}

/** Event name on the root span for each expected step the session lacks. */
export const MISSING_STEP_EVENT = 'missing_step';

const resources = new Map<string, Resource>();
/** One resource per service name, shared, so serialisers group a trace's spans by service. */
function resourceOf(service: string): Resource {
  let resource = resources.get(service);
  if (!resource) {
    if (resources.size > 10_000) resources.clear();
    resource = resourceFromAttributes({ 'service.name': service });
    resources.set(service, resource);
  }
  return resource;
}

export function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function context(traceId: string, spanId: string): SpanContext {
  return { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
}

interface SpanInit {
  readonly name: string;
  readonly context: SpanContext;
  readonly parent: SpanContext | undefined;
  readonly start: number;
  readonly end: number;
  readonly attributes: Attributes;
  readonly droppedAttributes: number;
  readonly events: TimedEvent[];
  readonly status: ReadableSpan['status'];
  readonly service: string;
}

function span(init: SpanInit): ReadableSpan {
  const ctx = init.context;
  return {
    name: init.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => ctx,
    parentSpanContext: init.parent,
    startTime: hrTime(init.start),
    endTime: hrTime(init.end),
    duration: hrTime(init.end - init.start),
    status: init.status,
    attributes: init.attributes,
    links: [],
    events: init.events,
    ended: true,
    resource: resourceOf(init.service),
    instrumentationScope: SCOPE,
    droppedAttributesCount: init.droppedAttributes,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/**
 * A session as a trace (DESIGN.md "Traces"): a root span for the session (service = template id)
 * with its columns and fields as attributes, ERROR for a critical verdict, and an event per missing
 * expected step; one span per record (service = its source) with the record flattened into
 * attributes, parented by the template's behaviour tree. Root span first, then records in time order.
 */
export function sessionSpans(session: SessionDoc, template?: CompiledTemplate): ReadableSpan[] {
  const traceId = traceIdOf(session.id);
  const rootContext = context(traceId, rootSpanIdOf(session.id));
  const events = [...session.events].sort((a, b) => a.time - b.time);
  const records = recordSpans(session, events, template, traceId, rootContext);
  let start = session.start;
  let end = session.end;
  for (const r of records) {
    start = Math.min(start, r.start);
    end = Math.max(end, r.end);
  }
  const root = span({
    name: session.template,
    context: rootContext,
    parent: undefined,
    start,
    end,
    attributes: rootAttributes(session),
    droppedAttributes: 0,
    events: missingSteps(session, template).map((step) => ({ name: MISSING_STEP_EVENT, time: hrTime(end), attributes: { step } })),
    status: statusOf(session),
    service: session.template,
  });
  return [root, ...records.map((r) => r.span)];
}

function statusOf(session: SessionDoc): ReadableSpan['status'] {
  if (session.severity === 'critical') return { code: SpanStatusCode.ERROR, message: session.explain ?? session.verdict ?? 'critical' };
  if (session.severity === 'ok') return { code: SpanStatusCode.OK };
  return { code: SpanStatusCode.UNSET };
}

function rootAttributes(session: SessionDoc): Attributes {
  const out: Attributes = {
    template: session.template,
    key: session.key,
    'session.id': session.id,
    status: session.status,
    version: session.version,
  };
  if (session.verdict !== null) out.verdict = session.verdict;
  if (session.severity !== null) out.severity = session.severity;
  if (session.explain !== null) out.explain = session.explain;
  if (session.splitOf !== null) out.split_of = session.splitOf;
  if (session.mergedInto !== null) out.merged_into = session.mergedInto;
  for (const [name, value] of Object.entries(session.fields)) {
    const v = attributeValue(value);
    if (v !== undefined) out[fieldAttributeName(name)] = v;
  }
  return out;
}

/** Steps the template expects (`session.complete`, else every step) that the session lacks. */
export function missingSteps(session: SessionDoc, template: CompiledTemplate | undefined): string[] {
  if (!template || session.status === 'merged') return [];
  const expected = template.session.complete.length > 0
    ? template.session.complete.map((i) => template.steps[i]!.name)
    : template.steps.map((s) => s.name);
  const present = new Set(session.events.map((e) => e.step));
  return expected.filter((step) => !present.has(step));
}

interface RecordSpan {
  readonly span: ReadableSpan;
  readonly start: number;
  readonly end: number;
}

function recordSpans(
  session: SessionDoc,
  events: readonly EventDoc[],
  template: CompiledTemplate | undefined,
  traceId: string,
  root: SpanContext,
): RecordSpan[] {
  const n = events.length;
  const contexts: SpanContext[] = new Array(n);
  // Identical records (same step, time and raw value) are told apart by their occurrence; most
  // sessions have none, so the map is made only when two records share a step and a time.
  let occurrences: Map<string, number> | undefined;
  const byStep = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    const valueJson = JSON.stringify(e.value) ?? 'null';
    let occurrence = 0;
    if (occurrences === undefined && i > 0 && !(events[i - 1]!.time < e.time)) {
      // Times strictly rising so far: no two earlier records were identical. Count them from here on.
      occurrences = new Map();
      for (let j = 0; j < i; j++) {
        const earlier = events[j]!;
        occurrences.set(`${earlier.step}\u0000${earlier.time}\u0000${JSON.stringify(earlier.value) ?? 'null'}`, 1);
      }
    }
    if (occurrences) {
      const identity = `${e.step}\u0000${e.time}\u0000${valueJson}`;
      occurrence = occurrences.get(identity) ?? 0;
      occurrences.set(identity, occurrence + 1);
    }
    contexts[i] = context(traceId, recordSpanIdOf(session.id, e.step, e.time, valueJson, occurrence));
    const same = byStep.get(e.step);
    if (same) same.push(i);
    else byStep.set(e.step, [i]);
  }
  const out: RecordSpan[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    const parentIndex = template ? treeParentIndex(e, template, byStep, events) : undefined;
    const end = spanEnd(events, i);
    const attributes: Attributes = { step: e.step, source: e.source };
    const { dropped } = flattenRecord(e.value, attributes);
    out[i] = {
      start: e.time,
      end,
      span: span({
        name: e.step,
        context: contexts[i]!,
        parent: parentIndex === undefined ? root : contexts[parentIndex]!,
        start: e.time,
        end,
        attributes,
        droppedAttributes: dropped,
        events: [],
        status: UNSET,
        service: e.source,
      }),
    };
  }
  return out;
}

const UNSET: ReadableSpan['status'] = { code: SpanStatusCode.UNSET };

/**
 * The record's parent: a record of the nearest ancestor step (in the behaviour tree) the session
 * has — the latest one at or before this record, else the earliest. No such ancestor: the root.
 */
function treeParentIndex(
  event: EventDoc,
  template: CompiledTemplate,
  byStep: ReadonlyMap<string, readonly number[]>,
  events: readonly EventDoc[],
): number | undefined {
  const seen = new Set<string>([event.step]);
  let step = template.treeParent.get(event.step) ?? null;
  while (step !== null && !seen.has(step)) {
    seen.add(step);
    const candidates = byStep.get(step);
    if (candidates && candidates.length > 0) {
      let chosen = candidates[0]!;
      for (const c of candidates) if (events[c]!.time <= event.time) chosen = c;
      return chosen;
    }
    step = template.treeParent.get(step) ?? null;
  }
  return undefined;
}

/** A record's span lasts until the next record of another step (in time order), or is instant. */
function spanEnd(events: readonly EventDoc[], i: number): number {
  const here = events[i]!;
  for (let j = i + 1; j < events.length; j++) {
    const next = events[j]!;
    if (next.step !== here.step && next.time > here.time) return next.time;
  }
  return here.time;
}
