import type { CompiledTemplate } from '../template/index.js';
import { distanceTo, SessionState, type HeldEvent } from './session.js';
import { Timers } from './timers.js';

const NO_SESSIONS: readonly SessionState[] = Object.freeze([]) as readonly SessionState[];

/** A session that left memory, remembered while a split could still link to it. */
export interface PastSession {
  readonly id: string;
  readonly start: number;
  readonly end: number;
}

export interface Placement {
  readonly session: SessionState;
  readonly created: boolean;
  /** Sessions the record bridged into `session`, now tombstones. */
  readonly absorbed: readonly SessionState[];
  readonly duplicate: boolean;
}

/**
 * Event-time session windows per anchor key (Flink's merging session windows, plus maxSpan):
 * a record joins every open session whose window (start-gap, end+gap) contains it, merging them
 * when it bridges several; the oldest session's id survives.
 */
export class AnchorWindows {
  readonly byKey = new Map<string, SessionState[]>();
  private readonly closeTimers = new Timers<SessionState>();
  private readonly past = new Map<string, PastSession[]>();
  private readonly pastTimers = new Timers<[string, PastSession]>();
  open = 0;

  constructor(private readonly template: CompiledTemplate) {}

  get gap(): number {
    return this.template.session.gapMs;
  }

  place(key: string, event: HeldEvent, newId: () => string): Placement {
    const gap = this.gap;
    const maxSpan = this.template.session.maxSpanMs;
    const t = event.time;
    let only: SessionState | undefined;
    let touching: SessionState[] | undefined;
    for (const s of this.byKey.get(key) ?? NO_SESSIONS) {
      if (!(s.start - gap < t && t < s.end + gap)) continue;
      if (s.has(event.stepIndex, event.id)) return { session: s, created: false, absorbed: NO_SESSIONS, duplicate: true };
      if (!only) only = s;
      else (touching ??= [only]).push(s);
    }
    // The common case: the record falls in exactly one session, which stays within maxSpan.
    if (only && !touching && Math.max(t, only.end) - Math.min(t, only.start) <= maxSpan) {
      only.addAnchor(event);
      this.schedule(only);
      return { session: only, created: false, absorbed: NO_SESSIONS, duplicate: false };
    }
    if (!only) return this.openSession(key, event, newId);
    touching ??= [only];
    const spanWith = (group: readonly SessionState[]) =>
      Math.max(event.time, ...group.map((s) => s.end)) - Math.min(event.time, ...group.map((s) => s.start));
    if (spanWith(touching) <= maxSpan) {
      const [survivor, ...absorbed] = [...touching].sort(olderFirst);
      for (const other of absorbed) {
        survivor!.absorb(other);
        this.remove(other);
      }
      survivor!.addAnchor(event);
      this.schedule(survivor!);
      return { session: survivor!, created: false, absorbed, duplicate: false };
    }
    // Too long to merge: the record goes to the nearest session it fits in, else opens its own.
    const fits = touching
      .filter((s) => spanWith([s]) <= maxSpan)
      .sort((a, b) => distanceTo(a, event.time) - distanceTo(b, event.time));
    if (fits[0]) {
      fits[0].addAnchor(event);
      this.schedule(fits[0]);
      return { session: fits[0], created: false, absorbed: NO_SESSIONS, duplicate: false };
    }
    return this.openSession(key, event, newId);
  }

  private openSession(key: string, event: HeldEvent, newId: () => string): Placement {
    const session = new SessionState(newId(), key, event.time, event.time, [event], 0, 'open', null);
    this.insert(session);
    return { session, created: true, absorbed: NO_SESSIONS, duplicate: false };
  }

  insert(session: SessionState): void {
    const list = this.byKey.get(session.key);
    if (list) list.push(session);
    else this.byKey.set(session.key, [session]);
    this.open++;
    this.schedule(session);
  }

  remove(session: SessionState): void {
    const list = this.byKey.get(session.key);
    if (!list) return;
    const i = list.indexOf(session);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(session.key);
    this.open--;
  }

  /** Sessions whose window closed at `watermark` (end + gap ≤ watermark). */
  due(watermark: number): readonly SessionState[] {
    const popped = this.closeTimers.due(watermark);
    if (popped.length === 0) return popped;
    const due: SessionState[] = [];
    for (const s of popped) {
      s.scheduled = false;
      if (!s.live || !this.byKey.get(s.key)?.includes(s)) continue;
      // The window grew after its timer was set: wait for the new end.
      if (s.end + this.gap > watermark) this.schedule(s);
      else due.push(s);
    }
    return due;
  }

  /** Remembers a session that left memory so later sessions of its key can link to it as splits. */
  remember(key: string, past: PastSession): void {
    // Nothing can link to it as a split: do not keep it (this runs for every closed session).
    if (this.template.session.splitWithinMs <= 0) return;
    const list = this.past.get(key) ?? [];
    if (list.some((p) => p.id === past.id)) return;
    list.push(past);
    this.past.set(key, list);
    this.pastTimers.register(past.end + this.template.session.splitWithinMs, [key, past]);
  }

  forgetPast(watermark: number): void {
    for (const [key, past] of this.pastTimers.due(watermark)) {
      const list = this.past.get(key);
      if (!list) continue;
      const rest = list.filter((p) => p !== past);
      if (rest.length > 0) this.past.set(key, rest);
      else this.past.delete(key);
    }
  }

  /**
   * Recomputes `splitOf` for the open sessions of `key`: the latest session of the key that ended
   * more than a gap but at most `splitWithin` before it started. Returns the sessions that changed.
   */
  linkSplits(key: string): SessionState[] {
    const within = this.template.session.splitWithinMs;
    const open = this.byKey.get(key) ?? [];
    if (within <= 0) return [];
    const all: PastSession[] = [...(this.past.get(key) ?? []), ...open];
    const changed: SessionState[] = [];
    for (const session of open) {
      let best: PastSession | undefined;
      for (const other of all) {
        if (other.id === session.id || other.end >= session.start) continue;
        const pause = session.start - other.end;
        if (pause >= this.gap && pause <= within && (!best || other.end > best.end)) best = other;
      }
      const splitOf = best?.id ?? null;
      if (splitOf !== session.splitOf) {
        session.splitOf = splitOf;
        session.dirty = true;
        changed.push(session);
      }
    }
    return changed;
  }

  pastSessions(): Array<[string, PastSession]> {
    return [...this.past].flatMap(([key, list]) => list.map((p): [string, PastSession] => [key, p]));
  }

  /** One pending timer per session; a timer that fires early (the window grew) is set again. */
  private schedule(session: SessionState): void {
    if (session.scheduled) return;
    session.scheduled = true;
    this.closeTimers.register(session.end + this.gap, session);
  }
}

function olderFirst(a: SessionState, b: SessionState): number {
  return a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
