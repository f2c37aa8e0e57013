/**
 * One unit of engine state: an Engine per template for one partition of the anchor topic (or the
 * whole input in embedded mode). Records, marks and processing-time ticks come in; emissions go to
 * the store through a StoreSink. Everything that touches the engines runs one at a time (`serial`).
 */
import { Engine, type Emission, type EngineSnapshot, type EnrichRequest, type SessionDoc } from '../engine/index.js';
import type { Store } from '../store/index.js';
import type { CompiledTemplate } from '../template/index.js';
import type { EnrichedTarget, RunEnrichment } from './enrichment.js';
import type { RunMetrics } from './metrics.js';
import { StoreSink } from './sink.js';

/** What a shard checkpoints: per template, its engine's snapshot; open fires held unwritten (see StoreSink.held). */
export interface ShardState {
  readonly engines: Record<string, EngineSnapshot>;
  readonly held?: readonly SessionDoc[];
}

/** Input whose latest arrival time is this far behind the wall clock is a backlog being caught up. */
const BEHIND_MS = 10_000;

export class Shard implements EnrichedTarget {
  private readonly engines = new Map<string, { template: CompiledTemplate; engine: Engine }>();
  private readonly sink: StoreSink;
  private readonly out: Emission[] = [];
  /** Engine late counters at the last flush (engines count from their creation, metrics from ours). */
  private readonly lateSeen = new Map<string, { reapplied: number; dropped: number }>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Largest arrival time seen and the wall clock then: processing time runs on from there between records. */
  private lastAt: number | undefined;
  private lastAtWall = 0;
  /** Records taken since the last checkpoint (a checkpoint with nothing new is skipped). */
  dirty = false;

  constructor(
    readonly name: string,
    templates: readonly CompiledTemplate[],
    private readonly store: Store,
    private readonly metrics: RunMetrics,
    state?: ShardState,
    private readonly enrichment?: RunEnrichment,
  ) {
    this.sink = new StoreSink(store, metrics);
    if (enrichment) this.sink.onEnrich = (request) => enrichment.request(this, request);
    for (const template of templates) this.add(template, state?.engines[template.id]);
    if (state?.held) this.sink.restoreHeld(state.held);
  }

  set onWritten(listener: StoreSink['onWritten']) {
    this.sink.onWritten = listener;
  }

  /** Runs `work` after everything queued before it. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  has(template: string): boolean {
    return this.engines.has(template);
  }

  /** Feeds one record to `template`'s engine (every template's, when `template` is undefined). Returns a rejection reason. */
  async ingest(template: string | undefined, source: string, value: unknown, at: number | undefined): Promise<string | undefined> {
    this.noteArrival(at);
    this.dirty = true;
    let rejection: string | undefined;
    let known = false;
    for (const [id, { engine }] of this.engines) {
      if (template !== undefined && id !== template) continue;
      if (!engine.knowsSource(source)) continue;
      known = true;
      const reason = engine.ingest(source, value, at, this.out);
      if (reason !== undefined) rejection = reason;
      if (this.out.length > 0) await this.sink.drain(engine, this.out);
    }
    return known ? rejection : `unknown source "${source}"`;
  }

  /** A watermark mark relayed from another stage: `source`'s event time reached `time` in `template`. */
  async observe(template: string, source: string, time: number, at: number | undefined): Promise<void> {
    const engine = this.engines.get(template)?.engine;
    if (!engine) return;
    this.noteArrival(at);
    this.dirty = true;
    engine.observe(source, time, at, this.out);
    if (this.out.length > 0) await this.sink.drain(engine, this.out);
  }

  /** A lookup one of this shard's sessions waited for is known now: the session fires again (read back from the store if it left memory). */
  enriched(request: EnrichRequest): Promise<void> {
    return this.serial(async () => {
      const engine = this.engines.get(request.template)?.engine;
      if (!engine) return;
      await this.sink.flush();
      engine.enriched(request, await this.store.getSession(request.session.id), this.out);
      await this.sink.drain(engine, this.out);
      await this.flush();
      this.dirty = true;
    });
  }

