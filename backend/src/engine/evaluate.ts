import { celErrorMessage, ENRICHMENT_ERROR_FIELD, ENRICHMENT_FIELD, STEP_MAPS, toPlain, type CompiledExpression, type CompiledTemplate, type ExplainPart, type FieldSpec, type Presence } from '../template/index.js';
import type { SessionState } from './session.js';
import type { EnrichmentView, FieldScalar, FieldValue } from './types.js';

export interface Evaluation {
  readonly fields: Record<string, FieldValue>;
  readonly verdict: string | null;
  readonly severity: CompiledTemplate['verdicts'][number]['severity'] | null;
  readonly explain: string | null;
  /** Enrichment keys the view did not know yet (the session is `enrichment: pending`). */
  readonly pending: readonly PendingEnrichment[];
}

export interface PendingEnrichment {
  readonly enrichment: string;
  readonly key: string;
}

const NOTHING_PENDING: readonly PendingEnrichment[] = Object.freeze([]);

type Context = Record<string, unknown>;

type StepMap = (typeof STEP_MAPS)[number];

/**
 * Which parts of the session context a set of expressions reads. A context is built for every
 * evaluation, so it holds only those: per step map, the steps read (by step index), and whether
 * the `steps` list is needed.
 */
interface ContextPlan {
  readonly maps: Readonly<Record<StepMap, readonly boolean[] | undefined>>;
  readonly steps: boolean;
}

function planFor(template: CompiledTemplate, expressions: readonly CompiledExpression[]): ContextPlan {
  const maps = {} as Record<StepMap, boolean[] | undefined>;
  for (const map of STEP_MAPS) {
    const users = expressions.filter((e) => e.variables.has(map));
    if (users.length === 0) continue;
    const whole = users.some((e) => e.wholeMaps.has(map));
    maps[map] = template.steps.map((s) => whole || users.some((e) => e.stepRefs.has(s.name)));
  }
  return { maps, steps: expressions.some((e) => e.variables.has('steps')) };
}

interface Plans {
  /** Fields, verdicts and explanations: what a fire evaluates. */
  readonly fire: ContextPlan;
  /** Join fields only: what announcing join values evaluates. */
  readonly join: ContextPlan;
}

const plans = new WeakMap<CompiledTemplate, Plans>();

function plansOf(template: CompiledTemplate): Plans {
  let found = plans.get(template);
  if (!found) {
    const explainHoles = template.verdicts.flatMap((v) => v.explain.filter((p): p is CompiledExpression => typeof p !== 'string'));
    found = {
      fire: planFor(template, [
        ...template.fields.map((f) => f.expr), ...template.enrich.map((e) => e.key), ...template.verdicts.map((v) => v.when), ...explainHoles,
      ]),
      join: planFor(template, template.joinFields.map((f) => f.expr)),
    };
    plans.set(template, found);
  }
  return found;
}

/** CEL ints for counts: the common small ones are shared instead of allocated per context. */
const SMALL_INTS = Array.from({ length: 64 }, (_, i) => BigInt(i));
const celInt = (n: number) => SMALL_INTS[n] ?? BigInt(n);
const NO_RECORDS: readonly unknown[] = Object.freeze([]);

/** An evaluation context, and what the session holds (for skipping certain failures). */
interface EvaluationContext {
  readonly context: Context;
  readonly presence: Presence;
}

/** The CEL context of DESIGN.md for a session, limited to what `plan` says is read. */
function buildContext(template: CompiledTemplate, session: SessionState, plan: ContextPlan): EvaluationContext {
  const { first: wantFirst, last: wantLast, all: wantAll, count: wantCount, time: wantTime } = plan.maps;
  const counts = new Uint32Array(template.steps.length);
  const first: Record<string, unknown> = {};
  const last: Record<string, unknown> = {};
  const all: Record<string, unknown[]> = {};
  const time: Record<string, bigint> = {};
  const present: string[] = [];
  for (const e of session.events) {
    const i = e.stepIndex;
    if (counts[i]!++ === 0) {
      present.push(e.step);
      if (wantFirst?.[i]) first[e.step] = e.value;
      if (wantTime?.[i]) time[e.step] = BigInt(e.time);
    }
    if (wantLast?.[i]) last[e.step] = e.value;
    if (wantAll?.[i]) (all[e.step] ??= []).push(e.value);
  }
  const context: Context = {
    key: session.key,
    start: BigInt(session.start),
    end: BigInt(session.end),
    duration: BigInt(session.end - session.start),
    fields: {},
  };
  if (wantFirst) context.first = first;
  if (wantLast) context.last = last;
  if (wantTime) context.time = time;
  if (wantAll) {
    template.steps.forEach((s, i) => {
      if (wantAll[i] && counts[i] === 0) all[s.name] = NO_RECORDS as unknown[];
    });
    context.all = all;
  }
  if (wantCount) {
    const count: Record<string, bigint> = {};
    template.steps.forEach((s, i) => {
      if (wantCount[i]) count[s.name] = celInt(counts[i]!);
    });
    context.count = count;
  }
  if (plan.steps) context.steps = present;
  const fields = context.fields as Record<string, unknown>;
  const presence: Presence = {
    step: (name) => {
      const step = template.stepsByName.get(name);
      return step !== undefined && counts[step.index]! > 0;
    },
    field: (name) => fields[name] !== undefined,
  };
  return { context, presence };
}

