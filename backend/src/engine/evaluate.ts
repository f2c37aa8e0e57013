import {
  celErrorMessage, compileSessionFast, ENRICHMENT_ERROR_FIELD, ENRICHMENT_FIELD, FAIL, STEP_MAPS, toPlain, UNSURE,
  type CompiledExpression, type CompiledTemplate, type ExplainPart, type FieldSpec, type Presence, type SessionProgram,
  type SessionScope,
} from '../template/index.js';
import type { HeldEvent, SessionState } from './session.js';
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
const NO_VALUES: readonly string[] = Object.freeze([]);

type Context = Record<string, unknown>;

type StepMap = (typeof STEP_MAPS)[number];

/**
 * Which parts of the session context a set of expressions reads, for the expressions the fast path
 * leaves to the interpreter: per step map, the steps read (by step index), and whether the
 * `steps` list is needed.
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

interface Scopes {
  /** Fields, verdicts and explanations: what a fire evaluates. */
  readonly fire: Scope;
  /** Join fields only: what announcing join values evaluates. */
  readonly join: Scope;
  /**
   * The fast programs of the template's fields, join fields and verdict conditions, by position:
   * these run on every evaluation, and a list read by position is cheaper than a map lookup each.
   */
  readonly fields: readonly Fast[];
  readonly joinFields: readonly Fast[];
  readonly verdicts: readonly Fast[];
}

type Fast = SessionProgram | undefined;

const scopes = new WeakMap<CompiledTemplate, Scopes>();

function scopesOf(template: CompiledTemplate): Scopes {
  let found = scopes.get(template);
  if (!found) {
    const explainHoles = template.verdicts.flatMap((v) => v.explain.filter((p): p is CompiledExpression => typeof p !== 'string'));
    const fire = [
      ...template.fields.map((f) => f.expr), ...template.enrich.map((e) => e.key), ...template.verdicts.map((v) => v.when), ...explainHoles,
    ];
    const join = template.joinFields.map((f) => f.expr);
    const programs = fastPrograms(template, [...fire, ...join]);
    found = {
      fire: new Scope(template, planFor(template, fire), programs),
      join: new Scope(template, planFor(template, join), programs),
      fields: template.fields.map((f) => programs.get(f.expr)),
      joinFields: template.joinFields.map((f) => programs.get(f.expr)),
      verdicts: template.verdicts.map((v) => programs.get(v.when)),
    };
    scopes.set(template, found);
  }
  return found;
}

/** `WEFT_CEL_FAST=0` runs every expression through the CEL interpreter (to compare the two). */
const FAST_PATH = process.env.WEFT_CEL_FAST !== '0';

/** The fast-path closures of the expressions that have one (see template/fastcel.ts). */
function fastPrograms(template: CompiledTemplate, expressions: readonly CompiledExpression[]): Map<CompiledExpression, SessionProgram> {
  const stepIndex = (name: string) => template.stepsByName.get(name)?.index;
  const programs = new Map<CompiledExpression, SessionProgram>();
  if (!FAST_PATH) return programs;
  for (const expr of expressions) {
    const program = compileSessionFast(expr.ast, stepIndex);
    if (program) programs.set(expr, program);
  }
  return programs;
}

/** CEL ints for counts: the common small ones are shared instead of allocated per context. */
const SMALL_INTS = Array.from({ length: 64 }, (_, i) => BigInt(i));
const celInt = (n: number) => SMALL_INTS[n] ?? BigInt(n);
const NO_RECORDS: readonly unknown[] = Object.freeze([]);

/**
 * One evaluation's view of a session: where each step's first and last record sit, its count, and
 * the fields evaluated so far. The fast path reads it directly; the CEL context of DESIGN.md is
 * built from it only when an expression needs the interpreter. One per template and purpose,
 * reloaded for each evaluation (evaluations never nest).
 */
class Scope implements SessionScope {
  key = '';
  start = 0;
  end = 0;
  fields: Record<string, FieldValue> = {};
  private events: readonly HeldEvent[] = [];
  private readonly firstAt: Int32Array;
  private readonly lastAt: Int32Array;
  private readonly counts: Uint32Array;
  private context: Context | undefined;
  private readonly presence: Presence;

  constructor(
    private readonly template: CompiledTemplate,
    private readonly plan: ContextPlan,
    private readonly programs: ReadonlyMap<CompiledExpression, SessionProgram>,
  ) {
    const n = template.steps.length;
    this.firstAt = new Int32Array(n);
    this.lastAt = new Int32Array(n);
    this.counts = new Uint32Array(n);
    this.presence = {
      step: (name) => {
        const step = this.template.stepsByName.get(name);
        return step !== undefined && this.counts[step.index]! > 0;
      },
      field: (name) => this.fields[name] !== undefined,
    };
  }

  load(session: SessionState): this {
    this.key = session.key;
    this.start = session.start;
    this.end = session.end;
    this.fields = {};
    this.context = undefined;
    const events = (this.events = session.events);
    this.counts.fill(0);
    for (let k = 0; k < events.length; k++) {
      const i = events[k]!.stepIndex;
      if (this.counts[i]!++ === 0) this.firstAt[i] = k;
      this.lastAt[i] = k;
    }
    return this;
  }

  first(step: number): unknown {
    return this.counts[step]! > 0 ? this.events[this.firstAt[step]!]!.value : undefined;
  }

  last(step: number): unknown {
    return this.counts[step]! > 0 ? this.events[this.lastAt[step]!]!.value : undefined;
  }

  count(step: number): number {
    return this.counts[step]!;
  }