  /** Processing time moved without records (idle sources, idle trigger). */
  async tick(wallNow: number): Promise<void> {
    if (this.lastAt === undefined) return;
    const now = this.lastAt + (wallNow - this.lastAtWall);
    for (const { engine } of this.engines.values()) {
      engine.advance(now, this.out);
      await this.sink.drain(engine, this.out);
    }
  }

  /** End of input (embedded mode's shutdown does not call this: open sessions are checkpointed instead). */
  async end(): Promise<void> {
    for (const { engine } of this.engines.values()) {
      engine.end(this.out);
      await this.sink.drain(engine, this.out);
    }
    await this.flush();
  }

  /** Answers late requests, then starts writing what is buffered (on a backlog it may gather more first, see StoreSink.release); waits only when too many writes are outstanding. */
  async release(): Promise<void> {
    await this.sink.settle();
    // Records that arrived (Kafka timestamps) long before now: catching up on a backlog, where
    // nobody waits on each fire yet (a fetch that merely left records to read is not that).
    const behind = this.lastAt !== undefined && Date.now() - this.lastAt > BEHIND_MS;
    await this.sink.release(2, behind);
    this.countLate();
  }

  /** Answers late requests, writes everything buffered and waits until it is durable. */
  async flush(): Promise<void> {
    await this.sink.settle();
    await this.sink.flush();
    this.countLate();
  }

  /**
   * Before a periodic checkpoint: as `flush`, but the open fires held while catching up a backlog
   * stay held; `snapshot` then carries them (they would otherwise be written now and again, final,
   * seconds later).
   */
  async flushForCheckpoint(): Promise<void> {
    await this.sink.settle();
    await this.sink.flush(false);
    this.countLate();
  }

  private countLate(): void {
    for (const [id, { engine }] of this.engines) {
      const now = lateCounts(engine);
      const before = this.lateSeen.get(id) ?? { reapplied: 0, dropped: 0 };
      if (now.reapplied > before.reapplied) this.metrics.lateReapplied.inc({ template: id }, now.reapplied - before.reapplied);
      if (now.dropped > before.dropped) this.metrics.lateDropped.inc({ template: id }, now.dropped - before.dropped);
      this.lateSeen.set(id, now);
    }
  }

  snapshot(): ShardState {
    const held = this.sink.held();
    return {
      engines: Object.fromEntries([...this.engines].map(([id, { engine }]) => [id, engine.snapshot()])),
      ...(held.length > 0 ? { held } : {}),
    };
  }

  /**
   * A template was added, changed or removed. A changed template takes over its predecessor's
   * state (snapshots name steps, so they survive edits): from this point on every fire of every
   * open session is computed wholly by the new version, never by a mix. A removed template's open
   * sessions fire final first.
   */
  async setTemplates(templates: readonly CompiledTemplate[]): Promise<void> {
    const wanted = new Map(templates.map((t) => [t.id, t]));
    for (const [id, { template, engine }] of [...this.engines]) {
      const next = wanted.get(id);
      if (next === template) continue;
      if (!next) {
        engine.end(this.out);
        await this.sink.drain(engine, this.out);
        await this.flush();
        this.engines.delete(id);
        continue;
      }
      await this.flush();
      this.add(next, engine.snapshot());
    }
    for (const template of templates) if (!this.engines.has(template.id)) this.add(template, undefined);
    await this.flush();
    this.dirty = true;
  }

  stats(): Map<string, { open: number; watermarks: Record<string, number> }> {
    return new Map([...this.engines].map(([id, { engine }]) => {
      const marks = engine.watermarks()[id];
      return [id, { open: engine.stats().openSessions, watermarks: marks?.sources ?? {} }];
    }));
  }

  private add(template: CompiledTemplate, snapshot: EngineSnapshot | undefined): void {
    const engine = new Engine([template], this.enrichment?.view);
    if (snapshot) engine.restore(snapshot);
    this.engines.set(template.id, { template, engine });
    this.lateSeen.delete(template.id);
  }

  private noteArrival(at: number | undefined): void {
    if (at === undefined || (this.lastAt !== undefined && at <= this.lastAt)) return;
    this.lastAt = at;
    this.lastAtWall = Date.now();
  }
}

function lateCounts(engine: Engine): { reapplied: number; dropped: number } {
  return { reapplied: engine.counters.lateReapplied, dropped: engine.counters.lateDropped };
}
