/**
 * The normalise stage of `weft run` on Kafka (stateless): reads the source topics, parses each
 * record, finds its step, key and time with the templates' routers, and re-keys it onto the
 * internal topics (packs, see packs.ts): anchor records to the anchor topic by template and anchor
 * key, supplements and join-value announcements to the join topic by join value. Watermark marks
 * (largest event time per source) go to every internal partition, so a partition's watermark
 * moves with the whole source. Poison records go to the dead-letter topic.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CompiledTemplate } from '../template/index.js';
import type { DeadLetter, DeadLetters } from '../sources/deadletter.js';
import { partitionOf } from '../sources/kafka.js';
import type { KafkaConfig, RunConfig } from './config.js';
import { stageConsumer } from './consumers.js';
import { relayedSources } from './gate.js';
import type { Outbox } from './outbox.js';
import { Packer } from './packs.js';
import { Router, type Offer, type RejectReason } from './route.js';

/**
 * Normalise reads its source partitions in step by arrival time: a partition more than this ahead
 * of the slowest one that still has records to read pauses until that one catches up.
 */
const ALIGN_MS = 5_000;

/**
 * Within a batch that spans more arrival time than this (a backlog), normalise also marks each
 * directly routed source's progress every this much arrival time, so anchor partitions' watermarks
 * move as often as a replay's would (otherwise only at batch ends, which fires the idle trigger).
 */
const MARK_EVERY_MS = 10_000;

/** What normalise counts (the instance's metrics: records in, refused, dead letters). */
export interface NormaliseCounts {
  recordsIn(source: string, n: number): void;
  rejected(source: string, reason: RejectReason): void;
  deadLetter(source: string, reason: string): void;
}

export interface NormaliseDeps {
  readonly kafka: Kafka;
  readonly config: Pick<RunConfig, 'sources' | 'backpressure'> & { kafka: KafkaConfig };
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetters;
  readonly counts: NormaliseCounts;
  readonly log: Logger;
  /** Partitions of the internal topics. */
  readonly partitions: { readonly anchor: number; readonly join: number };
}

export class NormaliseStage {
  private readonly consumer: Consumer;
  private routers = new Map<string, Router>();
  /** Per template, the sources whose records reach anchor partitions through the join stage (their marks are relayed there). */
  private relayed = new Map<string, Set<string>>();
  private topicSources = new Map<string, string[]>();
  private subscribed = new Set<string>();
  private readonly sentMarks = new Map<string, number>();
  /** Per source topic-partition: arrival time of the latest record normalised, and records left to read then. */
  private readonly frontier = new Map<string, { topic: string; partition: number; at: number; lag: number }>();
  private readonly paused = new Map<string, () => void>();
  private alignedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopping = false;
  private inGroup = false;

