/**
 * `weft run`: the always-on correlator. Composes the store, templates (hot reload), the Kafka
 * pipeline or the embedded engine, HTTP ingest, health and metrics on the API server (contract 1).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Producer } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { buildServer } from '../api/index.js';
import type { SessionDoc } from '../engine/index.js';
import { openStore, type Store } from '../store/index.js';
import { FileDeadLetters, TopicDeadLetters, type DeadLetters } from '../sources/deadletter.js';
import { ingestPlugin, type IngestRecord, type IngestTarget } from '../sources/http.js';
import { kafkaClient, producerOf } from '../sources/kafka.js';
import { openCheckpoints, type CheckpointStore } from './checkpoint.js';
import type { KafkaConfig, RunConfig } from './config.js';
import { RunMetrics } from './metrics.js';
import { RunEnrichment } from './enrichment.js';
import { KafkaPipeline } from './pipeline.js';
import { Router } from './route.js';
import { Shard, type ShardState } from './shard.js';
import { TemplateSet } from './templates.js';

export interface RunOptions {
  readonly logger?: Logger;
  /** Listen on the configured port (default true; tests may only need the pipeline). */
  readonly listen?: boolean;
}

export class RunService {
  readonly metrics = new RunMetrics();
  private server: FastifyInstance | undefined;
  private pipeline: KafkaPipeline | undefined;
  private embedded: EmbeddedRuntime | undefined;
  private ingestProducer: Producer | undefined;
  private routers = new Map<string, Router>();
  /** Dimension lookups, shared by every shard of this process. */
  enrichment: RunEnrichment | undefined;
  private readonly writtenListeners: Array<(sessions: readonly SessionDoc[]) => void> = [];
  private stopped = false;

  private constructor(
    readonly config: RunConfig,
    readonly store: Store,
    private readonly checkpoints: CheckpointStore,
    readonly templates: TemplateSet,
    readonly log: Logger,
  ) {}

  static async start(config: RunConfig, options: RunOptions = {}): Promise<RunService> {
    const log = options.logger ?? pino({ level: config.log.level, base: { service: 'weft-run' } });
    const store = await openStore(config.store, { log: (message) => log.warn({ component: 'store' }, message) });
    try {
      const checkpoints = await openCheckpoints(config.store, (message) => log.warn({ component: 'checkpoints' }, message));
      const templates = await TemplateSet.open(store, config.templates, log);
      const service = new RunService(config, store, checkpoints, templates, log);
      await service.begin(options.listen !== false);
      return service;
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
  }

  /** The HTTP address once listening (`http://host:port`). */
  get address(): string | undefined {
    const info = this.server?.server.address();
    return info && typeof info === 'object' ? `http://127.0.0.1:${info.port}` : undefined;
  }

  get http(): FastifyInstance | undefined {
    return this.server;
  }

  /** Called after every store write of fired sessions (freshness measurements, tests). */
  onSessionsWritten(listener: (sessions: readonly SessionDoc[]) => void): void {
    this.writtenListeners.push(listener);
  }

  /** SIGTERM: stop taking input, finish what is in flight, checkpoint, commit, close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.templates.stop();
    await this.server?.close().catch(() => undefined);
    await this.pipeline?.stop();
    await this.embedded?.stop();
    await this.enrichment?.close().catch(() => undefined);
    await this.ingestProducer?.disconnect().catch(() => undefined);
    await this.checkpoints.close().catch(() => undefined);
    await this.store.close().catch(() => undefined);
    this.log.info('stopped');
  }

  private async begin(listen: boolean): Promise<void> {
    const { config, log } = this;
    this.enrichment = new RunEnrichment(this.templates.templates, config.store, this.metrics.registry, (message) => log.warn({ component: 'enrich' }, message));
    this.templates.onChange(async (templates) => this.enrichment?.setTemplates(templates));
    this.useTemplates();
    this.templates.onChange(async () => this.useTemplates());
    const written = (sessions: readonly SessionDoc[]) => {
      for (const listener of this.writtenListeners) listener(sessions);
    };

    let target: IngestTarget;
    let deadLetters: DeadLetters;
    if (config.kafka) {
      const kafka = kafkaClient(config.kafka, log);
      this.ingestProducer = producerOf(kafka);
      await this.ingestProducer.connect();
      deadLetters = new TopicDeadLetters(this.ingestProducer, config.kafka.topics.deadLetters);
      this.pipeline = new KafkaPipeline({
        kafka, config: config as RunConfig & { kafka: KafkaConfig }, store: this.store, checkpoints: this.checkpoints,
        templates: this.templates, metrics: this.metrics, log, written, enrichment: this.enrichment,
      });
      await this.pipeline.start();
      target = new KafkaIngest(this.ingestProducer, () => this.sourceTopic.bind(this));
    } else {
      deadLetters = new FileDeadLetters(config.deadLetterFile);
      this.embedded = await EmbeddedRuntime.open(this, deadLetters, written);
      target = this.embedded;
    }

    const plugins: FastifyPluginAsync[] = [
      ingestPlugin({ target, routers: () => this.routers, metrics: this.metrics, deadLetters, bodyLimit: config.http.bodyLimit }),
      async (app) => {
        app.get('/metrics', async (_request, reply) => reply.header('content-type', this.metrics.registry.contentType).send(await this.metrics.registry.metrics()));
      },
    ];
    this.server = await buildServer({
      store: this.store,
      ...(config.http.token ? { token: config.http.token } : {}),
      bodyLimit: config.http.bodyLimit,
      logger: log.child({ component: 'http' }),
      plugins,
      templates: this.templates.templates,
      hooks: { templateSaved: (record, compiled) => this.templates.saved(record, compiled) },
      health: () => this.health(),
    });
    if (listen) await this.server.listen({ port: config.http.port, host: config.http.host });
    this.templates.start(config.templates, config.templatesPollMs);
    log.info({ address: this.address, kafka: config.kafka !== undefined, store: this.store.info().kind, templates: this.templates.templates.map((t) => t.id) }, 'weft run started');
  }

  private async health(): Promise<{ ready: boolean; detail?: unknown }> {
    try {
      await this.store.ping();
    } catch (error) {
      return { ready: false, detail: { store: 'unreachable', error: error instanceof Error ? error.message : String(error) } };
    }
    if (this.stopped) return { ready: false, detail: { stopping: true } };
    const kafka = this.pipeline?.status();
    if (kafka && !(kafka.joined.anchor && kafka.joined.join && kafka.joined.normalise)) return { ready: false, detail: { kafka } };
    return { ready: true, detail: { store: this.store.info().kind, templates: this.templates.templates.map((t) => t.id), ...(this.pipeline ? { kafka: this.pipeline.status() } : {}) } };
  }

  private useTemplates(): void {
    this.routers = new Map(this.templates.templates.map((t) => [t.id, new Router(t)]));
  }

  /** The topic a source is read from: the configuration's override, else the first template declaring it. */
  private sourceTopic(source: string): string | undefined {
    const override = this.config.sources[source]?.topic;
    if (override) return override;
    for (const t of this.templates.templates) {
      const spec = t.sources.get(source);
      if (spec) return spec.topic;
    }
    return undefined;
  }

  /** The Kafka pipeline (undefined in embedded mode). */
  get kafka(): KafkaPipeline | undefined {
    return this.pipeline;
  }

  /** For the embedded runtime. */
  get checkpointStore(): CheckpointStore {
    return this.checkpoints;
  }
}

/** Kafka mode: ingested records go to their source's topic, like any producer's; the pipeline takes it from there. */
class KafkaIngest implements IngestTarget {
  constructor(private readonly producer: Producer, private readonly topicOf: () => (source: string) => string | undefined) {}

