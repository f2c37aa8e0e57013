/**
 * Routing for scale-out: which internal partition a record goes to. Uses only the compiled
 * template (step predicates, key expressions, join fields), never engine internals, so the engine
 * stays the one place that decides sessions; this only decides *where* a record meets its session.
 */
import { matchStep, parseEventTime, readPath } from '../engine/index.js';
import { toPlain, type CompiledTemplate } from '../template/index.js';

/** Why a record is refused before any engine sees it (contract 2's `reason` label). */
export type RejectReason = 'malformed' | 'no_time' | 'unknown_source' | 'no_step';

/** A join value a record may give its session: `field` = `value`. */
export interface Offer {
  readonly field: string;
  readonly value: string;
}

export type Route =
  | { readonly kind: 'rejected'; readonly reason: RejectReason; readonly detail: string }
  /** Matches no step of this template; still moves the source's watermark. */
  | { readonly kind: 'unmatched'; readonly time: number }
  /** Goes to the anchor partition of `key`; `offers`: join values it may announce. */
  | { readonly kind: 'anchor'; readonly time: number; readonly step: string; readonly key: string; readonly offers: readonly Offer[] }
  /** Goes to the join partition of `field` = `value`, which forwards it to its session's anchor key. */
  | { readonly kind: 'supplement'; readonly time: number; readonly step: string; readonly field: string; readonly value: string; readonly offers: readonly Offer[] }
  /** Its key expression fails: the engine will report it as an orphan; any partition will do. */
  | { readonly kind: 'keyless'; readonly time: number; readonly step: string };

export class Router {
  private readonly joinFields: ReadonlySet<string>;
  private readonly emptyAll: Record<string, unknown[]>;
  private readonly emptyCount: Record<string, bigint>;

  constructor(readonly template: CompiledTemplate) {
    this.joinFields = new Set(template.steps.flatMap((s) => (s.kind === 'supplement' ? [s.join.field] : [])));
    this.emptyAll = Object.fromEntries(template.steps.map((s) => [s.name, []]));
    this.emptyCount = Object.fromEntries(template.steps.map((s) => [s.name, 0n]));
  }

  route(source: string, value: unknown): Route {
    const spec = this.template.sources.get(source);
    if (!spec) return { kind: 'rejected', reason: 'unknown_source', detail: `unknown source "${source}"` };
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      return { kind: 'rejected', reason: 'malformed', detail: 'record is not a JSON object' };
    }
    const rawTime = readPath(value, spec.time);
    const time = parseEventTime(rawTime);
    if (time === undefined) {
      return {
        kind: 'rejected',
        reason: 'no_time',
        detail: rawTime === undefined ? `no time field "${spec.time}"` : `time field "${spec.time}" is not epoch ms, epoch s or ISO-8601`,
      };
    }
    const context = { r: value };
    const step = matchStep(this.template.stepsBySource.get(source) ?? [], context);
    if (!step) return { kind: 'unmatched', time };
    let key: string | undefined;
    try {
      key = keyString(step.kind === 'anchor' ? step.anchor.run(context) : step.join.key.run(context));
    } catch {
      key = undefined;
    }
    if (key === undefined) return { kind: 'keyless', time, step: step.name };
    const offers = this.offers(step.name, time, key, value);
    if (step.kind === 'anchor') return { kind: 'anchor', time, step: step.name, key, offers };
    return { kind: 'supplement', time, step: step.name, field: step.join.field, value: key, offers };
  }

  /**
   * The join values this one record would give a session holding only it: the session's join
   * fields evaluated over a one-record context. Over-approximates nothing the template computes
   * from a single record; a join field that needs two records together is not announced (README
   * "Limits").
   */
  offers(step: string, time: number, key: string, value: unknown): Offer[] {
    if (this.joinFields.size === 0) return [];
    const fields: Record<string, unknown> = {};
    const context = {
      key, start: BigInt(time), end: BigInt(time), duration: 0n,
      first: { [step]: value }, last: { [step]: value },
      all: { ...this.emptyAll, [step]: [value] }, count: { ...this.emptyCount, [step]: 1n },
      time: { [step]: BigInt(time) }, fields, steps: [step],
    };
    const offers: Offer[] = [];
    // A one-record session holds only `step`: skip what the template's presence analysis knows
    // must fail then (a CEL error costs a stack capture and a formatted message per record).
    const presence = { step: (name: string) => name === step, field: (name: string) => fields[name] !== undefined };
    for (const spec of this.template.joinFields) {
      if (spec.expr.fails?.(presence)) continue;
      let plain: unknown;
      try {
        plain = toPlain(spec.expr.run(context));
      } catch {
        continue;
      }
      if (plain === null || plain === undefined) continue;
      fields[spec.name] = plain;
      if (!this.joinFields.has(spec.name)) continue;
      for (const v of Array.isArray(plain) ? plain : [plain]) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') offers.push({ field: spec.name, value: String(v) });
      }
    }
    return offers;
  }
}

function keyString(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}
