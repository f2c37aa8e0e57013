/**
 * Applies an engine's emissions to the store: fires and orphans are buffered and written in
 * batches. Late requests wait until `settle` (the end of a batch): what is buffered is written
 * first (the lookups must see it), then the lookups run together and their answers go back to the
 * engines one by one. A session a repair brings back stays open in its engine, so a second late
 * record for it in the same batch finds it there, not in its older stored version. Adopt requests
 * (emitted by repairs) are answered at once.
 */
import type { Emission, Engine, EnrichRequest, LateRequest, OrphanDoc, SessionDoc } from '../engine/index.js';
import type { Store } from '../store/index.js';
import { orphanReasonKind, type RunMetrics } from './metrics.js';

const LINGER_SESSIONS = 2_000;
const LINGER_MS = 1_000;
/**
 * While catching up a backlog, a provisional fire (status open: complete or idle trigger) waits up
 * to this long, and at most HOLD_OPEN_SESSIONS of them, for the session's final fire to replace it:
 * on a backlog the final fire follows a gap of event time later, seconds of wall clock at most, and
 * one write then serves both. A periodic checkpoint does not write them: it carries them (see
 * `held`), so what an offset commit covers is in the store or in the checkpoint; a late lookup that
 * could find one writes that one first; shutdown and a partition moving away write them all.
 */
const HOLD_OPEN_MS = 5_000;
const HOLD_OPEN_SESSIONS = 10_000;

export class StoreSink {
  /** Fires to write with the next batch (final and merged sessions; open ones when not behind). */
  private readonly fires = new Map<string, SessionDoc>();
  /** Open sessions' fires held while behind, oldest first, with when each was first held. */
  private readonly open = new Map<string, { session: SessionDoc; since: number }>();
  private readonly orphans = new Map<string, OrphanDoc>();
  private readonly late: Array<{ engine: Engine; request: LateRequest }> = [];
  /** When the last write started (wall clock). */
  private startedAt = 0;
  /** Writes started and not yet awaited, oldest first. */
  private inflight: Array<Promise<void>> = [];
  /** Sessions of writes started and not yet durable. */
  private readonly unwritten = new Map<string, SessionDoc>();
  /** Called after each write with the sessions written (freshness measurement, tests). */
  onWritten?: (sessions: readonly SessionDoc[]) => void;
  /** A fire needs a dimension lookup the enricher's cache did not have. */
  onEnrich?: (request: EnrichRequest) => void;

  constructor(private readonly store: Store, private readonly metrics: RunMetrics) {}

  get pending(): number {
    return this.fires.size + this.open.size + this.orphans.size;
  }

  /** Drains `out` (emptied on return), answering late and adopt requests against the store. */
  async drain(engine: Engine, out: Emission[]): Promise<void> {
    for (let i = 0; i < out.length; i++) {
      const emission = out[i]!;
      switch (emission.kind) {
        case 'fire': {
          const { session, trigger } = emission;
          this.metrics.fire(session.template, trigger, session.verdict, session.events.length);
          this.hold(session);
          break;
        }
        case 'orphan':
          this.metrics.orphans.inc({ template: emission.orphan.template, reason: orphanReasonKind(emission.orphan.reason) });
          this.orphans.set(emission.orphan.id, emission.orphan);
          break;
        case 'late':
          this.late.push({ engine, request: emission.request });
          break;
        case 'enrich':
          this.onEnrich?.(emission.request);
          break;
        case 'adopt': {
          await this.flush(false); // the orphans must be in the store; held open fires are not needed
          const { template, field, value } = emission.request;
          engine.adopt(emission.request, await this.store.takeOrphans(template, field, value), out);
          break;
        }
      }
    }
    out.length = 0;
  }

