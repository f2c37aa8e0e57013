import { formatDuration, type CompiledTemplate, type SupplementStep } from '../template/index.js';
import { AnchorWindows } from './anchor.js';
import { evaluate, joinFieldValues, joinValues } from './evaluate.js';
import { hash64Joined } from './hash.js';
import { JoinIndex } from './join.js';
import { dedupId, Normaliser, Orphaned, orphanId, Rejected, Unmatched } from './normalise.js';
import { distanceTo, SessionState, type HeldEvent } from './session.js';
import type { CorrelatorSnapshot, SessionSnapshot } from './snapshot.js';
import {
  rawOf, TextEvent, type AdoptRequest, type Emission, type EngineCounters, type EnrichmentView, type EnrichRequest, type EventDoc,
  type LateRequest, type NormalEvent, type OrphanDoc, type SessionDoc, type Trigger,
} from './types.js';
import { Watermarks } from './watermarks.js';

/**
 * Everything one template does with its records: normalise, anchor windows, interval joins,
 * triggers, fires and the late path. Pure: records, processing time and stored sessions come in,
 * emissions go out.
 */
export class Correlator {
  private readonly windows: AnchorWindows;
  private readonly joins: JoinIndex[];
  private readonly joinsByStep = new Map<number, JoinIndex>();
  /**
   * By step index: whether the join fields read the step (a record of another step cannot change a
   * join value). All true when a join field reads the window itself (start, end, duration, steps),
   * which any record may move.
   */
  private readonly joinReads: readonly boolean[];
  /** By join index: the first join on its field (adoption is asked once per field and value). */
  private readonly firstOfField: readonly boolean[];
  private readonly normaliser: Normaliser;
  private readonly watermarks: Watermarks;
  /** Sources of supplement steps: their watermark expires closed sessions' join memory. */
  private readonly supplementSources: ReadonlySet<string>;
  /**
   * Sessions changed since the last idle fire, in the order they first changed (each once: the
   * session's `idleQueued` flag). Closed and merged sessions are skipped when it is read, and
   * compacted away when they outnumber the open ones.
   */
  private idleQueue: SessionState[] = [];
  private watermark = -Infinity;
  private now: number | undefined;
  private progressAt: number | undefined;
  private idleFiredAt = -Infinity;
  private out: Emission[] = [];
  /** Set while a late repair runs: join values a session gains then may adopt stored orphans. */
  private repairing = false;

  constructor(
    readonly template: CompiledTemplate,
    private readonly counters: EngineCounters,
    private readonly enrichment?: EnrichmentView,
  ) {
    this.windows = new AnchorWindows(template, (key, event) => sessionId(template.id, key, event));
    this.normaliser = new Normaliser(template);
    this.watermarks = new Watermarks(template.sources);
    this.joins = template.steps
      .filter((s): s is SupplementStep => s.kind === 'supplement')
      .map((s) => new JoinIndex(s, template.session.maxSpanMs));
    for (const join of this.joins) this.joinsByStep.set(join.step.index, join);
    this.supplementSources = new Set(this.joins.map((join) => join.step.source));
    const readsWindow = template.joinFields.some((f) => ['start', 'end', 'duration', 'steps'].some((v) => f.expr.variables.has(v)));
    const read = new Set(template.joinFields.flatMap((f) => [...f.expr.stepRefs]));
    this.joinReads = template.steps.map((s) => readsWindow || read.has(s.name));
    this.firstOfField = this.joins.map((join, j) => this.joins.findIndex((other) => other.field === join.field) === j);
  }

  get openSessions(): number {
    return this.windows.open;
  }

  get waitingSupplements(): number {
    return this.joins.reduce((n, j) => n + j.waitingCount, 0);
  }

  get anchorWatermark(): number {
    return this.watermark;
  }

  sourceWatermark(source: string): number {
    return this.watermarks.of(source);
  }

