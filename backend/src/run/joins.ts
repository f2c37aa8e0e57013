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
  /** Largest event time seen per template and source (`template\0source`). */
  readonly maxTimes: Array<[string, number]>;
}

/** Per template: the watermark rules the engine applies, so this stage waits exactly as long. */
interface Bounds {
  /** Anchor sources and their disorder: the anchor watermark is the minimum over them. */
  readonly anchor: ReadonlyArray<{ source: string; disorderMs: number; idle: boolean }>;
  /** Supplement sources and their disorder. */
  readonly supplement: ReadonlyArray<{ source: string; disorderMs: number; idle: boolean }>;
  /** A supplement waits until the anchor watermark passes its time + this (the engine's join expiry). */
  readonly holdMs: number;
  /** An announcement is kept until both watermarks pass its last time + this. */
  readonly keepMs: number;
}

export class JoinShard {
  private readonly announced = new Map<string, Candidate[]>();
  private readonly held = new Map<string, Supplement[]>();
  private readonly maxTimes = new Map<string, number>();
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
      for (const [k, v] of state.maxTimes ?? []) this.maxTimes.set(k, v);
    }
  }

  get waiting(): number {
    return this.heldCount;
  }

  setTemplates(templates: readonly CompiledTemplate[]): void {
    this.bounds = new Map(templates.map((t) => {
      const supplements = t.steps.flatMap((s) => (s.kind === 'supplement' ? [s] : []));
      const spec = (source: string) => {
        const src = t.sources.get(source)!;
        return { source, disorderMs: src.disorderMs, idle: src.idleMs !== undefined };
      };
      const low = Math.min(0, ...supplements.map((s) => s.join.lowMs));
      const high = Math.max(0, ...supplements.map((s) => s.join.highMs));
      const disorder = Math.max(0, ...[...t.sources.values()].map((s) => s.disorderMs));
      return [t.id, {
        anchor: t.anchorSources.map(spec),
        supplement: [...new Set(supplements.map((s) => s.source))].map(spec),
        holdMs: t.session.maxSpanMs - low,
        keepMs: t.session.maxSpanMs + t.session.gapMs + high + disorder,
      }];
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
    const waiting = this.held.get(id);
    if (!waiting) return [];
    this.held.delete(id);
    this.heldCount -= waiting.length;
    return waiting.map((supplement) => ({ supplement, key: nearest(candidates, supplement.time).key }));
  }

  /** Forwards a supplement to the session offering its value (the nearest in time), or holds it. */
  supplement(s: Supplement): Forward[] {
    this.observe(s.template, s.source, s.time);
    const id = joinKey(s.template, s.field, s.value);
    const candidates = this.announced.get(id);
    if (candidates && candidates.length > 0) return [{ supplement: s, key: nearest(candidates, s.time).key }];
    // Already past its wait (the anchor sources ran ahead): no later sweep would release it.
    const bounds = this.bounds.get(s.template);
    if (bounds && this.watermark(s.template, bounds.anchor) > s.time + bounds.holdMs) return [{ supplement: s, key: null }];
    const waiting = this.held.get(id);
    if (waiting) waiting.push(s);
    else this.held.set(id, [s]);
    this.heldCount++;
    return [];
  }

  /** A source's event time moved (a mark): releases the supplements and forgets the announcements it passed. */
  advance(template: string, source: string, time: number): Forward[] {
    this.observe(template, source, time);
    const bounds = this.bounds.get(template);
    if (!bounds) return [];
    const anchor = this.watermark(template, bounds.anchor);
    // A sweep visits every entry of the template: at most once per second of watermark progress.
    if (!(anchor >= (this.sweptAt.get(template) ?? -Infinity) + 1000)) return [];
    this.sweptAt.set(template, anchor);
    const released: Forward[] = [];
    const prefix = `${template}\u0000`;
    // A sweep visits thousands of entries and most keep everything: a list is copied only when
    // something in it expires (filtering each one allocated a new array per entry and sweep).
    for (const [id, waiting] of this.held) {
      if (!id.startsWith(prefix) || !expires(waiting, anchor, bounds.holdMs)) continue;
      const keep: Supplement[] = [];
      for (const s of waiting) {
        if (stillHeld(s, anchor, bounds.holdMs)) keep.push(s);
        else released.push({ supplement: s, key: null });
      }
      this.heldCount -= waiting.length - keep.length;
      if (keep.length === 0) this.held.delete(id);
      else this.held.set(id, keep);
    }
    const forget = Math.min(anchor, this.watermark(template, bounds.supplement));
    for (const [id, candidates] of this.announced) {
      if (!id.startsWith(prefix) || !forgets(candidates, forget, bounds.keepMs)) continue;
      const keep = candidates.filter((c) => stillKept(c, forget, bounds.keepMs));
      if (keep.length === 0) this.announced.delete(id);
      else this.announced.set(id, keep);
    }
    return released;
  }

  snapshot(): JoinState {
    return { announced: [...this.announced], held: [...this.held], maxTimes: [...this.maxTimes] };
  }

  /** Minimum over `sources` of (largest time − disorder); a source never seen holds it back unless it declares `idle`. */
  private watermark(template: string, sources: Bounds['anchor']): number {
    let min = Infinity;
    for (const { source, disorderMs, idle } of sources) {
      const max = this.maxTimes.get(`${template}\u0000${source}`);
      if (max === undefined) {
        if (idle) continue;
        return -Infinity;
      }
      min = Math.min(min, max - disorderMs);
    }
    return min;
  }

  private observe(template: string, source: string, time: number): void {
    const key = `${template}\u0000${source}`;
    if (time > (this.maxTimes.get(key) ?? -Infinity)) this.maxTimes.set(key, time);
  }
}

/** A held supplement still waits at anchor watermark `anchor`. */
function stillHeld(s: Supplement, anchor: number, holdMs: number): boolean {
  return anchor <= s.time + holdMs;
}

/** An announcement is still kept at watermark `forget`. */
function stillKept(c: Candidate, forget: number, keepMs: number): boolean {
  return forget <= c.max + keepMs;
}

/** Whether some held supplement's wait is over (a loop, not `some`: no closure per entry and sweep). */
function expires(waiting: readonly Supplement[], anchor: number, holdMs: number): boolean {
  for (const s of waiting) if (!stillHeld(s, anchor, holdMs)) return true;
  return false;
}

/** Whether some announcement is past keeping. */
function forgets(candidates: readonly Candidate[], forget: number, keepMs: number): boolean {
  for (const c of candidates) if (!stillKept(c, forget, keepMs)) return true;
  return false;
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
