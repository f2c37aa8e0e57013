import { celErrorMessage, compileRecordFast, FAIL, UNSURE, type CompiledExpression, type CompiledTemplate, type RecordProgram, type StepSpec } from '../template/index.js';
import { quietly } from './evaluate.js';
import { hash64 } from './hash.js';
import { parseEventTime, readPath } from './time.js';
import type { NormalEvent, OrphanDoc } from './types.js';

/**
 * What one template makes of one record: an event (the common case, returned as the event itself,
 * which sessions then hold), or one of these.
 */
export type Normalised = NormalEvent | Unmatched | Orphaned | Rejected;

/** Matches no step; its time still moves the source's watermark. */
export class Unmatched {
  constructor(readonly time: number) {}
}

/** Matches a step but its key cannot be read. */
export class Orphaned {
  constructor(readonly time: number, readonly orphan: OrphanDoc) {}
}

/** Not a record at all (not an object, no parsable time). */
export class Rejected {
  constructor(readonly reason: string) {}
}

/** Step match (first `when` that holds, in declared order), event time, dedup id, anchor key or join value. */
export function normalise(template: CompiledTemplate, source: string, value: unknown): Normalised {
  const spec = template.sources.get(source)!;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return new Rejected('record is not a JSON object');
  }
  const rawTime = readPath(value, spec.time);
  const time = parseEventTime(rawTime);
  if (time === undefined) {
    return new Rejected(rawTime === undefined
      ? `no time field "${spec.time}"`
      : `time field "${spec.time}" is not epoch ms, epoch s or ISO-8601: ${JSON.stringify(rawTime).slice(0, 60)}`);
  }
  const step = firstMatch(template.stepsBySource.get(source) ?? [], value);
  if (!step) return new Unmatched(time);
  const keyExpr = step.kind === 'anchor' ? step.anchor : step.join.key;
  const id = dedupId(value, spec.id);
  let key: string;
  try {
    const fast = recordOutcome(keyExpr, value);
    key = keyString(fast === UNSURE || fast === FAIL ? keyExpr.run({ r: value }) : fast);
  } catch (error) {
    const what = step.kind === 'anchor' ? 'anchor key' : `join key for ${step.join.field}`;
    return new Orphaned(time, {
      id: orphanId(template.id, step.name, id), template: template.id, step: step.name, source, time, value,
      reason: `${what} ${keyExpr.source}: ${celErrorMessage(error)}`,
    });
  }
  return { template: template.id, step: step.name, stepIndex: step.index, source, time, id, key, value };
}

/** The first step of a source whose `when` holds for the record (declared order). */
export function matchStep(steps: readonly StepSpec[], context: { r: unknown }): StepSpec | undefined {
  return firstMatch(steps, context.r);
}

function firstMatch(steps: readonly StepSpec[], record: unknown): StepSpec | undefined {
  for (const step of steps) {
    const outcome = recordOutcome(step.when, record);
    if (outcome === true) return step;
    if (outcome !== UNSURE) continue;
    // A `when` that cannot be evaluated on this record (missing key) simply does not match.
    if (quietly(() => whenHolds(step.when, record))) return step;
  }
  return undefined;
}

function whenHolds(when: CompiledExpression, record: unknown): boolean {
  try {
    return when.run({ r: record }) === true;
  } catch {
    return false;
  }
}

const recordPrograms = new WeakMap<CompiledExpression, RecordProgram | null>();

/** The fast path's outcome for a record expression (FAIL / UNSURE included); UNSURE when it has none. */
function recordOutcome(expr: CompiledExpression, record: unknown): unknown {
  let program = recordPrograms.get(expr);
  if (program === undefined) {
    program = process.env.WEFT_CEL_FAST === '0' ? null : (compileRecordFast(expr.ast) ?? null);
    recordPrograms.set(expr, program);
  }
  return program === null ? UNSURE : program(record);
}

function keyString(value: unknown): string {
  if (typeof value === 'string') {
    if (value === '') throw new Error('is empty');
    return value;
  }
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw new Error(`is ${value === null ? 'null' : typeof value}, not a string or number`);
}

export function orphanId(template: string, step: string, dedup: string): string {
  return hash64(`${template}\u0000${step}\u0000${dedup}`);
}

/** The source's id field when declared and present, else a hash of the record. */
export function dedupId(value: unknown, idField: string | undefined): string {
  if (idField !== undefined) {
    const id = readPath(value, idField);
    if (typeof id === 'string' || typeof id === 'number') return String(id);
  }
  return '#' + hash64(JSON.stringify(value));
}
