import type { CompiledTemplate } from '../template/index.js';
import { distanceTo, SessionState, type HeldEvent } from './session.js';
import { Timers } from './timers.js';
import { removeFrom } from './lists.js';

const NO_SESSIONS: readonly SessionState[] = Object.freeze([]) as readonly SessionState[];

/** A session that left memory, remembered while a split could still link to it. */
export interface PastSession {
  readonly id: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Where `place` put a record. The correlator owns one and `place` refills it for every anchor
 * record (this runs once per record; a fresh object each time was measurable garbage).
 */
export class Placement {
  session: SessionState = undefined as unknown as SessionState;
  created = false;
  /** Sessions the record bridged into `session`, now tombstones. */
  absorbed: readonly SessionState[] = NO_SESSIONS;
  duplicate = false;

  set(session: SessionState, created: boolean, absorbed: readonly SessionState[], duplicate: boolean): this {
    this.session = session;
    this.created = created;
    this.absorbed = absorbed;
    this.duplicate = duplicate;
    return this;
  }
}

/** A past session as remembered under its key (one object: it is both list entry and timer item). */
interface RememberedSession extends PastSession {
  readonly key: string;
}

/**
 * Event-time session windows per anchor key (Flink's merging session windows, plus maxSpan):
 * a record joins every open session whose window (start-gap, end+gap) contains it, merging them
 * when it bridges several; the oldest session's id survives.
 */
export class AnchorWindows {
  readonly byKey = new Map<string, SessionState[]>();
  private readonly closeTimers = new Timers<SessionState>();
  private readonly past = new Map<string, RememberedSession[]>();
  private readonly pastTimers = new Timers<RememberedSession>();
  private readonly placement = new Placement();
  open = 0;

  /** `newId`: the id of a session the record opens (stable for replays). */
  constructor(
    private readonly template: CompiledTemplate,
    private readonly newId: (key: string, event: HeldEvent) => string,
  ) {}

  get gap(): number {
    return this.template.session.gapMs;
  }

  /** Places an anchor record; the result is only valid until the next call. */
  place(key: string, event: HeldEvent): Placement {
    const gap = this.gap;
    const maxSpan = this.template.session.maxSpanMs;
    const t = event.time;
    let only: SessionState | undefined;
    let touching: SessionState[] | undefined;
    const sessions = this.byKey.get(key) ?? NO_SESSIONS;
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i]!;
      if (!(s.start - gap < t && t < s.end + gap)) continue;
      if (s.has(event.stepIndex, event.id)) return this.placement.set(s, false, NO_SESSIONS, true);
      if (!only) only = s;
      else (touching ??= [only]).push(s);
    }
    // The common case: the record falls in exactly one session, which stays within maxSpan.
    if (only && !touching && Math.max(t, only.end) - Math.min(t, only.start) <= maxSpan) {
      only.addAnchor(event);
      this.schedule(only);
      return this.placement.set(only, false, NO_SESSIONS, false);
    }
    if (!only) return this.openSession(key, event);
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
      return this.placement.set(survivor!, false, absorbed, false);
    }
    // Too long to merge: the record goes to the nearest session it fits in, else opens its own.
    const fits = touching
      .filter((s) => spanWith([s]) <= maxSpan)
      .sort((a, b) => distanceTo(a, event.time) - distanceTo(b, event.time));
    if (fits[0]) {
      fits[0].addAnchor(event);
      this.schedule(fits[0]);
      return this.placement.set(fits[0], false, NO_SESSIONS, false);
    }
    return this.openSession(key, event);
  }

  private openSession(key: string, event: HeldEvent): Placement {
    const session = new SessionState(this.newId(key, event), key, event.time, event.time, [event], 0, 'open', null);
    this.insert(session);
    return this.placement.set(session, true, NO_SESSIONS, false);
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
    if (!removeFrom(list, session)) return;
    if (list.length === 0) this.byKey.delete(session.key);
    this.open--;
  }

  /** The next session whose window closed at `watermark` (end + gap ≤ watermark); undefined when none. */
  nextDue(watermark: number): SessionState | undefined {
    for (let s = this.closeTimers.popDue(watermark); s !== undefined; s = this.closeTimers.popDue(watermark)) {
      s.scheduled = false;
      // Not live: closed or merged away, and so no longer in its key's list.
      if (!s.live) continue;
      // The window grew after its timer was set: wait for the new end (a deadline past `watermark`).
      if (s.end + this.gap > watermark) this.schedule(s);
      else return s;
    }
    return undefined;
  }

  /** Remembers a session that left memory so later sessions of its key can link to it as splits. */
  remember(key: string, id: string, start: number, end: number): void {
    // Nothing can link to it as a split: do not keep it (this runs for every closed session).
    if (this.template.session.splitWithinMs <= 0) return;
    const list = this.past.get(key);
    if (list !== undefined && list.findIndex(byId, id) >= 0) return;
    const past: RememberedSession = { key, id, start, end };
    if (list) list.push(past);
    else this.past.set(key, [past]);
    this.pastTimers.register(end + this.template.session.splitWithinMs, past);
  }

  forgetPast(watermark: number): void {
    for (let past = this.pastTimers.popDue(watermark); past !== undefined; past = this.pastTimers.popDue(watermark)) {
      const list = this.past.get(past.key);
      if (list === undefined || !removeFrom(list, past)) continue;
      if (list.length === 0) this.past.delete(past.key);
    }
  }

  /**
   * Recomputes `splitOf` for the open sessions of `key`: the latest session of the key that ended
   * more than a gap but at most `splitWithin` before it started. Returns the sessions that changed.
   */
  linkSplits(key: string): readonly SessionState[] {
    const within = this.template.session.splitWithinMs;
    const open = this.byKey.get(key) ?? NO_SESSIONS;
    if (within <= 0) return NO_SESSIONS;
    // A key's only session, with nothing before it: nothing to link (the common case).
    if (open.length === 1 && !this.past.has(key) && open[0]!.splitOf === null) return NO_SESSIONS;
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
    return [...this.past].flatMap(([key, list]) => list.map((p): [string, PastSession] => [key, { id: p.id, start: p.start, end: p.end }]));
  }

  /** One pending timer per session; a timer that fires early (the window grew) is set again. */
  private schedule(session: SessionState): void {
    if (session.scheduled) return;
    session.scheduled = true;
    this.closeTimers.register(session.end + this.gap, session);
  }
}

/** `findIndex` predicate with the id as `this` (no closure, so no context per call). */
function byId(this: string, past: PastSession): boolean {
  return past.id === this;
}

function olderFirst(a: SessionState, b: SessionState): number {
  return a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