  async take(source: string, records: readonly IngestRecord[]): Promise<void> {
    const topic = this.topicOf()(source);
    if (!topic) throw new Error(`no topic for source "${source}"`);
    const timestamp = String(Date.now());
    await this.producer.send({ topic, acks: -1, messages: records.map((r) => ({ value: r.text, timestamp })) });
  }

  busy(): boolean {
    return false;
  }
}

/**
 * Embedded mode (no Kafka): one engine per template in this process, fed by HTTP ingest. An ingest
 * request is answered once its fires and orphans are in the store; open sessions are checkpointed
 * every `checkpoint.intervalMs` (a crash loses at most the records of sessions still open since the
 * last checkpoint — use Kafka for no loss at all).
 */
class EmbeddedRuntime implements IngestTarget {
  private static readonly STAGE = 'embedded';
  private pending = 0;
  private taken = 0;
  private checkpointedAt = Date.now();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly service: RunService,
    private readonly shard: Shard,
    private readonly deadLetters: DeadLetters,
    private readonly checkpoints: CheckpointStore,
  ) {
    this.timer = setInterval(() => void this.tick(), 250);
    this.timer.unref();
    service.templates.onChange((templates) => shard.serial(() => shard.setTemplates(templates)));
  }

  static async open(service: RunService, deadLetters: DeadLetters, written: (sessions: readonly SessionDoc[]) => void): Promise<EmbeddedRuntime> {
    const checkpoints = service.checkpointStore;
    const checkpoint = await checkpoints.load<ShardState>(EmbeddedRuntime.STAGE, '-', 0);
    const shard = new Shard('embedded', service.templates.templates, service.store, service.metrics, checkpoint?.state, service.enrichment);
    shard.onWritten = written;
    const runtime = new EmbeddedRuntime(service, shard, deadLetters, checkpoints);
    runtime.taken = checkpoint?.offset ?? 0;
    return runtime;
  }

  busy(): boolean {
    return this.pending >= this.service.config.backpressure.maxPendingRecords;
  }

  async take(source: string, records: readonly IngestRecord[]): Promise<void> {
    this.pending += records.length;
    try {
      await this.shard.serial(async () => {
        const dead = [];
        for (const r of records) {
          const rejection = await this.shard.ingest(undefined, source, r.value, Date.now());
          if (rejection !== undefined) dead.push({ source, reason: 'no_time', detail: rejection, raw: r.text, origin: 'http' });
          this.taken++;
        }
        await this.shard.flush();
        await this.deadLetters.send(dead);
      });
    } finally {
      this.pending -= records.length;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checkpoint();
  }

  private async tick(): Promise<void> {
    try {
      await this.shard.serial(async () => {
        await this.shard.tick(Date.now());
        await this.shard.flush();
      });
      if (Date.now() - this.checkpointedAt >= this.service.config.checkpoint.intervalMs) await this.checkpoint();
      for (const [template, s] of this.shard.stats()) {
        this.service.metrics.openSessions.set({ template }, s.open);
        for (const [source, w] of Object.entries(s.watermarks)) {
          if (Number.isFinite(w)) this.service.metrics.watermarkLag.set({ template, source }, Math.max(0, (Date.now() - w) / 1000));
        }
      }
    } catch (error) {
      this.service.log.warn({ err: String(error) }, 'embedded tick failed');
    }
  }

  private async checkpoint(): Promise<void> {
    await this.shard.serial(async () => {
      this.checkpointedAt = Date.now();
      if (!this.shard.dirty) return;
      await this.shard.flush();
      const state = this.shard.snapshot();
      await this.service.metrics.timeWrite('checkpoint', () => this.checkpoints.save(EmbeddedRuntime.STAGE, '-', 0, { offset: this.taken, state }));
      this.shard.dirty = false;
    });
  }
}
