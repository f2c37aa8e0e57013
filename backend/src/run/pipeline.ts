/**
 * `weft run` on Kafka: three consumer groups per deployment, every instance runs all three.
 *
 *   source topics ──normalise──► anchor topic (key: template + anchor key) ──anchor──► store
 *                        │                ▲
 *                        └──► join topic (key: template + join field + value) ──join──┘
 *
 * - normalise (stateless, normalise.ts): parses, finds step, key and time with the templates,
 *   re-keys; poison records go to the dead-letter topic. Watermark marks (largest event time per source) go to every internal
 *   partition, so a partition's watermark moves with the whole source.
 * - join: learns which anchor key offers which join value and forwards supplements there.
 * - anchor: one engine per template per partition; fires go to the store.
 *
 * Durability: a stateful partition's engine state and the offset it corresponds to are
 * checkpointed together (checkpoint.ts) after its output is in the store (anchor) or acknowledged
 * by the brokers (join); only then is the Kafka offset committed. A restart reloads the checkpoint
 * and re-reads from its offset: re-fired sessions carry the same ids and versions (the store keeps
 * the higher version only), re-forwarded records are dropped by the engine's dedup. Partition
 * state never depends on which instance holds the partition, so N instances give the sessions one
 * instance gives.
 */
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { SessionDoc } from '../engine/index.js';
import type { Store } from '../store/index.js';
import type { CompiledTemplate } from '../template/index.js';
import { TopicDeadLetters } from '../sources/deadletter.js';
import { partitionOf, producerOf, topicPartitions } from '../sources/kafka.js';
import type { CheckpointStore } from './checkpoint.js';
import { AnchorGate, relayedSources, type GateState } from './gate.js';
import { Outbox, type Outgoing } from './outbox.js';
import { Packer, unpack } from './packs.js';
import type { KafkaConfig, RunConfig } from './config.js';
import { stageConsumer } from './consumers.js';
import { JoinShard, type Forward, type JoinState, type Supplement } from './joins.js';
import type { RunMetrics } from './metrics.js';
import { NormaliseStage } from './normalise.js';
import type { Offer } from './route.js';
import type { RunEnrichment } from './enrichment.js';
import { Shard, type ShardState } from './shard.js';
import type { TemplateSet } from './templates.js';

export interface PipelineDeps {
  readonly kafka: Kafka;
  readonly config: RunConfig & { kafka: KafkaConfig };
  readonly store: Store;
  readonly checkpoints: CheckpointStore;
  readonly templates: TemplateSet;
  readonly metrics: RunMetrics;
  readonly log: Logger;
  /** Called after each store write of fired sessions. */
  readonly written?: (sessions: readonly SessionDoc[]) => void;
  /** Dimension lookups of templates that enrich (issue 8). */
  readonly enrichment?: RunEnrichment;
}

/**
 * Anchor topic items (packed, see packs.ts; `a` is each one's arrival time): a record for one
 * template's engine (`time`: its event time), or a mark (`m`): source partition `o` was read up to
 * arrival time `a`, where the source reached event time `m`. `j` is set on what join partition `j` forwarded or relayed, absent on what came
 * straight from normalise.
 */
type AnchorMessage = { t: string; s: string; r: unknown; time?: number; j?: number; m?: undefined } | { t: string; s: string; m: number; o?: string; j?: number };

/** An anchor partition: its engines, and the gate that orders the direct and the join path. */
interface AnchorPart {
  readonly shard: Shard;
  readonly gate: AnchorGate;
  /** Records left to read in the partition at the last fetch (0: held messages wait on wall time). */
  lag: number;
}

interface AnchorCheckpoint extends ShardState {
  readonly gate?: GateState;
}

/** How long direct messages wait for relayed marks when the partition has nothing more to read, and how many may wait. */
const GATE_LIMITS = { maxHoldMs: 500, maxHeld: 50_000, slackMs: 1_000 };
/** Join topic items (packed, see packs.ts): a supplement, an announcement, or a clock mark. */
type JoinMessage =
  | { k: 's'; t: string; s: string; f: string; v: string; time: number; o: Offer[]; r: unknown }
  | { k: 'a'; t: string; f: string; v: string; key: string; time: number }
  | { k: 'm'; t: string; s: string; o?: string; time: number };

