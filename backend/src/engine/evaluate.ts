import { celErrorMessage, toPlain, type CompiledTemplate, type ExplainPart, type FieldSpec } from '../template/index.js';
import type { SessionState } from './session.js';
import type { FieldScalar, FieldValue } from './types.js';

export interface Evaluation {
  readonly fields: Record<string, FieldValue>;
  readonly verdict: string | null;
  readonly severity: CompiledTemplate['verdicts'][number]['severity'] | null;
  readonly explain: string | null;
}

type Context = Record<string, unknown>;

/** The CEL context of DESIGN.md for a session; `fields` is filled as fields are evaluated. */
export function sessionContext(template: CompiledTemplate, session: SessionState): Context {
  const first: Record<string, unknown> = {};
  const last: Record<string, unknown> = {};
  const all: Record<string, unknown[]> = {};
  const count: Record<string, bigint> = {};
  const time: Record<string, bigint> = {};
  const firstTime: number[] = [];
  for (const step of template.steps) {
    all[step.name] = [];
    count[step.name] = 0n;
  }
  const events = [...session.events].sort((a, b) => a.time - b.time);
  const present: string[] = [];
  for (const e of events) {
    const name = template.steps[e.step]!.name;
    if (firstTime[e.step] === undefined) {
      firstTime[e.step] = e.time;
      first[name] = e.value;
      time[name] = BigInt(e.time);
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
  for (const spec of specs) {
    const value = fieldValue(safeRun(() => spec.expr.run(context)));
    if (value !== undefined) fields[spec.name] = value;
  }
  return fields;
}

export function evaluate(template: CompiledTemplate, session: SessionState): Evaluation {
  const context = sessionContext(template, session);
  const fields = evaluateFields(template.fields, context);
  for (const verdict of template.verdicts) {
    if (safeRun(() => verdict.when.run(context)) === true) {
      return { fields, verdict: verdict.id, severity: verdict.severity, explain: render(verdict.explain, context) };
    }
  }
  return { fields, verdict: null, severity: null, explain: null };
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
      const value = safeRun(() => part.run(context));
      return value === undefined ? `<${part.source}: ${lastError}>` : String(toPlain(value));
    })
    .join('');
}

let lastError = '';
function safeRun(run: () => unknown): unknown {
  try {
    return run();
  } catch (error) {
    lastError = celErrorMessage(error);
    return undefined;
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
