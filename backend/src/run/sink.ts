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

export class StoreSink {
  private readonly fires = new Map<string, SessionDoc>();
  private readonly orphans = new Map<string, OrphanDoc>();
  private readonly late: Array<{ engine: Engine; request: LateRequest }> = [];
  /** Writes started and not yet awaited, oldest first. */
  private inflight: Array<Promise<void>> = [];
  /** Called after each write with the sessions written (freshness measurement, tests). */
  onWritten?: (sessions: readonly SessionDoc[]) => void;
  /** A fire needs a dimension lookup the enricher's cache did not have. */
  onEnrich?: (request: EnrichRequest) => void;

  constructor(private readonly store: Store, private readonly metrics: RunMetrics) {}

  get pending(): number {
    return this.fires.size + this.orphans.size;
  }

  /** Drains `out` (emptied on return), answering late and adopt requests against the store. */
  async drain(engine: Engine, out: Emission[]): Promise<void> {
    for (let i = 0; i < out.length; i++) {
      const emission = out[i]!;
      switch (emission.kind) {
        case 'fire': {
          const { session, trigger } = emission;
          this.metrics.fire(session.template, trigger, session.verdict, session.events.length);
          const held = this.fires.get(session.id);
          if (!held || held.version < session.version) this.fires.set(session.id, session);
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
          await this.flush();
          const { template, field, value } = emission.request;
          engine.adopt(emission.request, await this.store.takeOrphans(template, field, value), out);
          break;
        }
      }
    }
    out.length = 0;
  }

  /** Answers the late requests gathered so far (and whatever their repairs ask in turn). */
  async settle(): Promise<void> {
    const out: Emission[] = [];
    while (this.late.length > 0) {
      const batch = this.late.splice(0);
      await this.flush();
      const stored = await Promise.all(batch.map((l) => this.store.lookup(l.request.lookup)));
      for (let i = 0; i < batch.length; i++) {
        const { engine, request } = batch[i]!;
        engine.repair(request, stored[i]!, out);
        await this.drain(engine, out);
      }
    }
  }

  /** Writes what is buffered, and waits until it and every earlier write is durable (the store retries lost connections). */
  async flush(): Promise<void> {
    this.release();
    const writes = this.inflight;
    this.inflight = [];
    await Promise.all(writes);
  }

  /**
   * Starts writing what is buffered without waiting (the next batch is correlated meanwhile), then
   * waits only while more than `maxInflight` writes are outstanding: a slow store slows the
   * consumer down instead of letting unwritten fires pile up.
   */
  async release(maxInflight = 2): Promise<void> {
    if (this.orphans.size > 0 || this.fires.size > 0) {
      const orphans = [...this.orphans.values()];
      const sessions = [...this.fires.values()];
      this.orphans.clear();
      this.fires.clear();
      const write = groupWriter(this.store, this.metrics).write(sessions, orphans).then(() => {
        if (sessions.length > 0) this.onWritten?.(sessions);
      });
      write.catch(() => undefined); // surfaced by the flush or release that awaits it
      this.inflight.push(write);
    }
    while (this.inflight.length > maxInflight) await this.inflight.shift();
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
 * Group commit: while one write is in flight, every shard's flush waits for the next, which takes
 * all of them in one transaction. Small transactions from concurrent partitions (each paying a
 * commit and fighting over the same rollup rows) become one, and a lone flush still goes at once.
 */
class GroupWriter {
  private readonly sessions = new Map<string, SessionDoc>();
  private readonly orphans = new Map<string, OrphanDoc>();
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private running = false;

  constructor(private readonly store: Store, private readonly metrics: RunMetrics) {}

  write(sessions: readonly SessionDoc[], orphans: readonly OrphanDoc[]): Promise<void> {
    for (const s of sessions) {
      const held = this.sessions.get(s.id);
      if (!held || held.version < s.version) this.sessions.set(s.id, s);
    }
    for (const o of orphans) this.orphans.set(o.id, o);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
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
    this.running = false;
  }
}