  time(step: number): number | undefined {
    return this.counts[step]! > 0 ? this.events[this.firstAt[step]!]!.time : undefined;
  }

  field(name: string): unknown {
    return this.fields[name];
  }

  /** The expression's value, or FAIL when CEL raises an error (a failed field, an unmatched verdict). */
  outcome(expr: CompiledExpression): unknown {
    return this.outcomeWith(expr, this.programs.get(expr));
  }

  /** {@link outcome} with the expression's fast program already looked up. */
  outcomeWith(expr: CompiledExpression, fast: Fast): unknown {
    if (fast !== undefined) {
      const value = fast(this);
      if (value !== UNSURE) return value;
    }
    if (expr.fails?.(this.presence)) return FAIL;
    return this.interpret(expr);
  }

  /** Kept apart from `outcome`: its closure would make every call allocate a context, fast or not. */
  private interpret(expr: CompiledExpression): unknown {
    return quietly(() => {
      try {
        return expr.run(this.celContext());
      } catch {
        return FAIL;
      }
    });
  }

  /** The CEL error the expression raises (explanations show it in place of the value). */
  errorOf(expr: CompiledExpression): string {
    try {
      expr.run(this.celContext());
      return 'no value';
    } catch (error) {
      return celErrorMessage(error);
    }
  }

  /** The CEL context of DESIGN.md, limited to what the plan says is read; `fields` is the live object. */
  private celContext(): Context {
    if (this.context) {
      this.context.fields = this.fields;
      return this.context;
    }
    const { template, plan } = this;
    const { first: wantFirst, last: wantLast, all: wantAll, count: wantCount, time: wantTime } = plan.maps;
    const context: Context = {
      key: this.key,
      start: BigInt(this.start),
      end: BigInt(this.end),
      duration: BigInt(this.end - this.start),
      fields: this.fields,
    };
    const first: Record<string, unknown> = {};
    const last: Record<string, unknown> = {};
    const time: Record<string, bigint> = {};
    const all: Record<string, unknown[]> = {};
    const count: Record<string, bigint> = {};
    for (const step of template.steps) {
      const i = step.index;
      const present = this.counts[i]! > 0;
      if (present && wantFirst?.[i]) first[step.name] = this.first(i);
      if (present && wantLast?.[i]) last[step.name] = this.last(i);
      if (present && wantTime?.[i]) time[step.name] = BigInt(this.time(i)!);
      if (wantCount?.[i]) count[step.name] = celInt(this.counts[i]!);
      if (wantAll?.[i]) all[step.name] = present ? this.events.filter((e) => e.stepIndex === i).map((e) => e.value) : (NO_RECORDS as unknown[]);
    }
    if (wantFirst) context.first = first;
    if (wantLast) context.last = last;
    if (wantTime) context.time = time;
    if (wantAll) context.all = all;
    if (wantCount) context.count = count;
    // `steps`: the steps present, in the order they first occur.
    if (plan.steps) context.steps = this.events.filter((e, k) => this.firstAt[e.stepIndex] === k).map((e) => e.step);
    this.context = context;
    return context;
  }
}

/** The values of the join fields (and the fields they read) for announcing join values. */
export function joinFieldValues(template: CompiledTemplate, session: SessionState): Record<string, FieldValue> {
  const scopes = scopesOf(template);
  const scope = scopes.join.load(session);
  evaluateFields(template.joinFields, scopes.joinFields, scope);
  return scope.fields;
}

/** Evaluates `specs` in order into the scope's fields; a field whose expression fails stays absent. */
function evaluateFields(specs: readonly FieldSpec[], programs: readonly Fast[], scope: Scope): void {
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const raw = scope.outcomeWith(spec.expr, programs[i]);
    if (raw === FAIL) continue;
    const value = fieldValue(raw);
    if (value !== undefined) scope.fields[spec.name] = value;
  }
}

export function evaluate(template: CompiledTemplate, session: SessionState, view?: EnrichmentView): Evaluation {
  const scopes = scopesOf(template);
  const scope = scopes.fire.load(session);
  evaluateFields(template.fields, scopes.fields, scope);
  const pending = template.enrich.length === 0 ? NOTHING_PENDING : enrich(template, scope, view);
  const fields = scope.fields;
  const verdicts = template.verdicts;
  for (let i = 0; i < verdicts.length; i++) {
    const verdict = verdicts[i]!;
    if (scope.outcomeWith(verdict.when, scopes.verdicts[i]) !== true) continue;
    return { fields, verdict: verdict.id, severity: verdict.severity, explain: render(verdict.explain, scope), pending };
  }
  return { fields, verdict: null, severity: null, explain: null, pending };
}

/**
 * Data widening: adds the columns of each enrichment's row as fields (from what the caller's view
 * knows), marks the session `enrichment: pending` / `failed`, and returns the keys still unknown.
 */
function enrich(template: CompiledTemplate, scope: Scope, view: EnrichmentView | undefined): PendingEnrichment[] {
  const fields = scope.fields;
  const pending: PendingEnrichment[] = [];
  const failures: string[] = [];
  for (const spec of template.enrich) {
    const raw = scope.outcome(spec.key);
    const key = raw === FAIL ? undefined : lookupKey(raw);
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
  if (value === undefined) return NO_VALUES;
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

function render(parts: readonly ExplainPart[], scope: Scope): string {
  let text = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    const value = scope.outcome(part);
    text += value === FAIL ? `<${part.source}: ${scope.errorOf(part)}>` : String(toPlain(value));
  }
  return text;
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