  /** Takes one record of `source`; returns why it was rejected, if it was. */
  ingest(source: string, value: unknown, at: number | undefined, out: Emission[], raw: string | undefined): string | undefined {
    this.out = out;
    const normal = this.normaliser.normalise(source, value, raw);
    if (normal instanceof Rejected) return normal.reason;
    if (normal instanceof Unmatched) this.counters.unmatched++;
    else if (normal instanceof Orphaned) this.emitOrphan(normal.orphan);
    else if (this.template.steps[normal.stepIndex]!.kind === 'anchor') this.onAnchor(normal);
    else this.onSupplement(normal);
    this.watermarks.observe(source, normal.time, at);
    this.tick(at, source);
    return undefined;
  }

  /**
   * A source's event time reached `time` without a record to show for it (a watermark mark relayed
   * from another stage): moves that source's watermark exactly as a record of that time would.
   */
  observe(source: string, time: number, at: number | undefined, out: Emission[]): void {
    this.out = out;
    this.watermarks.observe(source, time, at);
    this.tick(at);
  }

  /** Processing time moved (idle sources, idle trigger). */
  advance(now: number, out: Emission[]): void {
    this.out = out;
    this.tick(now);
  }

  /** End of input: every watermark to +∞, every session fires final, every waiting supplement is orphaned. */
  end(out: Emission[]): void {
    this.out = out;
    this.watermarks.end();
    this.tick(undefined);
  }

  /**
   * The late path: re-applies a record that was behind the watermark to the stored sessions it may
   * belong to (`stored`, loaded by the caller for `request.lookup`), with the same code as on time.
   */
  repair(request: LateRequest, stored: readonly SessionDoc[], out: Emission[]): void {
    this.out = out;
    const event = request.event;
    const candidates = stored.filter((d) => d.template === this.template.id && d.status !== 'merged');
    const duplicatesBefore = this.counters.duplicates;
    if (this.template.steps[event.stepIndex]!.kind === 'anchor') {
      if (this.tooLate(event, this.watermark)) return this.tick(undefined);
      const { gapMs, maxSpanMs, splitWithinMs } = this.template.session;
      for (const doc of candidates) {
        if (this.findOpen(doc.key, doc.id)) continue;
        const overlaps = doc.start - gapMs < event.time && event.time < doc.end + gapMs;
        // A later stored session may become a split of the session this record opens.
        const mayFollow = doc.start > event.time && doc.start - event.time <= splitWithinMs + maxSpanMs;
        if (overlaps || mayFollow) this.rehydrate(doc);
        else this.windows.remember(doc.key, doc.id, doc.start, doc.end);
      }
      this.whileRepairing(() => this.placeAnchor(event));
    } else {
      const join = this.joinsByStep.get(event.stepIndex)!;
      const session = join.match(event) ?? this.rehydrateForJoin(join, event, candidates);
      if (session) this.whileRepairing(() => this.attach(session, event));
      else this.park(join, event);
    }
    if (this.counters.duplicates === duplicatesBefore) this.counters.lateReapplied++;
    this.tick(undefined);
  }

  /** An enrichment the session waited for is known now: fire it again (from the store if it left memory). */
  enriched(request: EnrichRequest, stored: SessionDoc | undefined, out: Emission[]): void {
    this.out = out;
    const live = this.findOpen(request.session.key, request.session.id);
    if (live) {
      live.dirty = true;
      return this.fire(live, 'enrich');
    }
    if (!stored || stored.id !== request.session.id || stored.template !== this.template.id || stored.status === 'merged') return;
    // Not kept in memory: its window is closed; the next change comes through the late path.
    this.fire(this.fromStored(stored, stored.status), 'enrich');
  }

  /** Re-offers stored orphans to the sessions (see AdoptRequest); each takes the on-time path again. */
  adopt(request: AdoptRequest, orphans: readonly OrphanDoc[], out: Emission[]): void {
    this.out = out;
    for (const orphan of orphans) {
      const step = this.template.stepsByName.get(orphan.step);
      if (orphan.template !== this.template.id || step?.kind !== 'supplement' || step.join.field !== request.field) {
        this.emitOrphan(orphan);
        continue;
      }
      const id = dedupId(orphan.value, this.template.sources.get(orphan.source)?.id);
      this.onSupplement({
        template: this.template.id, step: step.name, stepIndex: step.index, source: orphan.source, time: orphan.time, id,
        key: request.value, value: orphan.value, raw: undefined,
      });
    }
    this.tick(undefined);
  }

