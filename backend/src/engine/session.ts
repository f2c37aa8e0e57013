import type { CompiledTemplate } from '../template/index.js';
import type { Evaluation } from './evaluate.js';
import { insertAt } from './lists.js';
import type { EventDoc, SessionStatus } from './types.js';

/**
 * One record held in a session: the event document fires carry, plus the step's position and the
 * dedup id. Sessions hold the normalised events themselves, never copies.
 */
export interface HeldEvent extends EventDoc {
  readonly stepIndex: number;
  readonly id: string;
  /** `value`'s JSON text as read, when known (see NormalEvent). */
  readonly raw: string | undefined;
}

/**
 * The in-memory state of one session. Kept small (it is multiplied by every open session):
 * window bounds come from anchor events only, supplements ride along without stretching it.
 */
/** How far `t` lies outside the window [start, end]; 0 inside it. */
export function distanceTo(window: { readonly start: number; readonly end: number }, t: number): number {
  return t < window.start ? window.start - t : t > window.end ? t - window.end : 0;
}

/** Steps tracked in the `present` bit set (bit 31 would make the int negative). */
const MASKED_STEPS = 31;

function stepBit(step: number): number {
  return step < MASKED_STEPS ? 1 << step : 0;
}

function byTime(a: HeldEvent, b: HeldEvent): number {
  return a.time - b.time || a.stepIndex - b.stepIndex;
}

export class SessionState {
  /** Join values announced, by the correlator's join index, as last evaluated. */
  announced: Array<readonly string[]> | undefined = undefined;
  dirty = true;
  completeFired = false;
  /** A close timer is pending for this session. */
  scheduled = false;
  /** Queued for the idle trigger (changed since the last idle fire). */
  idleQueued = false;
  /** False once merged away or closed: timers and indexes check it before acting. */
  live = true;
  /** What the last fire evaluated, reused while nothing changed (a final fire after a complete one). */
  evaluation: Evaluation | undefined = undefined;
  /** The events as last fired, reused with `evaluation`. */
  eventDocs: readonly EventDoc[] | undefined = undefined;
  /** Bit i set: the session holds a record of step i (steps 0–30; later ones are looked up). */
  private present = 0;

  constructor(
    readonly id: string,
    readonly key: string,
    public start: number,
    public end: number,
    /** Kept in event-time order (ties by step position), so fires and CEL contexts never sort. */
    public events: HeldEvent[],
    /** Last fired version; 0 = never fired. */
    public version: number,
    public status: SessionStatus,
    public splitOf: string | null,
  ) {
    if (events.length > 1) events.sort(byTime);
    for (let i = 0; i < events.length; i++) this.present |= stepBit(events[i]!.stepIndex);
  }

  get fired(): boolean {
    return this.version > 0;
  }

  has(step: number, id: string): boolean {
    const events = this.events;
    for (let i = 0; i < events.length; i++) if (events[i]!.id === id && events[i]!.stepIndex === step) return true;
    return false;
  }

  hasStep(step: number): boolean {
    if (step < MASKED_STEPS) return (this.present & (1 << step)) !== 0;
    const events = this.events;
    for (let i = 0; i < events.length; i++) if (events[i]!.stepIndex === step) return true;
    return false;
  }

  isComplete(template: CompiledTemplate): boolean {
    const required = template.session.complete;
    if (required.length === 0) return false;
    for (let i = 0; i < required.length; i++) if (!this.hasStep(required[i]!)) return false;
    return true;
  }

  /** Adds an anchor event and stretches the window to it. */
  addAnchor(event: HeldEvent): void {
    this.insert(event);
    if (event.time < this.start) this.start = event.time;
    if (event.time > this.end) this.end = event.time;
    this.dirty = true;
  }

  addSupplement(event: HeldEvent): void {
    this.insert(event);
    this.dirty = true;
  }

  /** Records mostly arrive in time order: walk back from the end to the event's place. */
  private insert(event: HeldEvent): void {
    this.present |= stepBit(event.stepIndex);
    const events = this.events;
    let i = events.length;
    while (i > 0 && byTime(events[i - 1]!, event) > 0) i--;
    if (i === events.length) events.push(event);
    else insertAt(events, i, event);
  }

  /** Takes over another session's events (the other becomes a tombstone). */
  absorb(other: SessionState): void {
    for (const e of other.events) if (!this.has(e.stepIndex, e.id)) this.insert(e);
    if (other.start < this.start) this.start = other.start;
    if (other.end > this.end) this.end = other.end;
    other.events = [];
    other.present = 0;
    other.status = 'merged';
    other.live = false;
    this.dirty = true;
  }
}