  constructor(private readonly deps: NormaliseDeps) {
    this.consumer = stageConsumer(deps.kafka, deps.config, `${deps.config.kafka.group}-normalise`);
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.inGroup = true;
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      this.inGroup = false;
      deps.log.error({ stage: 'normalise', err: String(event.payload.error) }, 'consumer crashed');
    });
  }

  async start(templates: readonly CompiledTemplate[]): Promise<void> {
    this.useTemplates(templates);
    await this.run();
    this.deps.log.info({ topics: [...this.subscribed] }, 'normalise stage started');
    // Never wait long on a partition that stopped delivering (no batch from it for a second).
    this.timer = setInterval(() => {
      if (this.paused.size > 0 && Date.now() - this.alignedAt > 1_000) this.resumeAligned(Infinity, true);
    }, 250);
    this.timer.unref();
  }

  async setTemplates(templates: readonly CompiledTemplate[]): Promise<void> {
    this.useTemplates(templates);
    const topics = new Set(this.topicSources.keys());
    const same = topics.size === this.subscribed.size && [...topics].every((t) => this.subscribed.has(t));
    if (!same && !this.stopping) {
      this.deps.log.info({ topics: [...topics] }, 'source topics changed: resubscribing');
      await this.consumer.stop();
      await this.run();
    }
  }

  /** Whether its consumer is in its group (readiness). */
  joined(): boolean {
    return this.inGroup;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.consumer.disconnect().catch(() => undefined);
  }

  private useTemplates(templates: readonly CompiledTemplate[]): void {
    this.routers = new Map(templates.map((t) => [t.id, new Router(t)]));
    this.relayed = new Map(templates.map((t) => [t.id, relayedSources(t)]));
    const topicSources = new Map<string, string[]>();
    for (const t of templates) {
      for (const s of t.sources.values()) {
        const topic = this.deps.config.sources[s.name]?.topic ?? s.topic;
        const names = topicSources.get(topic) ?? [];
        if (!names.includes(s.name)) names.push(s.name);
        topicSources.set(topic, names);
      }
    }
    this.topicSources = topicSources;
  }

  private async run(): Promise<void> {
    const topics = [...this.topicSources.keys()];
    this.subscribed = new Set(topics);
    if (topics.length === 0) return;
    if (!this.running) await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: this.deps.config.kafka.fromBeginning });
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 1000,
      partitionsConsumedConcurrently: 2,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.normaliseBatch(payload),
    });
    this.running = true;
  }

  private async normaliseBatch({ batch, resolveOffset, heartbeat, pause }: EachBatchPayload): Promise<void> {
    const sources = this.topicSources.get(batch.topic) ?? [];
    const { topics } = this.deps.config.kafka;
    const anchorOut = new Packer();
    const joinOut = new Packer();
    const dead: DeadLetter[] = [];
    const maxTime = new Map<string, number>();
    const origin = `${batch.topic}/${batch.partition}`;
    const firstAt = Number(batch.messages[0]?.timestamp);
    let markedAt = firstAt;
    let latest: number | undefined;
    // Once per batch: a labelled counter's increment hashes its labels, which per record cost more than routing.
    if (batch.messages.length > 0) for (const source of sources) this.deps.counts.recordsIn(source, batch.messages.length);
    for (const message of batch.messages) {
      const text = message.value?.toString('utf8') ?? '';
      const timestamp = Number(message.timestamp);
      if (latest === undefined || timestamp > latest) latest = timestamp;
      if (timestamp - markedAt >= MARK_EVERY_MS) {
        this.progressMarks(maxTime, origin, timestamp, anchorOut);
        markedAt = timestamp;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        for (const source of sources) this.reject(source, 'malformed');
        dead.push({ source: sources[0] ?? batch.topic, reason: 'malformed', detail: `not JSON: ${(error as Error).message}`, raw: message.value ?? '', origin: `${origin}@${message.offset}` });
        continue;
      }
      for (const source of sources) {
        let refusal: { reason: RejectReason; detail: string } | undefined;
        let taken = false;
        for (const router of this.routers.values()) {
          if (!router.template.sources.has(source)) continue;
          const t = router.template.id;
          const route = router.route(source, value);
          if (route.kind === 'rejected') {
            refusal ??= route;
            continue;
          }
          const markKey = `${t}\u0000${source}`;
          if (route.time > (maxTime.get(markKey) ?? -Infinity)) maxTime.set(markKey, route.time);
          if (route.kind === 'unmatched') continue;
          taken = true;
          if (route.kind === 'anchor' || route.kind === 'keyless') {
            const key = route.kind === 'anchor' ? route.key : '';
            const envelope = `{"t":${JSON.stringify(t)},"s":${JSON.stringify(source)},"time":${route.time},"r":${text}}`;
            anchorOut.add(partitionOf(`${t}\u0000${key}`, this.deps.partitions.anchor), envelope, timestamp);
            if (route.kind === 'anchor') {
              for (const offer of route.offers) this.announce(joinOut, t, offer, route.key, route.time, timestamp);
            }
          } else {
            const sup = `{"k":"s","t":${JSON.stringify(t)},"s":${JSON.stringify(source)},"f":${JSON.stringify(route.field)},"v":${JSON.stringify(route.value)},"time":${route.time},"o":${JSON.stringify(route.offers)},"r":${text}}`;
            joinOut.add(partitionOf(`${t}\u0000${route.field}\u0000${route.value}`, this.deps.partitions.join), sup, timestamp);
          }
        }
        if (refusal && !taken) {
          this.reject(source, refusal.reason);
          dead.push({ source, reason: refusal.reason, detail: refusal.detail, raw: message.value ?? '', origin: `${origin}@${message.offset}` });
        } else if (!taken && !refusal) {
          this.reject(source, 'no_step');
        }
      }
    }
    await heartbeat();
    // Marks after the records they cover, in the same request (one record batch per partition).
    this.marks(maxTime, origin, latest ?? Date.now(), anchorOut, joinOut);
    await this.deps.outbox.send([{ topic: topics.anchor, messages: anchorOut.messages() }, { topic: topics.join, messages: joinOut.messages() }]);
    if (dead.length > 0) {
      await this.deps.deadLetters.send(dead);
      for (const d of dead) this.deps.counts.deadLetter(d.source, d.reason);
    }
    resolveOffset(batch.lastOffset());
    if (latest !== undefined) this.align(batch.topic, batch.partition, latest, Number(batch.offsetLag()), pause);
  }

  /**
   * Keeps source partitions in step by arrival time, as Kafka Streams does across a task's
   * partitions: on a backlog, topics read at different speeds would otherwise hand the engines a
   * processing time (the records' arrival) far ahead of the slower sources' watermarks, which
   * fires the idle trigger on every open session, and let some sources' records fall behind
   * others' watermarks (the late path). Partitions with nothing left to read hold nobody back.
   */
  private align(topic: string, partition: number, at: number, lag: number, pause: () => () => void): void {
    const key = `${topic}/${partition}`;
    this.frontier.set(key, { topic, partition, at, lag });
    const slowest = this.slowestFrontier();
    if (lag > 0 && at > slowest + ALIGN_MS && !this.paused.has(key)) this.paused.set(key, pause());
    this.resumeAligned(slowest);
  }

  private slowestFrontier(): number {
    let slowest = Infinity;
    for (const f of this.frontier.values()) if (f.lag > 0 && !this.paused.has(`${f.topic}/${f.partition}`) && f.at < slowest) slowest = f.at;
    return slowest;
  }

  private resumeAligned(slowest: number, all = false): void {
    if (slowest !== Infinity || all) this.alignedAt = Date.now();
    for (const [key, resume] of this.paused) {
      const f = this.frontier.get(key);
      if (!all && f && f.at > slowest + ALIGN_MS) continue;
      this.paused.delete(key);
      resume();
    }
  }

  private reject(source: string, reason: RejectReason): void {
    this.deps.counts.rejected(source, reason);
  }

  private announce(join: Packer, t: string, offer: Offer, key: string, time: number, at: number | undefined): void {
    join.add(
      partitionOf(`${t}\u0000${offer.field}\u0000${offer.value}`, this.deps.partitions.join),
      `{"k":"a","t":${JSON.stringify(t)},"f":${JSON.stringify(offer.field)},"v":${JSON.stringify(offer.value)},"key":${JSON.stringify(key)},"time":${time}}`,
      at,
    );
  }

  /** Mid-batch marks of directly routed sources, to anchor partitions only (see MARK_EVERY_MS). */
  private progressMarks(maxTime: Map<string, number>, origin: string, at: number, anchor: Packer): void {
    for (const [markKey, time] of maxTime) {
      const [t, s] = markKey.split('\u0000') as [string, string];
      if (this.relayed.get(t)?.has(s)) continue;
      const value = `{"t":${JSON.stringify(t)},"s":${JSON.stringify(s)},"o":${JSON.stringify(origin)},"m":${time}}`;
      for (let p = 0; p < this.deps.partitions.anchor; p++) anchor.add(p, value, at);
    }
  }

  /**
   * After each batch, per source: source partition `origin` was read up to arrival time `at` (the
   * batch's latest timestamp), where the source reached its largest event time so far. To every
   * join partition, and to every anchor partition for sources whose records go there straight;
   * the others' marks reach the anchor stage through the join stage, behind what they cover.
   */
  private marks(maxTime: Map<string, number>, origin: string, at: number, anchor: Packer, join: Packer): void {
    for (const [markKey, batchMax] of maxTime) {
      const time = Math.max(batchMax, this.sentMarks.get(markKey) ?? -Infinity);
      this.sentMarks.set(markKey, time);
      const [t, s] = markKey.split('\u0000') as [string, string];
      const joinMark = `{"k":"m","t":${JSON.stringify(t)},"s":${JSON.stringify(s)},"o":${JSON.stringify(origin)},"time":${time}}`;
      for (let p = 0; p < this.deps.partitions.join; p++) join.add(p, joinMark, at);
      if (this.relayed.get(t)?.has(s)) continue;
      const value = `{"t":${JSON.stringify(t)},"s":${JSON.stringify(s)},"o":${JSON.stringify(origin)},"m":${time}}`;
      for (let p = 0; p < this.deps.partitions.anchor; p++) anchor.add(p, value, at);
    }
  }
}