interface Owned<S> {
  readonly partition: number;
  state: S;
  /** Next offset to apply; earlier ones are already in `state`. */
  next: number;
  /** Offset of the last checkpoint (where a restart of this partition begins). */
  checkpointed: number;
  checkpointedAt: number;
  dirty: boolean;
  queue: Promise<unknown>;
}

export class KafkaPipeline {
  private readonly producer: Producer;
  private readonly outbox: Outbox;
  private normalise: NormaliseStage | undefined;
  private readonly joinConsumer: Consumer;
  private readonly anchorConsumer: Consumer;
  private readonly deadLetters: TopicDeadLetters;
  private readonly anchors = new Map<number, Owned<AnchorPart>>();
  private readonly joins = new Map<number, Owned<JoinShard>>();
  private readonly loading = new Map<string, Promise<unknown>>();
  /** Per template, the sources whose records reach anchor partitions through the join stage (their marks are relayed there). */
  private relayed = new Map<string, Set<string>>();
  private partitions = { anchor: 1, join: 1 };
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly joined = { join: false, anchor: false };
  private readonly kafkaConfig: KafkaConfig;
  private readonly stage: { join: string; anchor: string };

  constructor(private readonly deps: PipelineDeps) {
    const k = (this.kafkaConfig = deps.config.kafka);
    this.stage = { join: `${k.group}-join`, anchor: `${k.group}-anchor` };
    this.producer = producerOf(deps.kafka);
    this.outbox = new Outbox(this.producer);
    this.joinConsumer = stageConsumer(deps.kafka, deps.config, this.stage.join);
    this.anchorConsumer = stageConsumer(deps.kafka, deps.config, this.stage.anchor);
    for (const [name, c] of [['join', this.joinConsumer], ['anchor', this.anchorConsumer]] as const) {
      c.on(c.events.GROUP_JOIN, () => {
        this.joined[name] = true;
      });
      c.on(c.events.CRASH, (event) => {
        this.joined[name] = false;
        deps.log.error({ stage: name, err: String(event.payload.error) }, 'consumer crashed');
      });
    }
    this.deadLetters = new TopicDeadLetters(this.producer, k.topics.deadLetters);
  }

  async start(): Promise<void> {
    const { topics } = this.kafkaConfig;
    await this.producer.connect();
    const admin = this.deps.kafka.admin();
    await admin.connect();
    try {
      const internal = [topics.anchor, topics.join, topics.deadLetters];
      const counts = await topicPartitions(admin, internal, internal, this.kafkaConfig.partitions, this.deps.log);
      this.partitions = { anchor: counts.get(topics.anchor)!, join: counts.get(topics.join)! };
    } finally {
      await admin.disconnect();
    }
    this.useTemplates(this.deps.templates.templates);
    this.deps.templates.onChange((templates) => this.templatesChanged(templates));

    await this.startStateful(this.anchorConsumer, topics.anchor, this.anchors, (p) => this.anchorBatch(p));
    await this.startStateful(this.joinConsumer, topics.join, this.joins, (p) => this.joinBatch(p));
    this.normalise = new NormaliseStage({
      kafka: this.deps.kafka, config: this.deps.config, outbox: this.outbox, deadLetters: this.deadLetters, log: this.deps.log, partitions: this.partitions,
      counts: {
        recordsIn: (source, n) => this.deps.metrics.recordsIn.inc({ source }, n),
        rejected: (source, reason) => this.deps.metrics.rejected.inc({ source, reason }),
        deadLetter: (source, reason) => this.deps.metrics.deadLetters.inc({ source, reason }),
      },
    });
    await this.normalise.start(this.deps.templates.templates);
    this.timer = setInterval(() => void this.tick(), 250);
    this.timer.unref();
  }