  /**
   * Answers the late requests gathered so far (and whatever their repairs ask in turn). Lookups run
   * together, but a request whose sessions an earlier repair of the same round touched (same id,
   * or a session it fired matches the lookup) waits for the next round: a repaired session usually
   * closes again at once, so the answer read before that repair is stale, and repairing from it
   * would drop what the earlier repair added.
   */
  async settle(): Promise<void> {
    const out: Emission[] = [];
    while (this.late.length > 0) {
      const batch = this.late.splice(0);
      // The lookups must see what this sink fired; when none of that can match them, the store
      // already answers right and the writes need not be waited for (nor cut short while behind).
      // Of the open fires held while behind, only those a lookup could find are written first.
      if (batch.some((l) => this.mayHold(l.request.lookup))) {
        this.promote((s) => batch.some((l) => matches(l.request.lookup, s)));
        await this.flush(false);
      }
      const stored = await Promise.all(batch.map((l) => this.store.lookup(l.request.lookup)));
      const touched: SessionDoc[] = [];
      const deferred: typeof batch = [];
      for (let i = 0; i < batch.length; i++) {
        const { engine, request } = batch[i]!;
        const found = stored[i]!;
        if (touched.some((t) => found.some((d) => d.id === t.id) || matches(request.lookup, t))) {
          deferred.push(batch[i]!);
          continue;
        }
        engine.repair(request, found, out);
        touched.push(...found);
        for (const e of out) if (e.kind === 'fire') touched.push(e.session);
        await this.drain(engine, out);
      }
      this.late.unshift(...deferred);
    }
  }

  /** Keeps the highest version of each session until it is written. */
  private hold(session: SessionDoc): void {
    const held = this.fires.get(session.id) ?? this.open.get(session.id)?.session;
    if (held && held.version >= session.version) return;
    if (session.status === 'open') {
      const since = this.open.get(session.id)?.since ?? Date.now();
      this.fires.delete(session.id);
      this.open.set(session.id, { session, since });
    } else {
      this.open.delete(session.id);
      this.fires.set(session.id, session);
    }
  }

  /** Whether a session fired here and not durable yet could answer `lookup`. */
  private mayHold(lookup: LateRequest['lookup']): boolean {
    for (const s of this.fires.values()) if (matches(lookup, s)) return true;
    for (const o of this.open.values()) if (matches(lookup, o.session)) return true;
    for (const s of this.unwritten.values()) if (matches(lookup, s)) return true;
    return false;
  }

  /**
   * Writes what is buffered, and waits until it and every earlier write is durable (the store
   * retries lost connections). `all` false: the open fires held while behind stay held (a
   * periodic checkpoint carries them instead, see `held`).
   */
  async flush(all = true): Promise<void> {
    if (all) this.release(2, false);
    else this.start(Date.now());
    const writes = this.inflight;
    this.inflight = [];
    await Promise.all(writes);
  }

  /**
   * Starts writing what is buffered without waiting (the next batch is correlated meanwhile), then
   * waits only while more than `maxInflight` writes are outstanding: a slow store slows the
   * consumer down instead of letting unwritten fires pile up.
   *
   * `behind`: the input has a backlog, nobody waits on these sessions yet, so fires gather up to
   * LINGER_SESSIONS or LINGER_MS first, and open sessions' fires up to HOLD_OPEN_MS: later fires of
   * the same session (complete, then final a gap later) replace earlier ones before they are
   * written, and transactions get larger.
   */
  async release(maxInflight = 2, behind = false): Promise<void> {
    const now = Date.now();
    // Open fires that stop waiting for their final one: all when not behind, else the oldest.
    const due: SessionDoc[] = [];
    for (const [id, o] of this.open) {
      if (behind && now - o.since < HOLD_OPEN_MS && this.open.size <= HOLD_OPEN_SESSIONS) break;
      due.push(o.session);
      this.open.delete(id);
    }
    for (const session of due) this.fires.set(session.id, session);
    const pending = this.orphans.size + this.fires.size;
    const linger = behind && pending < LINGER_SESSIONS && now - this.startedAt < LINGER_MS;
    if (!linger) this.start(now);
    while (this.inflight.length > maxInflight) await this.inflight.shift();
  }

