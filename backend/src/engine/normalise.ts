import {
  celErrorMessage, compileRecordFast, FAIL, UNSURE, type CompiledExpression, type CompiledTemplate, type RecordProgram, type SourceSpec,
  type StepSpec,
} from '../template/index.js';
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

/** A step of a source, with the fast-path programs of its `when` and its key (undefined: interpreter only). */
interface StepMatcher {
  readonly step: StepSpec;
  readonly when: RecordProgram | undefined;
  readonly keyExpr: CompiledExpression;
  readonly key: RecordProgram | undefined;
}

interface SourcePlan {
  readonly spec: SourceSpec;
  /** In declared order: the first whose `when` holds takes the record. */
  readonly steps: readonly StepMatcher[];
}

/**
 * One template's normalisation: step match (first `when` that holds, in declared order), event
 * time, dedup id, anchor key or join value. Everything a source needs is looked up once, here.
 */
export class Normaliser {
  private readonly plans = new Map<string, SourcePlan>();

  constructor(private readonly template: CompiledTemplate) {
    for (const [name, spec] of template.sources) this.plans.set(name, { spec, steps: matchersOf(template.stepsBySource.get(name) ?? []) });
  }

  /** `source` must be one of the template's sources. */
  normalise(source: string, value: unknown, raw: string | undefined): Normalised {
    const { spec, steps } = this.plans.get(source)!;
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
    const matcher = firstMatcher(steps, value);
    if (!matcher) return new Unmatched(time);
    const { step, keyExpr } = matcher;
    const id = dedupId(value, spec.id);
    let key: string;
    try {
      const fast = matcher.key === undefined ? UNSURE : matcher.key(value);
      key = keyString(fast === UNSURE || fast === FAIL ? keyExpr.run({ r: value }) : fast);
    } catch (error) {
      const what = step.kind === 'anchor' ? 'anchor key' : `join key for ${step.join.field}`;
      const template = this.template.id;
      return new Orphaned(time, {
        id: orphanId(template, step.name, id), template, step: step.name, source, time, value,
        reason: `${what} ${keyExpr.source}: ${celErrorMessage(error)}`,
      });
    }
    return { template: this.template.id, step: step.name, stepIndex: step.index, source, time, id, key, value, raw };
  }
}

function firstMatcher(steps: readonly StepMatcher[], record: unknown): StepMatcher | undefined {
  for (let i = 0; i < steps.length; i++) {
    const matcher = steps[i]!;
    const outcome = matcher.when === undefined ? UNSURE : matcher.when(record);
    if (outcome === true) return matcher;
    if (outcome === UNSURE && interpretWhen(matcher.step.when, record)) return matcher;
  }
  return undefined;
}

/**
 * The interpreter's answer for a `when` the fast path left open. Its own function: a closure in the
 * matching loop would make V8 allocate a context for every step tried, fast path or not.
 */
function interpretWhen(when: CompiledExpression, record: unknown): boolean {
  // A `when` that cannot be evaluated on this record (missing key) simply does not match.
  return quietly(() => whenHolds(when, record));
}

/** The first step of a source whose `when` holds for the record (declared order). */
export function matchStep(steps: readonly StepSpec[], context: { r: unknown }): StepSpec | undefined {
  return firstMatcher(matchersOf(steps), context.r)?.step;
}

const matchers = new WeakMap<readonly StepSpec[], readonly StepMatcher[]>();

/** A source's steps with their fast programs, compiled once per steps list. */
function matchersOf(steps: readonly StepSpec[]): readonly StepMatcher[] {
  let found = matchers.get(steps);
  if (!found) {
    found = steps.map((step): StepMatcher => {
      const keyExpr = step.kind === 'anchor' ? step.anchor : step.join.key;
      return { step, when: fastProgram(step.when), keyExpr, key: fastProgram(keyExpr) };
    });
    matchers.set(steps, found);
  }
  return found;
}

function whenHolds(when: CompiledExpression, record: unknown): boolean {
  try {
    return when.run({ r: record }) === true;
  } catch {
    return false;
  }
}

/** `WEFT_CEL_FAST=0` leaves every record expression to the interpreter. */
function fastProgram(expr: CompiledExpression): RecordProgram | undefined {
  return process.env.WEFT_CEL_FAST === '0' ? undefined : compileRecordFast(expr.ast);
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