  /** Stops fetching, finishes the batches in flight, checkpoints every owned partition, commits. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.normalise?.stop().catch(() => undefined);
    await Promise.all([this.joinConsumer.stop(), this.anchorConsumer.stop()].map((p) => p.catch(() => undefined)));
    await Promise.all([...this.joins.values()].map((o) => this.checkpointJoin(o, true)));
    await Promise.all([...this.anchors.values()].map((o) => this.checkpointAnchor(o, true)));
    await Promise.all([this.joinConsumer.disconnect(), this.anchorConsumer.disconnect()].map((p) => p.catch(() => undefined)));
    await this.producer.disconnect().catch(() => undefined);
  }

  /** Which groups this instance has joined, and the partitions it holds state for. */
  status(): { joined: { normalise: boolean; join: boolean; anchor: boolean }; anchorPartitions: number[]; joinPartitions: number[] } {
    return { joined: { normalise: this.normalise?.joined() ?? false, ...this.joined }, anchorPartitions: [...this.anchors.keys()].sort(), joinPartitions: [...this.joins.keys()].sort() };
  }

  /** Per owned partition of the internal topics, the next offset to apply (progress, for benchmarks and tests). */
  progress(): { anchor: Map<number, number>; join: Map<number, number> } {
    return {
      anchor: new Map([...this.anchors].map(([p, o]) => [p, o.next])),
      join: new Map([...this.joins].map(([p, o]) => [p, o.next])),
    };
  }

  openSessions(): Map<string, { open: number; watermarks: Map<string, number> }> {
    const result = new Map<string, { open: number; watermarks: Map<string, number> }>();
    for (const owned of this.anchors.values()) {
      for (const [template, s] of owned.state.shard.stats()) {
        const entry = result.get(template) ?? { open: 0, watermarks: new Map<string, number>() };
        entry.open += s.open;
        for (const [source, w] of Object.entries(s.watermarks)) {
          if (!Number.isFinite(w)) continue;
          entry.watermarks.set(source, Math.min(entry.watermarks.get(source) ?? Infinity, w));
        }
        result.set(template, entry);
      }
    }
    return result;
  }

  // ── templates ────────────────────────────────────────────────────────────────────────────────

  private useTemplates(templates: readonly CompiledTemplate[]): void {
    this.relayed = new Map(templates.map((t) => [t.id, relayedSources(t)]));
  }

  private async templatesChanged(templates: readonly CompiledTemplate[]): Promise<void> {
    this.useTemplates(templates);
    await Promise.all([...this.anchors.values()].map((o) => this.serial(o, async () => {
      o.state.gate.setTemplates(templates);
      await o.state.shard.setTemplates(templates);
    })));
    for (const o of this.joins.values()) o.state.setTemplates(templates);
    if (!this.stopping) await this.normalise?.setTemplates(templates);
  }

  private announce(join: Packer, t: string, offer: Offer, key: string, time: number, at: number | undefined): void {
    join.add(
      partitionOf(`${t}\u0000${offer.field}\u0000${offer.value}`, this.partitions.join),
      `{"k":"a","t":${JSON.stringify(t)},"f":${JSON.stringify(offer.field)},"v":${JSON.stringify(offer.value)},"key":${JSON.stringify(key)},"time":${time}}`,
      at,
    );
  }

  // ── stateful stages: ownership, checkpoints ──────────────────────────────────────────────────

