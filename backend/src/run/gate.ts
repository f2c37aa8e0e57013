/**
 * The anchor stage's merge of everything that reaches an anchor partition, by arrival time.
 *
 * An anchor partition is fed by several streams that do not move in step: normalise's output for
 * each source partition (anchor records straight from normalise, one whole fetched batch of one
 * source after another) and every join partition's forwarded supplements (one hop later). The
 * engine moves a source's watermark with every record it sees and its processing time with every
 * arrival time, so on a backlog whichever stream runs ahead makes the others' records late (the
 * late path: a store lookup, a repair and a second upsert each) and fires the idle trigger on
 * sessions whose other sources are simply read later.
 *
 * So records and marks wait here and go to the engine in arrival-time order (Kafka timestamps), as
 * far as every stream is known to have come: normalise sends, after each batch, a mark per source
 * and source partition with the batch's latest arrival time; each join partition relays the marks
 * of the sources it forwards after forwarding what preceded them. The engine then sees what a
 * replay of the sources in arrival order would show it, whatever the batching and hop latency.
 *
 * A stream never heard from (a source with no records yet, e.g. right after a start) holds
 * nothing back. The wait is bounded: a stream with no traffic sends no marks, so a message that waited
 * `maxHoldMs` of wall time while the partition had nothing more to read, or beyond `maxHeld`
 * waiting messages, goes on anyway (in order; a record behind it may then take the late path, as
 * it would without the merge). Held messages are part of the partition's checkpoint: the offset
 * moves past them only together with them.
 */
import type { CompiledTemplate } from '../template/index.js';

/** A message waiting: a record (`record` set) or a watermark mark of `source` at event time `time`. */
export interface Held {
  readonly template: string;
  readonly source: string;
  readonly time: number;
  readonly at: number;
  readonly record?: unknown;
  /** Wall clock when it started to wait. */
  readonly heldAt: number;
  readonly seq: number;
}

export interface GateState {
  /** `template\0source\0origin` → latest arrival time normalise marked (direct streams). */
  readonly direct: Array<[string, number]>;
  /** `template\0source\0origin` → per join partition, the latest [event time, arrival time] relayed (null: none yet). */
  readonly relayed: Array<[string, Array<[number, number] | null>]>;
  readonly held: Held[];
  readonly seq: number;
}

export interface GateLimits {
  readonly maxHoldMs: number;
  readonly maxHeld: number;
  /** Arrival-time tolerance between streams (ms): a message goes on once every stream is this close to it. */
  readonly slackMs: number;
}

/** Sources of a template whose records reach its anchor partitions through the join stage. */
export function relayedSources(template: CompiledTemplate): Set<string> {
  return new Set(template.steps.flatMap((s) => (s.kind === 'supplement' ? [s.source] : [])));
}

export class AnchorGate {
  private relayedBy = new Map<string, Set<string>>();
  private readonly direct = new Map<string, number>();
  private readonly relayed = new Map<string, Array<[number, number] | null>>();
  /** Per template, a binary min-heap by (at, seq). */
  private readonly held = new Map<string, Held[]>();
  private count = 0;
  private seq = 0;

  constructor(templates: readonly CompiledTemplate[], private readonly joinPartitions: number, private readonly limits: GateLimits, state?: GateState) {
    this.setTemplates(templates);
    if (state) {
      for (const [k, at] of state.direct ?? []) this.direct.set(k, at);
      for (const [k, per] of state.relayed ?? []) this.relayed.set(k, per);
      this.seq = state.seq ?? 0;
      for (const h of state.held ?? []) this.push(h);
    }
  }

  get waiting(): number {
    return this.count;
  }

  setTemplates(templates: readonly CompiledTemplate[]): void {
    this.relayedBy = new Map(templates.map((t) => [t.id, relayedSources(t)]));
  }

  /** Whether `source`'s records and marks reach `template`'s anchor partitions through the join stage. */
  isRelayed(template: string, source: string): boolean {
    return this.relayedBy.get(template)?.has(source) ?? false;
  }