  private whileRepairing(work: () => void): void {
    this.repairing = true;
    try {
      work();
    } finally {
      this.repairing = false;
    }
  }

  private onAnchor(event: NormalEvent): void {
    if (event.time < this.watermark) return this.late(event, this.watermark, { by: 'key', key: event.key });
    this.placeAnchor(event);
  }

  private onSupplement(event: NormalEvent): void {
    const join = this.joinsByStep.get(event.stepIndex)!;
    const session = join.match(event);
    if (session) return this.attach(session, event);
    const sourceWatermark = this.watermarks.of(event.source);
    if (event.time < sourceWatermark || join.matchesClosed(event)) {
      return this.late(event, sourceWatermark, { by: 'field', field: join.field, value: event.key });
    }
    this.park(join, event);
  }

  private late(event: NormalEvent, watermark: number, lookup: { by: 'key'; key: string } | { by: 'field'; field: string; value: string }): void {
    if (this.tooLate(event, watermark)) return;
    this.counters.lateRequested++;
    this.out.push({ kind: 'late', request: { lookup: { template: this.template.id, ...lookup }, event } });
  }

  /** Past `session.lateness`: reported as a late-dropped orphan, never silently lost. */
  private tooLate(event: NormalEvent, watermark: number): boolean {
    const lateness = this.template.session.latenessMs;
    if (event.time >= watermark - lateness) return false;
    this.counters.lateDropped++;
    this.emitOrphan(this.orphanOf(event,
      `late-dropped: ${formatDuration(watermark - event.time)} behind the watermark, beyond lateness ${formatDuration(lateness)}`));
    return true;
  }

  private placeAnchor(event: NormalEvent): void {
    const placement = this.windows.place(event.key, event);
    if (placement.duplicate) {
      this.counters.duplicates++;
      return;
    }
    const session = placement.session;
    const absorbed = placement.absorbed;
    for (let i = 0; i < absorbed.length; i++) this.tombstone(absorbed[i]!, session);
    if (placement.created || absorbed.length > 0) {
      const linked = this.windows.linkSplits(event.key);
      for (let i = 0; i < linked.length; i++) if (linked[i] !== session) this.markDirty(linked[i]!);
    }
    this.changed(session, event.stepIndex);
  }

  private attach(session: SessionState, event: NormalEvent): void {
    if (session.has(event.stepIndex, event.id)) {
      this.counters.duplicates++;
      return;
    }
    session.addSupplement(event);
    this.changed(session, event.stepIndex);
  }

  private park(join: JoinIndex, event: NormalEvent): void {
    if (join.expiry(event) < this.watermark) return this.orphanSupplement(join, event);
    if (!join.wait(event)) this.counters.duplicates++;
  }

  /** After any change: refresh join values (taking waiting supplements, repeatedly for chains), then the complete trigger. */
  private changed(session: SessionState, step: number | undefined): void {
    this.refreshJoins(session, step);
    this.markDirty(session);
    if (!session.completeFired && session.isComplete(this.template)) {
      session.completeFired = true;
      this.fire(session, 'complete');
    }
  }

  private refreshJoins(session: SessionState, step: number | undefined): void {
    const joins = this.joins;
    if (joins.length === 0) return;
    for (let changedStep = step; ; changedStep = undefined) {
      if (session.announced === undefined || changedStep === undefined || this.joinReads[changedStep]) this.announce(session);
      const announced = session.announced!;
      let attached = false;
      for (let j = 0; j < joins.length; j++) {
        const values = announced[j]!;
        for (let v = 0; v < values.length; v++) {
          const taken = joins[j]!.take(values[v]!, session);
          for (let k = 0; k < taken.length; k++) {
            const event = taken[k]!;
            if (session.has(event.stepIndex, event.id)) this.counters.duplicates++;
            else {
              session.addSupplement(event);
              attached = true;
            }
          }
        }
      }
      if (!attached) return;
    }
  }