  private async startStateful<S>(consumer: Consumer, topic: string, owned: Map<number, Owned<S>>, eachBatch: (p: EachBatchPayload) => Promise<void>): Promise<void> {
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assigned = new Set(event.payload.memberAssignment[topic] ?? []);
      for (const [partition, o] of owned) {
        if (assigned.has(partition)) continue;
        // Moved to another instance: keep what we did, then forget it (the new owner reloads it).
        owned.delete(partition);
        this.deps.log.info({ topic, partition, offset: o.next }, 'partition released');
        void (topic === this.kafkaConfig.topics.anchor
          ? this.checkpointAnchor(o as unknown as Owned<AnchorPart>, true)
          : this.checkpointJoin(o as unknown as Owned<JoinShard>, true)).catch(() => undefined);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: Math.max(1, this.kafkaConfig.partitions),
      eachBatchAutoResolve: false,
      eachBatch,
    });
  }

  private serial<S, T>(o: Owned<S>, work: () => Promise<T>): Promise<T> {
    const next = o.queue.then(work, work);
    o.queue = next.catch(() => undefined);
    return next;
  }

  private async own<S>(stage: string, topic: string, owned: Map<number, Owned<S>>, partition: number, firstOffset: number, make: (state: unknown) => S): Promise<Owned<S>> {
    const have = owned.get(partition);
    if (have) return have;
    const loadKey = `${stage}/${partition}`;
    let loading = this.loading.get(loadKey) as Promise<Owned<S>> | undefined;
    if (!loading) {
      loading = (async () => {
        const checkpoint = await this.deps.checkpoints.load(stage, topic, partition);
        const next = checkpoint?.offset ?? firstOffset;
        if (checkpoint && checkpoint.offset < firstOffset) {
          this.deps.log.warn({ stage, partition, checkpoint: checkpoint.offset, firstOffset }, 'committed offset is past the checkpoint; records in between were applied by an earlier owner whose checkpoint was lost');
        }
        const o: Owned<S> = {
          partition, state: make(checkpoint?.state), next, checkpointed: next, checkpointedAt: Date.now(), dirty: false, queue: Promise.resolve(),
        };
        owned.set(partition, o);
        this.deps.log.info({ stage, partition, offset: next, restored: checkpoint !== undefined }, 'partition taken');
        return o;
      })();
      this.loading.set(loadKey, loading);
      loading.finally(() => this.loading.delete(loadKey)).catch(() => undefined);
    }
    return loading;
  }

  // ── anchor stage ─────────────────────────────────────────────────────────────────────────────

  private async anchorBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const { metrics } = this.deps;
    const o = await this.own(this.stage.anchor, batch.topic, this.anchors, batch.partition, Number(batch.firstOffset()),
      (state) => this.anchorPart(batch.partition, state as AnchorCheckpoint | undefined));
    if (this.anchors.get(batch.partition) !== o) return;
    const { shard, gate } = o.state;
    try {
      await this.serial(o, async () => {
        let n = 0;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < o.next) continue;
          if (!isRunning() || isStale()) break;
          const now = Date.now();
          for (const envelope of unpack<AnchorMessage>(message.value, message.timestamp)) {
            const at = envelope.a;
            const t = envelope.t;
            if (envelope.m !== undefined) {
              const origin = envelope.o ?? '';
              if (at === undefined) await shard.observe(t, envelope.s, envelope.m, undefined);
              else if (envelope.j !== undefined) gate.relay(t, envelope.s, origin, envelope.j, envelope.m, at, now);
              else if (!gate.isRelayed(t, envelope.s)) gate.mark(t, envelope.s, origin, envelope.m, at, now);
            } else if (!gate.record(t, envelope.s, envelope.time ?? 0, at, envelope.r, now)) {
              await this.apply(shard, t, envelope.s, envelope.r, at);
            }
            if (++n % 2000 === 0) await heartbeat();
          }
          o.next = offset + 1;
          o.dirty = true;
        }
        o.state.lag = Number(batch.offsetLag());
        for (const t of gate.templatesHolding()) await this.letThrough(o.state, t, Date.now(), o.state.lag === 0);
        await shard.release();
        // Moves kafkajs's fetch position only; commits happen with checkpoints.
        if (o.next > 0) resolveOffset(String(o.next - 1));
      });
    } catch (error) {
      await this.recover(this.anchorConsumer, batch.topic, this.anchors, o, error);
      return;
    }
    metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    if (Date.now() - o.checkpointedAt >= this.deps.config.checkpoint.intervalMs) await this.checkpointAnchor(o, false);
  }

  private anchorPart(partition: number, state: AnchorCheckpoint | undefined): AnchorPart {
    const { templates } = this.deps.templates;
    const shard = new Shard(`anchor/${partition}`, templates, this.deps.store, this.deps.metrics, state, this.deps.enrichment);
    if (this.deps.written) shard.onWritten = this.deps.written;
    return { shard, gate: new AnchorGate(templates, this.partitions.join, GATE_LIMITS, state?.gate), lag: 0 };
  }

  private async apply(shard: Shard, template: string, source: string, record: unknown, at: number | undefined): Promise<void> {
    const rejection = await shard.ingest(template, source, record, at);
    if (rejection !== undefined) this.deps.log.warn({ template, source, rejection }, 'record refused by the engine after routing (template changed?)');
  }

  /**
   * Feeds the engine the messages of `template` that no longer wait (see gate.ts). Marks carry no
   * processing time: the records they cover carry theirs.
   */
  private async letThrough(part: AnchorPart, template: string, now: number, idle: boolean): Promise<void> {
    for (const held of part.gate.release(template, now, idle)) {
      if (held.record === undefined) await part.shard.observe(template, held.source, held.time, undefined);
      else await this.apply(part.shard, template, held.source, held.record, held.at);
    }
  }

  private async checkpointAnchor(o: Owned<AnchorPart>, final: boolean): Promise<void> {
    await this.checkpoint(this.stage.anchor, this.kafkaConfig.topics.anchor, this.anchorConsumer, o, final, async () => {
      // A partition that stops here (shutdown, moved away) writes everything; a periodic checkpoint carries the held open fires.
      if (final) await o.state.shard.flush();
      else await o.state.shard.flushForCheckpoint();
      return { ...o.state.shard.snapshot(), gate: o.state.gate.snapshot() } satisfies AnchorCheckpoint;
    });
  }

  // ── join stage ───────────────────────────────────────────────────────────────────────────────

  private async joinBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const o = await this.own(this.stage.join, batch.topic, this.joins, batch.partition, Number(batch.firstOffset()),
      (state) => new JoinShard(this.deps.templates.templates, state as JoinState | undefined));
    if (this.joins.get(batch.partition) !== o) return;
    try {
      await this.serial(o, async () => {
        const forwards: Forward[] = [];
        /** Marks of relayed sources seen in this batch: passed on after every forward of the batch. */
        const relays = new Map<string, { time: number; at: number | undefined }>();
        let next = o.next;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < next) continue;
          if (!isRunning() || isStale()) break;
          for (const m of unpack<JoinMessage>(message.value, message.timestamp)) {
            if (m.k === 's') {
              const s: Supplement = { template: m.t, source: m.s, field: m.f, value: m.v, time: m.time, at: m.a, record: m.r, offers: m.o };
              forwards.push(...o.state.supplement(s));
            } else if (m.k === 'a') {
              forwards.push(...o.state.announce({ template: m.t, field: m.f, value: m.v, key: m.key, time: m.time }));
            } else {
              forwards.push(...o.state.advance(m.t, m.s, m.time));
              if (this.relayed.get(m.t)?.has(m.s)) {
                const key = `${m.t}\u0000${m.s}\u0000${m.o ?? ''}`;
                const was = relays.get(key);
                relays.set(key, { time: Math.max(m.time, was?.time ?? -Infinity), at: was?.at !== undefined && (m.a === undefined || was.at > m.a) ? was.at : m.a });
              }
            }
          }
          next = offset + 1;
        }
        await heartbeat();
        await this.forward(forwards, batch.partition, relays);
        o.next = next;
        o.dirty = true;
        if (next > 0) resolveOffset(String(next - 1));
      });
    } catch (error) {
      await this.recover(this.joinConsumer, batch.topic, this.joins, o, error);
      return;
    }
    this.deps.metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    if (Date.now() - o.checkpointedAt >= this.deps.config.checkpoint.intervalMs) await this.checkpointJoin(o, false);
  }

  /**
   * Supplements to their session's anchor partition (or their value's home); chained join values
   * announced; then this join partition's marks of relayed sources to every anchor partition.
   */
  private async forward(forwards: readonly Forward[], from: number, relays: ReadonlyMap<string, { time: number; at: number | undefined }>): Promise<void> {
    const anchor = new Packer();
    const join = new Packer();
    for (const { supplement: s, key } of forwards) {
      const route = key === null ? `${s.template}\u0000\u0000${s.field}\u0000${s.value}` : `${s.template}\u0000${key}`;
      anchor.add(partitionOf(route, this.partitions.anchor), JSON.stringify({ t: s.template, s: s.source, time: s.time, j: from, r: s.record }), s.at);
      if (key !== null) for (const offer of s.offers) this.announce(join, s.template, offer, key, s.time, s.at);
    }
    for (const [key, { time, at }] of relays) {
      const [t, source, origin] = key.split('\u0000') as [string, string, string];
      const value = `{"t":${JSON.stringify(t)},"s":${JSON.stringify(source)},"o":${JSON.stringify(origin)},"j":${from},"m":${time}}`;
      for (let p = 0; p < this.partitions.anchor; p++) anchor.add(p, value, at);
    }
    const out: Outgoing[] = [{ topic: this.kafkaConfig.topics.anchor, messages: anchor.messages() }];
    const joins = join.messages();
    if (joins.length > 0) out.push({ topic: this.kafkaConfig.topics.join, messages: joins });
    await this.outbox.send(out);
  }

  private async checkpointJoin(o: Owned<JoinShard>, final: boolean): Promise<void> {
    await this.checkpoint(this.stage.join, this.kafkaConfig.topics.join, this.joinConsumer, o, final, async () => o.state.snapshot());
  }

  // ── shared ───────────────────────────────────────────────────────────────────────────────────

  /** State and offset in one row, then the Kafka commit (advisory: the checkpoint is what a restart reads). */
  private async checkpoint<S>(stage: string, topic: string, consumer: Consumer, o: Owned<S>, final: boolean, state: () => Promise<unknown>): Promise<void> {
    await this.serial(o, async () => {
      if (!o.dirty && o.next === o.checkpointed) {
        o.checkpointedAt = Date.now();
        return;
      }
      const snapshot = await state();
      const offset = o.next;
      await this.deps.metrics.timeWrite('checkpoint', () => this.deps.checkpoints.save(stage, topic, o.partition, { offset, state: snapshot }));
      o.checkpointed = offset;
      o.checkpointedAt = Date.now();
      o.dirty = false;
      try {
        await consumer.commitOffsets([{ topic, partition: o.partition, offset: String(offset) }]);
      } catch (error) {
        if (!final) this.deps.log.debug({ stage, partition: o.partition, err: String(error) }, 'offset commit failed (checkpoint stands)');
      }
    });
  }

  /**
   * A batch failed past the store's own retries: the partition's in-memory state may be ahead of
   * what is durable, so it is dropped and the partition re-read from its last checkpoint.
   */
  private async recover<S>(consumer: Consumer, topic: string, owned: Map<number, Owned<S>>, o: Owned<S>, error: unknown): Promise<void> {
    this.deps.log.error({ topic, partition: o.partition, err: error instanceof Error ? error.message : String(error) }, 'partition failed; reloading it from its checkpoint');
    owned.delete(o.partition);
    consumer.seek({ topic, partition: o.partition, offset: String(o.checkpointed) });
  }

  /** Processing time for idle triggers; periodic checkpoints of partitions that went quiet; gauges. */
  private async tick(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    const interval = this.deps.config.checkpoint.intervalMs;
    await Promise.all([...this.anchors.values()].map(async (o) => {
      try {
        await this.serial(o, async () => {
          const { shard, gate } = o.state;
          for (const t of gate.templatesHolding()) await this.letThrough(o.state, t, now, o.state.lag === 0);
          await shard.tick(now);
          await shard.release();
        });
        if (now - o.checkpointedAt >= interval) await this.checkpointAnchor(o, false);
      } catch (error) {
        this.deps.log.warn({ partition: o.partition, err: String(error) }, 'tick failed');
      }
    }));
    await Promise.all([...this.joins.values()].map(async (o) => {
      if (now - o.checkpointedAt >= interval) await this.checkpointJoin(o, false).catch(() => undefined);
    }));
    for (const [template, s] of this.openSessions()) {
      this.deps.metrics.openSessions.set({ template }, s.open);
      for (const [source, w] of s.watermarks) this.deps.metrics.watermarkLag.set({ template, source }, Math.max(0, (now - w) / 1000));
    }
  }
}