  /**
   * The open fires held while behind and not written yet (oldest first), for a checkpoint: with
   * them in it, everything the checkpointed offsets produced is in the store or in the checkpoint,
   * and a checkpoint no longer writes a provisional state that the final fire rewrites seconds later.
   */
  held(): SessionDoc[] {
    return [...this.open.values()].map((o) => o.session);
  }

  /** Takes back fires a checkpoint held (after a restart): they wait again for their final fire. */
  restoreHeld(sessions: readonly SessionDoc[]): void {
    for (const session of sessions) this.hold(session);
  }

  /** Moves held open fires that `wanted` picks to the next write. */
  private promote(wanted: (session: SessionDoc) => boolean): void {
    for (const [id, o] of this.open) {
      if (!wanted(o.session)) continue;
      this.open.delete(id);
      this.fires.set(id, o.session);
    }
  }

  /** Starts writing the buffered fires and orphans (not the held open fires). */
  private start(now: number): void {
    if (this.orphans.size + this.fires.size > 0) {
      this.startedAt = now;
      const orphans = [...this.orphans.values()];
      const sessions = [...this.fires.values()];
      this.orphans.clear();
      this.fires.clear();
      for (const session of sessions) this.unwritten.set(session.id, session);
      const write = groupWriter(this.store, this.metrics).write(sessions, orphans).then(() => {
        for (const session of sessions) if (this.unwritten.get(session.id) === session) this.unwritten.delete(session.id);
        if (sessions.length > 0) this.onWritten?.(sessions);
      });
      write.catch(() => undefined); // surfaced by the flush or release that awaits it
      this.inflight.push(write);
    }
  }
}

const writers = new WeakMap<Store, GroupWriter>();

/** One group writer per store: every shard's flush joins the next transaction. */
function groupWriter(store: Store, metrics: RunMetrics): GroupWriter {
  let writer = writers.get(store);
  if (!writer) {
    writer = new GroupWriter(store, metrics);
    writers.set(store, writer);
  }
  return writer;
}

/**
 * Group commit: while writes are in flight, every shard's flush waits for the next, which takes
 * all of them in one transaction. Small transactions from concurrent partitions (each paying a
 * commit and fighting over the same rollup rows) become one, and a lone flush still goes at once.
 * Two transactions may be in flight: one transaction is a dozen statements in a row, each waiting
 * on the server, and a second one fills those waits (the store keeps the higher version of a
 * session both carry; rows are locked in key order, and a lost race is retried by the store).
 */
class GroupWriter {
  private readonly sessions = new Map<string, SessionDoc>();
  private readonly orphans = new Map<string, OrphanDoc>();
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private running = 0;

  constructor(private readonly store: Store, private readonly metrics: RunMetrics, private readonly parallel = 2) {}

  write(sessions: readonly SessionDoc[], orphans: readonly OrphanDoc[]): Promise<void> {
    for (const s of sessions) {
      const held = this.sessions.get(s.id);
      if (!held || held.version < s.version) this.sessions.set(s.id, s);
    }
    for (const o of orphans) this.orphans.set(o.id, o);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.running < this.parallel) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running++;
    while (this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      const orphans = [...this.orphans.values()];
      const sessions = [...this.sessions.values()];
      this.orphans.clear();
      this.sessions.clear();
      try {
        if (orphans.length > 0) await this.metrics.timeWrite('orphans', () => this.store.recordOrphans(orphans));
        if (sessions.length > 0) await this.metrics.timeWrite('sessions', () => this.store.upsertSessions(sessions));
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }
    this.running--;
  }
}

/** Whether `lookup` would find `session` (by anchor key, or by a join field holding the value). */
function matches(lookup: LateRequest['lookup'], session: SessionDoc): boolean {
  if (session.template !== lookup.template) return false;
  if (lookup.by === 'key') return session.key === String(lookup.key);
  const value = session.fields[lookup.field];
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => v !== null && v !== undefined && String(v) === String(lookup.value));
}