  /** Re-evaluates the join fields and tells each join index which values the session now offers. */
  private announce(session: SessionState): void {
    const fields = joinFieldValues(this.template, session);
    const before = session.announced;
    const announced = before ?? new Array<readonly string[]>(this.joins.length);
    for (let j = 0; j < this.joins.length; j++) {
      const join = this.joins[j]!;
      const old = before === undefined ? NO_VALUES : before[j]!;
      // Most re-evaluations offer what the session already offered: checked before building a list.
      if (offersExactly(fields[join.field], old)) {
        announced[j] = old;
        continue;
      }
      const values = joinValues(fields, join.field);
      if (sameValues(old, values)) {
        announced[j] = old;
        continue;
      }
      if (this.repairing && this.firstOfField[j]) {
        for (const value of values) {
          if (!old.includes(value)) this.out.push({ kind: 'adopt', request: { template: this.template.id, field: join.field, value } });
        }
      }
      join.announce(session, old, values);
      announced[j] = values;
    }
    session.announced = announced;
  }

  private markDirty(session: SessionState): void {
    session.dirty = true;
    if (this.template.session.idleFireMs === undefined || session.idleQueued) return;
    session.idleQueued = true;
    this.idleQueue.push(session);
    if (this.idleQueue.length > 1024 && this.idleQueue.length > 2 * this.windows.open) this.compactIdleQueue();
  }

  /**
   * Time moved: watermarks, then the timers they make due, then the idle trigger. `recordOf`: the
   * source of an on-time record that caused this tick. Such a record registers no timer that is
   * already due (its window ends after the watermark, a parked supplement expires after it), so
   * when neither the stage watermark nor a supplement source moved there is nothing to sweep.
   */
  private tick(at: number | undefined, recordOf?: string): void {
    if (at !== undefined && (this.now === undefined || at > this.now)) this.now = at;
    if (this.progressAt === undefined) this.progressAt = this.now;
    const stage = this.watermarks.stage(this.template.anchorSources, this.now);
    const advanced = stage > this.watermark;
    if (advanced) {
      this.watermark = stage;
      this.progressAt = this.now;
    }
    if (advanced || recordOf === undefined || this.supplementSources.has(recordOf)) this.sweep();
    this.idleTrigger();
  }

  /** Closes the windows, orphans the parked supplements and forgets the memories the watermarks passed. */
  private sweep(): void {
    for (let s = this.windows.nextDue(this.watermark); s !== undefined; s = this.windows.nextDue(this.watermark)) this.close(s);
    for (let i = 0; i < this.joins.length; i++) {
      const join = this.joins[i]!;
      for (let e = join.nextExpired(this.watermark); e !== undefined; e = join.nextExpired(this.watermark)) this.orphanSupplement(join, e);
      join.forgetClosed(this.watermarks.of(join.step.source));
    }
    this.windows.forgetPast(this.watermark);
  }

  /** No watermark progress for `idleFire` of processing time: fire what changed, provisionally. */
  private idleTrigger(): void {
    const idleMs = this.template.session.idleFireMs;
    if (idleMs === undefined || this.now === undefined || this.idleQueue.length === 0) return;
    if (this.now - Math.max(this.progressAt ?? this.now, this.idleFiredAt) < idleMs) return;
    const queue = this.idleQueue;
    this.idleQueue = [];
    let anyLive = false;
    for (const session of queue) {
      session.idleQueued = false;
      if (!session.live) continue;
      anyLive = true;
      if (session.dirty) this.fire(session, 'idle');
    }
    if (anyLive) this.idleFiredAt = this.now;
  }

  private compactIdleQueue(): void {
    this.idleQueue = this.idleQueue.filter((session) => {
      if (!session.live) session.idleQueued = false;
      return session.live;
    });
  }

  /** The window closed: fire final (unless a repaired session did not change) and leave memory. */
  private close(session: SessionState): void {
    this.windows.remove(session);
    if (session.dirty || session.status !== 'final') this.fire(session, session.status === 'final' ? 'late' : 'watermark');
    this.withdrawJoins(session, true);
    session.live = false;
    this.windows.remember(session.key, session.id, session.start, session.end);
  }

