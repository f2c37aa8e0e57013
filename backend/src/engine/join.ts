import type { SupplementStep } from '../template/index.js';
import type { PastSession } from './anchor.js';
import { distanceTo, type SessionState } from './session.js';
import { Timers } from './timers.js';
import type { NormalEvent } from './types.js';

/**
 * The interval join of one supplement step (keyed by join value): sessions announce the values of
 * the join field; a supplement at time t joins a session whose [start+low, end+high] holds t.
 *
 * Each side's state is bounded by the other side's watermark, so two streams moving at different
 * speeds lose nothing: a waiting supplement is kept until the anchor watermark passes
 * t - low + maxSpan (no session that could still offer its value is unseen by then); a closed
 * session stays findable by value until the supplement source's watermark passes end + high.
 */
export class JoinIndex {
  private readonly open = new Map<string, SessionState[]>();
  private readonly closed = new Map<string, PastSession[]>();
  private readonly closedTimers = new Timers<[string, PastSession]>();
  private readonly waiting = new Map<string, NormalEvent[]>();
  private readonly waitTimers = new Timers<NormalEvent>();
  waitingCount = 0;

  constructor(
    readonly step: SupplementStep,
    private readonly maxSpanMs: number,
  ) {}

  get field(): string {
    return this.step.join.field;
  }

  accepts(session: { start: number; end: number }, time: number): boolean {
    const { lowMs, highMs } = this.step.join;
    return session.start + lowMs <= time && time <= session.end + highMs;
  }

  announce(session: SessionState, before: readonly string[], after: readonly string[]): void {
    for (const value of before) if (!after.includes(value)) this.withdrawValue(session, value);
    for (const value of after) {
      if (before.includes(value)) continue;
      const list = this.open.get(value);
      if (list) list.push(session);
      else this.open.set(value, [session]);
    }
  }

  /** The session leaves memory: it stays findable by value (as closed) until the supplement watermark passes. */
  withdraw(session: SessionState, values: readonly string[], keepAsClosed: boolean): void {
    for (const value of values) {
      this.withdrawValue(session, value);
      if (!keepAsClosed) continue;
      const past: PastSession = { id: session.id, start: session.start, end: session.end };
      const list = this.closed.get(value);
      if (list) list.push(past);
      else this.closed.set(value, [past]);
      this.closedTimers.register(session.end + this.step.join.highMs, [value, past]);
    }
  }

  /** The open session the supplement joins: the one nearest its time among those accepting it. */
  match(event: NormalEvent): SessionState | undefined {
    let best: SessionState | undefined;
    let bestDistance = Infinity;
    for (const session of this.open.get(event.key) ?? []) {
      if (!session.live || !this.accepts(session, event.time)) continue;
      const d = distanceTo(session, event.time);
      if (d < bestDistance) [best, bestDistance] = [session, d];
    }
    return best;
  }

  matchesClosed(event: NormalEvent): boolean {
    return (this.closed.get(event.key) ?? []).some((p) => this.accepts(p, event.time));
  }

  /** Parks a supplement until a session offers its value; false if it is a re-delivery of one already parked. */
  wait(event: NormalEvent): boolean {
    const list = this.waiting.get(event.key);
    if (list?.some((e) => e.id === event.id)) return false;
    if (list) list.push(event);
    else this.waiting.set(event.key, [event]);
    this.waitingCount++;
    this.waitTimers.register(this.expiry(event), event);
    return true;
  }

  expiry(event: NormalEvent): number {
    return event.time - this.step.join.lowMs + this.maxSpanMs;
  }

  /** Removes and returns the parked supplements with `value` that `session` accepts. */
  take(value: string, session: SessionState): NormalEvent[] {
    const list = this.waiting.get(value);
    if (!list) return [];
    const taken = list.filter((e) => this.accepts(session, e.time));
    if (taken.length === 0) return taken;
    const rest = list.filter((e) => !taken.includes(e));
    if (rest.length > 0) this.waiting.set(value, rest);
    else this.waiting.delete(value);
    this.waitingCount -= taken.length;
    return taken;
  }

  /** Parked supplements no session can still take at anchor watermark `watermark`: orphans. */
  expire(watermark: number): NormalEvent[] {
    const expired: NormalEvent[] = [];
    for (const event of this.waitTimers.due(watermark - 1)) {
      const list = this.waiting.get(event.key);
      const i = list?.indexOf(event) ?? -1;
      if (i < 0) continue;
      list!.splice(i, 1);
      if (list!.length === 0) this.waiting.delete(event.key);
      this.waitingCount--;
      expired.push(event);
    }
    return expired;
  }

  forgetClosed(supplementWatermark: number): void {
    for (const [value, past] of this.closedTimers.due(supplementWatermark - 1)) {
      const rest = (this.closed.get(value) ?? []).filter((p) => p !== past);
      if (rest.length > 0) this.closed.set(value, rest);
      else this.closed.delete(value);
    }
  }

  waitingEvents(): NormalEvent[] {
    return [...this.waiting.values()].flat();
  }

  closedEntries(): Array<[string, PastSession]> {
    return [...this.closed].flatMap(([value, list]) => list.map((p): [string, PastSession] => [value, p]));
  }

  restoreClosed(value: string, past: PastSession): void {
    const list = this.closed.get(value) ?? [];
    list.push(past);
    this.closed.set(value, list);
    this.closedTimers.register(past.end + this.step.join.highMs, [value, past]);
  }

  private withdrawValue(session: SessionState, value: string): void {
    const list = this.open.get(value);
    if (!list) return;
    const rest = list.filter((s) => s !== session);
    if (rest.length > 0) this.open.set(value, rest);
    else this.open.delete(value);
  }
}