/** The values of the join fields (and the fields they read) for announcing join values. */
export function joinFieldValues(template: CompiledTemplate, session: SessionState): Record<string, FieldValue> {
  return evaluateFields(template.joinFields, buildContext(template, session, plansOf(template).join));
}

/** Evaluates `specs` in order into `context.fields`; a field whose expression fails stays absent. */
function evaluateFields(specs: readonly FieldSpec[], { context, presence }: EvaluationContext): Record<string, FieldValue> {
  const fields = context.fields as Record<string, FieldValue>;
  quietly(() => {
    for (const spec of specs) {
      const value = fieldValue(attempt(spec.expr, context, presence));
      if (value !== undefined) fields[spec.name] = value;
    }
  });
  return fields;
}

export function evaluate(template: CompiledTemplate, session: SessionState, view?: EnrichmentView): Evaluation {
  const evaluation = buildContext(template, session, plansOf(template).fire);
  const fields = evaluateFields(template.fields, evaluation);
  const pending = template.enrich.length === 0 ? NOTHING_PENDING : enrich(template, evaluation, view);
  const { context, presence } = evaluation;
  const verdict = quietly(() => template.verdicts.find((v) => attempt(v.when, context, presence) === true));
  if (!verdict) return { fields, verdict: null, severity: null, explain: null, pending };
  return { fields, verdict: verdict.id, severity: verdict.severity, explain: render(verdict.explain, context), pending };
}

/**
 * Data widening: adds the columns of each enrichment's row as fields (from what the caller's view
 * knows), marks the session `enrichment: pending` / `failed`, and returns the keys still unknown.
 */
function enrich(template: CompiledTemplate, { context, presence }: EvaluationContext, view: EnrichmentView | undefined): PendingEnrichment[] {
  const fields = context.fields as Record<string, FieldValue>;
  const pending: PendingEnrichment[] = [];
  const failures: string[] = [];
  for (const spec of template.enrich) {
    const key = lookupKey(quietly(() => attempt(spec.key, context, presence)));
    if (key === undefined) continue;
    const outcome = view?.outcome(template.id, spec.name, key);
    if (outcome === undefined) pending.push({ enrichment: spec.name, key });
    else if (outcome.kind === 'failed') failures.push(`${spec.name}: ${outcome.reason}`);
    else if (outcome.kind === 'found') {
      for (const [field, column] of spec.fields) {
        const value = fieldValue(outcome.row[column]);
        if (value !== undefined) fields[field] = value;
      }
    } else if (spec.onMiss !== 'absent') Object.assign(fields, spec.onMiss);
  }
  if (pending.length > 0) fields[ENRICHMENT_FIELD] = 'pending';
  else if (failures.length > 0) fields[ENRICHMENT_FIELD] = 'failed';
  if (failures.length > 0) fields[ENRICHMENT_ERROR_FIELD] = failures.join('; ');
  return pending;
}

/** A lookup key is a non-empty string or a number; anything else means "nothing to look up". */
function lookupKey(raw: unknown): string | undefined {
  const value = toPlain(raw);
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** The join values a session currently offers for `field` (a list field offers each element). */
export function joinValues(fields: Readonly<Record<string, FieldValue>>, field: string): readonly string[] {
  const value = fields[field];
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

function render(parts: readonly ExplainPart[], context: Context): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      try {
        return String(toPlain(part.run(context)));
      } catch (error) {
        return `<${part.source}: ${celErrorMessage(error)}>`;
      }
    })
    .join('');
}

/** A failing expression means "absent" / "no match"; the error itself is not needed. */
function attempt(expr: CompiledExpression, context: Context, presence: Presence): unknown {
  if (expr.fails?.(presence)) return undefined;
  try {
    return expr.run(context);
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` with stack capture off: absent steps make CEL throw often, and capturing a stack
 * trace for each of those errors cost more than the whole evaluation.
 */
export function quietly<T>(work: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return work();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function fieldValue(raw: unknown): FieldValue | undefined {
  const value = toPlain(raw);
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const scalars = value.map(scalar).filter((v): v is FieldScalar => v !== undefined);
    return scalars;
  }
  return scalar(value);
}

function scalar(value: unknown): FieldScalar | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value === null || value === undefined) return undefined;
  return JSON.stringify(value);
}