  /** The session leaves the join indexes (kept findable as closed when it closed, not when merged away). */
  private withdrawJoins(session: SessionState, keepAsClosed: boolean): void {
    const announced = session.announced;
    for (let j = 0; j < this.joins.length; j++) this.joins[j]!.withdraw(session, announced?.[j] ?? NO_VALUES, keepAsClosed);
  }

  private tombstone(gone: SessionState, survivor: SessionState): void {
    this.counters.merges++;
    this.withdrawJoins(gone, false);
    if (!gone.fired) return;
    gone.version++;
    this.counters.fires.merge++;
    this.out.push({
      kind: 'fire',
      trigger: 'merge',
      session: {
        id: gone.id, template: this.template.id, key: gone.key, start: gone.start, end: gone.end,
        status: 'merged', version: gone.version, verdict: null, severity: null, explain: null,
        splitOf: gone.splitOf, mergedInto: survivor.id, fields: {}, events: [],
      },
    });
  }

  private fire(session: SessionState, trigger: Trigger): void {
    const unchanged = !session.dirty && session.evaluation !== undefined && session.eventDocs !== undefined && session.evaluation.pending.length === 0;
    const result = unchanged ? session.evaluation! : evaluate(this.template, session, this.enrichment);
    if (trigger === 'watermark' || trigger === 'late') session.status = 'final';
    const events = session.status === 'final' ? finalEventDocs(session.events) : unchanged ? session.eventDocs! : this.eventDocs(session);
    session.evaluation = result;
    session.eventDocs = events;
    session.version++;
    session.dirty = false;
    this.counters.fires[trigger]++;
    this.out.push({
      kind: 'fire',
      trigger,
      session: {
        id: session.id, template: this.template.id, key: session.key, start: session.start, end: session.end,
        status: session.status, version: session.version, verdict: result.verdict, severity: result.severity,
        explain: result.explain, splitOf: session.splitOf, mergedInto: null, fields: result.fields,
        events,
      },
    });
    for (let i = 0; i < result.pending.length; i++) {
      const { enrichment, key } = result.pending[i]!;
      this.out.push({ kind: 'enrich', request: { template: this.template.id, enrichment, key, session: { id: session.id, key: session.key } } });
    }
  }

  /** The held events themselves, already in time order (a fire's document shares them, never copies). */
  private eventDocs(session: SessionState): readonly EventDoc[] {
    return session.events.slice();
  }

  private orphanSupplement(join: JoinIndex, event: NormalEvent): void {
    const { field, lowMs, highMs } = join.step.join;
    this.emitOrphan({
      ...this.orphanOf(event, `no session offered ${field}=${event.key} within [${formatDuration(lowMs)}, ${formatDuration(highMs)}] of its window`),
      joinField: field,
      joinValue: event.key,
    });
  }

  private orphanOf(event: NormalEvent, reason: string): OrphanDoc {
    const step = this.template.steps[event.stepIndex]!;
    return { id: orphanId(this.template.id, step.name, event.id), template: this.template.id, step: step.name, source: event.source, time: event.time, value: event.value, reason };
  }

  private emitOrphan(orphan: OrphanDoc): void {
    this.counters.orphans++;
    this.out.push({ kind: 'orphan', orphan });
  }

  private findOpen(key: string, id: string): SessionState | undefined {
    return this.windows.byKey.get(key)?.find((s) => s.id === id);
  }

  private rehydrateForJoin(join: JoinIndex, event: NormalEvent, stored: readonly SessionDoc[]): SessionState | undefined {
    const offering = stored.filter((d) => joinValues(d.fields, join.field).includes(event.key) && join.accepts(d, event.time));
    const nearest = offering.sort((a, b) => distanceTo(a, event.time) - distanceTo(b, event.time))[0];
    if (!nearest) return undefined;
    return this.findOpen(nearest.key, nearest.id) ?? this.rehydrate(nearest);
  }

  /** Brings a stored session back into its window so the on-time code can apply a late record to it. */
  private rehydrate(doc: SessionDoc): SessionState {
    const session = this.fromStored(doc, 'final');
    session.completeFired = true;
    session.dirty = false;
    this.windows.insert(session);
    this.refreshJoins(session, undefined);
    return session;
  }

