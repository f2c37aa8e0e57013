/**
 * The join stage of scale-out (the foreign-key join pattern): one partition of the join topic,
 * keyed by (template, join field, value). Anchor records announce here which join values their
 * anchor key may offer; supplements arrive keyed by their join value and are forwarded to the
 * anchor partition of the session that offers it, where the engine joins them with its own rules
 * (interval bounds, nearest session, late path). This stage only decides where a supplement goes.
 *
 * A supplement nobody has announced yet waits here; once the template's clock (largest event time
 * seen, marks included) is past the time the engine itself would wait, it goes to its value's home
 * partition, where the engine parks it, joins it through the late path, or reports it as an orphan.
 */
import type { CompiledTemplate } from '../template/index.js';
import type { Offer } from './route.js';

export interface Supplement {
  readonly template: string;
  readonly source: string;
  readonly field: string;
  readonly value: string;
  readonly time: number;
  readonly at: number | undefined;
  readonly record: unknown;
  readonly offers: readonly Offer[];
}

export interface Announcement {
  readonly template: string;
  readonly field: string;
  readonly value: string;
  readonly key: string;
  readonly time: number;
}

/** A supplement on its way to an anchor partition: `key` is the session's anchor key, or null (home of its value). */
export interface Forward {
  readonly supplement: Supplement;
  readonly key: string | null;
}

interface Candidate {
  key: string;
  min: number;
  max: number;
}

export interface JoinState {
  readonly announced: Array<[string, Candidate[]]>;
  readonly held: Array<[string, Supplement[]]>;
  readonly clocks: Array<[string, number]>;
}

interface Bounds {
  /** How long past a supplement's time its session may still announce (engine wait + disorder). */
  readonly holdMs: number;
  /** How long past a session's last announced time a supplement may still join it. */
  readonly keepMs: number;
}

export class JoinShard {
  private readonly announced = new Map<string, Candidate[]>();
  private readonly held = new Map<string, Supplement[]>();
  private readonly clocks = new Map<string, number>();
  private bounds = new Map<string, Bounds>();
  private readonly sweptAt = new Map<string, number>();
  private heldCount = 0;

  constructor(templates: readonly CompiledTemplate[], state?: JoinState) {
    this.setTemplates(templates);
    if (state) {
      for (const [k, v] of state.announced) this.announced.set(k, v);
      for (const [k, v] of state.held) {
        this.held.set(k, v);
        this.heldCount += v.length;
      }
      for (const [k, v] of state.clocks) this.clocks.set(k, v);
    }
  }

  get waiting(): number {
    return this.heldCount;
  }

  setTemplates(templates: readonly CompiledTemplate[]): void {
    this.bounds = new Map(templates.map((t) => {
      const disorder = Math.max(0, ...[...t.sources.values()].map((s) => s.disorderMs));
      const joins = t.steps.flatMap((s) => (s.kind === 'supplement' ? [s.join] : []));
      const low = Math.min(0, ...joins.map((j) => j.lowMs));
      const high = Math.max(0, ...joins.map((j) => j.highMs));
      const span = t.session.maxSpanMs;
      return [t.id, { holdMs: span - low + 2 * disorder, keepMs: span + high + t.session.gapMs + 2 * disorder }];
    }));
  }

  /** A session may offer `value`: remembers it, and releases the supplements that waited on it. */
  announce(a: Announcement): Forward[] {
    const id = joinKey(a.template, a.field, a.value);
    const candidates = this.announced.get(id) ?? [];
    const known = candidates.find((c) => c.key === a.key);
    if (known) {
      known.min = Math.min(known.min, a.time);
      known.max = Math.max(known.max, a.time);
    } else {
      candidates.push({ key: a.key, min: a.time, max: a.time });
      this.announced.set(id, candidates);
    }
    this.observe(a.template, a.time);
    const waiting = this.held.get(id);
    if (!waiting) return [];
    this.held.delete(id);
    this.heldCount -= waiting.length;
    return waiting.map((supplement) => ({ supplement, key: nearest(candidates, supplement.time).key }));
  }

  /** Forwards a supplement to the session offering its value (the nearest in time), or holds it. */
  supplement(s: Supplement): Forward[] {
    this.observe(s.template, s.time);
    const id = joinKey(s.template, s.field, s.value);
    const candidates = this.announced.get(id);
    if (candidates && candidates.length > 0) return [{ supplement: s, key: nearest(candidates, s.time).key }];
    // Already past its wait (the clock ran ahead of this source): no later sweep would release it.
    const bounds = this.bounds.get(s.template);
    if (bounds && this.clocks.get(s.template)! > s.time + bounds.holdMs) return [{ supplement: s, key: null }];
    const waiting = this.held.get(id);
    if (waiting) waiting.push(s);
    else this.held.set(id, [s]);
    this.heldCount++;
    return [];
  }

  /** The template's event-time clock moved (a mark, or any message): releases and forgets what it passed. */
  advance(template: string, time: number): Forward[] {
    this.observe(template, time);
    const clock = this.clocks.get(template)!;
    const bounds = this.bounds.get(template);
    // A sweep visits every entry of the template: at most once per second of event time.
    if (!bounds || clock < (this.sweptAt.get(template) ?? -Infinity) + 1000) return [];
    this.sweptAt.set(template, clock);
    const released: Forward[] = [];
    const prefix = `${template}\u0000`;
    for (const [id, waiting] of this.held) {
      if (!id.startsWith(prefix)) continue;
      const keep = waiting.filter((s) => clock <= s.time + bounds.holdMs);
      if (keep.length === waiting.length) continue;
      for (const s of waiting) if (clock > s.time + bounds.holdMs) released.push({ supplement: s, key: null });
      this.heldCount -= waiting.length - keep.length;
      if (keep.length === 0) this.held.delete(id);
      else this.held.set(id, keep);
    }
    for (const [id, candidates] of this.announced) {
      if (!id.startsWith(prefix)) continue;
      const keep = candidates.filter((c) => clock <= c.max + bounds.keepMs);
      if (keep.length === 0) this.announced.delete(id);
      else if (keep.length !== candidates.length) this.announced.set(id, keep);
    }
    return released;
  }

  snapshot(): JoinState {
    return { announced: [...this.announced], held: [...this.held], clocks: [...this.clocks] };
  }

  private observe(template: string, time: number): void {
    if (time > (this.clocks.get(template) ?? -Infinity)) this.clocks.set(template, time);
  }
}

export function joinKey(template: string, field: string, value: string): string {
  return `${template}\u0000${field}\u0000${value}`;
}

function nearest(candidates: readonly Candidate[], time: number): Candidate {
  let best = candidates[0]!;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = time < c.min ? c.min - time : time > c.max ? time - c.max : 0;
    // Ties go to the latest session (a later announcement of the same value is the likelier owner).
    if (d < bestDistance || (d === bestDistance && c.max >= best.max)) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
