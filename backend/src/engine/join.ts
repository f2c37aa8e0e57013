import type { SupplementStep } from '../template/index.js';
import type { PastSession } from './anchor.js';
import { distanceTo, type SessionState } from './session.js';
import { removeAt, removeFrom } from './lists.js';
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
const NOTHING: readonly NormalEvent[] = Object.freeze([]);

/** A closed session findable by one join value (one object: list entry and timer item). */
interface ClosedEntry extends PastSession {
  readonly value: string;
}

export class JoinIndex {
  private readonly open = new Map<string, SessionState[]>();
  private readonly closed = new Map<string, ClosedEntry[]>();
  private readonly closedTimers = new Timers<ClosedEntry>();
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
    for (let i = 0; i < before.length; i++) if (!after.includes(before[i]!)) this.withdrawValue(session, before[i]!);
    for (let i = 0; i < after.length; i++) {
      const value = after[i]!;
      if (before.includes(value)) continue;
      const list = this.open.get(value);
      if (list) list.push(session);
      else this.open.set(value, [session]);
    }
  }

  /** The session leaves memory: it stays findable by value (as closed) until the supplement watermark passes. */
  withdraw(session: SessionState, values: readonly string[], keepAsClosed: boolean): void {
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      this.withdrawValue(session, value);
      if (keepAsClosed) this.addClosed({ value, id: session.id, start: session.start, end: session.end });
    }
  }

  /** The open session the supplement joins: the one nearest its time among those accepting it. */
  match(event: NormalEvent): SessionState | undefined {
    let best: SessionState | undefined;
    let bestDistance = Infinity;
    const sessions = this.open.get(event.key);
    if (sessions === undefined) return undefined;
    for (let i = 0; i < sessions.length; i++) {
      const session = sessions[i]!;
      if (!session.live || !this.accepts(session, event.time)) continue;
      const d = distanceTo(session, event.time);
      if (d < bestDistance) [best, bestDistance] = [session, d];
    }
    return best;
  }

  matchesClosed(event: NormalEvent): boolean {
    const list = this.closed.get(event.key);
    if (list === undefined) return false;
    for (let i = 0; i < list.length; i++) if (this.accepts(list[i]!, event.time)) return true;
    return false;
  }

  /** Parks a supplement until a session offers its value; false if it is a re-delivery of one already parked. */
  wait(event: NormalEvent): boolean {
    const list = this.waiting.get(event.key);
    if (list !== undefined) for (let i = 0; i < list.length; i++) if (list[i]!.id === event.id) return false;
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
  take(value: string, session: SessionState): readonly NormalEvent[] {
    const list = this.waiting.get(value);
    if (!list) return NOTHING;
    let accepted = 0;
    for (let i = 0; i < list.length; i++) if (this.accepts(session, list[i]!.time)) accepted++;
    if (accepted === 0) return NOTHING;
    this.waitingCount -= accepted;
    // The common case: every supplement waiting on the value is the session's; the list itself is handed over.
    if (accepted === list.length) {
      this.waiting.delete(value);
      return list;
    }
    const taken: NormalEvent[] = [];
    const rest: NormalEvent[] = [];
    for (let i = 0; i < list.length; i++) (this.accepts(session, list[i]!.time) ? taken : rest).push(list[i]!);
    this.waiting.set(value, rest);
    return taken;
  }

  /** The next parked supplement no session can still take at anchor watermark `watermark` (an orphan); undefined when none. */
  nextExpired(watermark: number): NormalEvent | undefined {
    for (let event = this.waitTimers.popDue(watermark - 1); event !== undefined; event = this.waitTimers.popDue(watermark - 1)) {
      const list = this.waiting.get(event.key);
      if (list === undefined || !removeFrom(list, event)) continue;
      if (list.length === 0) this.waiting.delete(event.key);
      this.waitingCount--;
      return event;
    }
    return undefined;
  }

  forgetClosed(supplementWatermark: number): void {
    for (let entry = this.closedTimers.popDue(supplementWatermark - 1); entry !== undefined; entry = this.closedTimers.popDue(supplementWatermark - 1)) {
      const list = this.closed.get(entry.value);
      if (list === undefined || !removeFrom(list, entry)) continue;
      if (list.length === 0) this.closed.delete(entry.value);
    }
  }

  waitingEvents(): NormalEvent[] {
    return [...this.waiting.values()].flat();
  }

  closedEntries(): Array<[string, PastSession]> {
    return [...this.closed].flatMap(([value, list]) => list.map((p): [string, PastSession] => [value, { id: p.id, start: p.start, end: p.end }]));
  }

  restoreClosed(value: string, past: PastSession): void {
    this.addClosed({ value, id: past.id, start: past.start, end: past.end });
  }

  private addClosed(entry: ClosedEntry): void {
    const list = this.closed.get(entry.value);
    if (list) list.push(entry);
    else this.closed.set(entry.value, [entry]);
    this.closedTimers.register(entry.end + this.step.join.highMs, entry);
  }

  private withdrawValue(session: SessionState, value: string): void {
    const list = this.open.get(value);
    if (!list) return;
    // A list field may offer a value twice, and then the session is listed twice.
    for (let i = list.indexOf(session); i >= 0; i = list.indexOf(session, i)) removeAt(list, i);
    if (list.length === 0) this.open.delete(value);
  }
}