  /** A stored session as in-memory state (not placed in any window). */
  private fromStored(doc: SessionDoc, status: SessionState['status']): SessionState {
    const events = doc.events.flatMap((e) => this.holdStored(e.step, e.time, e.value, undefined, rawOf(e)));
    return new SessionState(doc.id, doc.key, doc.start, doc.end, events, doc.version, status, doc.splitOf);
  }

  /** A stored or snapshotted event held again; steps the template no longer has are left out. */
  private holdStored(stepName: string, time: number, value: unknown, id: string | undefined, raw: string | undefined): HeldEvent[] {
    const step = this.template.stepsByName.get(stepName);
    if (!step) return [];
    const dedup = id ?? dedupId(value, this.template.sources.get(step.source)?.id);
    return [{ step: step.name, stepIndex: step.index, source: step.source, time, id: dedup, value, raw }];
  }

  snapshot(): CorrelatorSnapshot {
    const sessions: SessionSnapshot[] = [...this.windows.byKey.values()].flat().map((s) => ({
      id: s.id, key: s.key, start: s.start, end: s.end, version: s.version, status: s.status, splitOf: s.splitOf,
      completeFired: s.completeFired, dirty: s.dirty,
      events: s.events.map((e) => ({ step: e.step, time: e.time, id: e.id, value: e.value })),
    }));
    return {
      template: this.template.id,
      watermark: this.watermark,
      now: this.now ?? null,
      progressAt: this.progressAt ?? null,
      idleFiredAt: this.idleFiredAt,
      sources: this.watermarks.snapshot(),
      sessions,
      past: this.windows.pastSessions(),
      waiting: this.joins.flatMap((j) => j.waitingEvents().map((e) => ({
        template: e.template, step: e.step, source: e.source, time: e.time, id: e.id, key: e.key, value: e.value,
      }))),
      closed: this.joins.flatMap((j) => j.closedEntries().map(([value, past]) => ({ step: j.step.name, value, past }))),
    };
  }

  restore(state: CorrelatorSnapshot): void {
    this.watermark = state.watermark;
    this.now = state.now ?? undefined;
    this.progressAt = state.progressAt ?? undefined;
    this.idleFiredAt = state.idleFiredAt;
    this.watermarks.restore(state.sources);
    for (const [key, past] of state.past) this.windows.remember(key, past.id, past.start, past.end);
    for (const w of state.waiting) {
      const step = this.template.stepsByName.get(w.step);
      const join = step && this.joinsByStep.get(step.index);
      if (join) join.wait({ ...w, stepIndex: step!.index, raw: undefined });
    }
    for (const c of state.closed) {
      const step = this.template.stepsByName.get(c.step);
      if (step) this.joinsByStep.get(step.index)?.restoreClosed(c.value, c.past);
    }
    for (const s of state.sessions) {
      const events = s.events.flatMap((e) => this.holdStored(e.step, e.time, e.value, e.id, undefined));
      const session = new SessionState(s.id, s.key, s.start, s.end, events, s.version, s.status, s.splitOf);
      session.completeFired = s.completeFired;
      this.windows.insert(session);
      this.refreshJoins(session, undefined);
      session.dirty = s.dirty;
      if (s.dirty) this.markDirty(session);
    }
  }
}

const NO_VALUES: readonly string[] = Object.freeze([]);

/** True when a scalar join field's value is the one value `values` holds (lists are compared built). */
function offersExactly(value: unknown, values: readonly string[]): boolean {
  if (value === undefined) return values.length === 0;
  return values.length === 1 && !Array.isArray(value) && (typeof value === 'string' ? value === values[0] : String(value) === values[0]);
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A final session's events: those read as text become TextEvents. The session leaves memory (or,
 * repaired, goes back to the store), so nothing here needs their parsed trees any more.
 */
function finalEventDocs(events: readonly HeldEvent[]): EventDoc[] {
  const docs: EventDoc[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    docs[i] = e.raw === undefined ? e : new TextEvent(e.step, e.source, e.time, e.raw);
  }
  return docs;
}

/** Stable for the record that opened the session, so replays give the same ids. */
function sessionId(template: string, key: string, event: HeldEvent): string {
  return hash64Joined([template, key, String(event.time), event.id]);
}