  /** A record to merge; false: it carries no arrival time and goes on at once. */
  record(template: string, source: string, time: number, at: number | undefined, record: unknown, now: number): boolean {
    if (at === undefined || Number.isNaN(at)) return false;
    this.push({ template, source, time, at, record, heldAt: now, seq: this.seq++ });
    return true;
  }

  /** Normalise read `origin` (a source partition) up to arrival time `at`, where `source` reached event time `time`. */
  mark(template: string, source: string, origin: string, time: number, at: number, now: number): void {
    const key = streamKey(template, source, origin);
    if (at > (this.direct.get(key) ?? -Infinity)) this.direct.set(key, at);
    this.push({ template, source, time, at, heldAt: now, seq: this.seq++ });
  }

  /** Join partition `from` forwarded everything of `origin` up to arrival time `at` (event time `time`). */
  relay(template: string, source: string, origin: string, from: number, time: number, at: number, now: number): void {
    const key = streamKey(template, source, origin);
    let per = this.relayed.get(key);
    if (!per) this.relayed.set(key, (per = []));
    while (per.length < this.joinPartitions) per.push(null);
    const before = lowest(per, 0);
    const was = per[from];
    per[from] = [Math.max(time, was?.[0] ?? -Infinity), Math.max(at, was?.[1] ?? -Infinity)];
    const after = lowest(per, 0);
    if (after > before) this.push({ template, source, time: after, at: lowest(per, 1), heldAt: now, seq: this.seq++ });
  }

  /**
   * The messages of `template` free to go, in arrival order: every stream has come within the
   * slack of them, or they waited long enough while nothing more was there to read (`idle`), or
   * beyond the bound.
   */
  release(template: string, now: number, idle: boolean): Held[] {
    const heap = this.held.get(template);
    if (!heap) return [];
    const upTo = this.frontier(template) + this.limits.slackMs;
    const out: Held[] = [];
    while (heap.length > 0) {
      const head = heap[0]!;
      if (!(head.at <= upTo || (idle && now - head.heldAt >= this.limits.maxHoldMs) || this.count > this.limits.maxHeld)) break;
      out.push(popHeap(heap));
      this.count--;
    }
    if (heap.length === 0) this.held.delete(template);
    return out;
  }

  templatesHolding(): string[] {
    return [...this.held.keys()];
  }

  snapshot(): GateState {
    const held = [...this.held.values()].flat();
    return { direct: [...this.direct], relayed: [...this.relayed], held, seq: this.seq };
  }

  /** How far (arrival time) every stream into `template`'s partition is known to have come. */
  private frontier(template: string): number {
    let min = Infinity;
    const prefix = `${template}\u0000`;
    for (const [key, at] of this.direct) if (key.startsWith(prefix) && at < min) min = at;
    for (const [key, per] of this.relayed) {
      if (!key.startsWith(prefix)) continue;
      const at = per.length < this.joinPartitions ? -Infinity : lowest(per, 1);
      if (at < min) min = at;
    }
    return min;
  }

  private push(h: Held): void {
    let heap = this.held.get(h.template);
    if (!heap) this.held.set(h.template, (heap = []));
    pushHeap(heap, h);
    this.count++;
  }
}

function streamKey(template: string, source: string, origin: string): string {
  return `${template}\u0000${source}\u0000${origin}`;
}

function lowest(per: ReadonlyArray<[number, number] | null>, i: 0 | 1): number {
  let min = Infinity;
  for (const p of per) {
    if (p === null) return -Infinity;
    if (p[i] < min) min = p[i];
  }
  return per.length === 0 ? -Infinity : min;
}

const before = (a: Held, b: Held): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

function pushHeap(heap: Held[], h: Held): void {
  heap.push(h);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const child = heap[i]!;
    const parent = heap[p]!;
    if (!before(child, parent)) break;
    // Swapped through locals: a destructuring swap allocated an array per step here.
    heap[i] = parent;
    heap[p] = child;
    i = p;
  }
}

function popHeap(heap: Held[]): Held {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      const moved = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = moved;
      i = m;
    }
  }
  return top;
}
