import { celErrorMessage, toPlain, type CompiledExpression, type CompiledTemplate, type ExplainPart, type FieldSpec } from '../template/index.js';
import type { SessionState } from './session.js';
import type { FieldScalar, FieldValue } from './types.js';

export interface Evaluation {
  readonly fields: Record<string, FieldValue>;
  readonly verdict: string | null;
  readonly severity: CompiledTemplate['verdicts'][number]['severity'] | null;
  readonly explain: string | null;
}

type Context = Record<string, unknown>;

/** Per template: `all.<step>` and `count.<step>` for a session with no records, copied per context. */
const emptyMaps = new WeakMap<CompiledTemplate, { all: Record<string, unknown[]>; count: Record<string, bigint> }>();
const NO_RECORDS: readonly unknown[] = Object.freeze([]);

function empties(template: CompiledTemplate) {
  let maps = emptyMaps.get(template);
  if (!maps) {
    maps = {
      all: Object.fromEntries(template.steps.map((s) => [s.name, NO_RECORDS as unknown[]])),
      count: Object.fromEntries(template.steps.map((s) => [s.name, 0n])),
    };
    emptyMaps.set(template, maps);
  }
  return maps;
}

/** The CEL context of DESIGN.md for a session; `fields` is filled as fields are evaluated. */
export function sessionContext(template: CompiledTemplate, session: SessionState): Context {
  const first: Record<string, unknown> = {};
  const last: Record<string, unknown> = {};
  const time: Record<string, bigint> = {};
  const { all: noRecords, count: zeros } = empties(template);
  const all = { ...noRecords };
  const count = { ...zeros };
  const present: string[] = [];
  for (const e of session.events) {
    const name = e.step;
    if (count[name] === 0n) {
      first[name] = e.value;
      time[name] = BigInt(e.time);
      all[name] = [];
      present.push(name);
    }
    last[name] = e.value;
    all[name]!.push(e.value);
    count[name]! += 1n;
  }
  return {
    key: session.key,
    start: BigInt(session.start),
    end: BigInt(session.end),
    duration: BigInt(session.end - session.start),
    first,
    last,
    all,
    count,
    time,
    fields: {},
    steps: present,
  };
}

/** Evaluates `specs` in order into `context.fields`; a field whose expression fails stays absent. */
export function evaluateFields(specs: readonly FieldSpec[], context: Context): Record<string, FieldValue> {
  const fields = context.fields as Record<string, FieldValue>;
  quietly(() => {
    for (const spec of specs) {
      const value = fieldValue(attempt(spec.expr, context));
      if (value !== undefined) fields[spec.name] = value;
    }
  });
  return fields;
}

export function evaluate(template: CompiledTemplate, session: SessionState): Evaluation {
  const context = sessionContext(template, session);
  const fields = evaluateFields(template.fields, context);
  const verdict = quietly(() => template.verdicts.find((v) => attempt(v.when, context) === true));
  if (!verdict) return { fields, verdict: null, severity: null, explain: null };
  return { fields, verdict: verdict.id, severity: verdict.severity, explain: render(verdict.explain, context) };
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
function attempt(expr: CompiledExpression, context: Context): unknown {
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
