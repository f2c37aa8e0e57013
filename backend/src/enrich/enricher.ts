/**
 * Data widening around the pure engine: the engine reads this enricher's cache synchronously at
 * each fire ({@link EnrichmentView}); keys it does not know come back as requests, which are
 * batched (one query per batch of keys), bounded in flight, retried with backoff, and answered by
 * re-firing the waiting sessions through `onResolved` — the engine never waits for a lookup.
 */
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EnrichmentView, EnrichOutcome, EnrichRequest } from '../engine/index.js';
import type { CompiledTemplate, EnrichSpec } from '../template/index.js';
import { openLookup, type DimensionLookup } from './lookup.js';

export interface EnricherOptions {
  readonly templates: readonly CompiledTemplate[];
  /** The store's URL: enrichment tables without their own `from.database` are read there. */
  readonly database?: string;
  /** A waiting session's key is known now (found, missing, or failed for good): re-fire it (`Engine.enriched`). */
  readonly onResolved: (request: EnrichRequest) => void;
  /** Registers the `weft_enrich_*` metrics here when given. */
  readonly registry?: Registry;
  /** Opens lookups (tests and benchmarks substitute instrumented ones); default {@link openLookup}. */
  readonly open?: (spec: EnrichSpec, database: string | undefined) => DimensionLookup;
  readonly log?: (message: string) => void;
}

/** Plain counters (also exported as metrics). */
export interface EnrichCounters {
  /** Batched lookups sent (one query or HTTP request each). */
  lookups: number;
  /** Keys asked for over all lookups. */
  keysLookedUp: number;
  cacheHits: number;
  cacheMisses: number;
  /** Lookups that failed (timeouts included) and will be retried or given up. */
  failures: number;
  timeouts: number;
  /** Keys given up after the retry budget: their sessions fire with `enrichment: failed`. */
  failed: number;
}

/** One enrichment of one template: its cache, its lookup, and the keys waiting for it. */
class Channel {
  readonly cache: LRUCache<string, EnrichOutcome>;
  /** Sessions waiting per key. */
  readonly waiting = new Map<string, EnrichRequest[]>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private batchTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private closed = false;

  constructor(
    readonly template: string,
    readonly spec: EnrichSpec,
    private readonly lookup: DimensionLookup,
    private readonly enricher: Enricher,
  ) {
    this.cache = new LRUCache({ max: spec.cacheSize, ttl: spec.cacheTtlMs, ttlAutopurge: false });
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0 && this.retryTimers.size === 0 && this.waiting.size === 0;
  }

  want(request: EnrichRequest): void {
    const sessions = this.waiting.get(request.key);
    if (sessions) {
      if (!sessions.some((s) => s.session.id === request.session.id)) sessions.push(request);
      // A key already queued, in flight or waiting for a retry is not asked for twice.
      return;
    }
    this.waiting.set(request.key, [request]);
    this.enqueue(request.key);
  }

  private enqueue(key: string): void {
    if (this.closed || this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    if (this.queue.length >= this.spec.batchSize) this.flush();
    else this.batchTimer ??= setTimeout(() => this.flush(), this.spec.batchWindowMs);
  }

  /** Sends full batches while there is room in flight; the rest waits for a slot. */
  private flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    while (this.queue.length > 0 && this.inFlight < this.spec.concurrency) {
      const keys = this.queue.splice(0, this.spec.batchSize);
      for (const key of keys) this.queued.delete(key);
      this.inFlight++;
      void this.send(keys).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.flush();
      });
    }
  }

  private async send(keys: string[]): Promise<void> {
    this.enricher.noteLookup(this, keys.length);
    let rows;
    try {
      rows = await withTimeout(this.lookup.fetch(keys, this.spec.timeoutMs), this.spec.timeoutMs);
    } catch (error) {
      return this.failedLookup(keys, error);
    }
    for (const key of keys) {
      const row = rows.get(key);
      this.cache.set(key, row === undefined ? MISSING : { kind: 'found', row });
      this.attempts.delete(key);
      this.resolve(key);
    }
  }

  private failedLookup(keys: readonly string[], error: unknown): void {
    const timedOut = error instanceof LookupTimeout;
    this.enricher.noteFailure(this, timedOut);
    const reason = timedOut ? `lookup timed out after ${this.spec.timeoutMs} ms` : `lookup failed: ${error instanceof Error ? error.message : String(error)}`;
    for (const key of keys) {
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      if (attempt >= this.spec.attempts) {
        this.attempts.delete(key);
        // Remembered briefly, so the sessions re-fired now see it; later sessions try again.
        this.cache.set(key, { kind: 'failed', reason: `${reason} (${attempt} attempts)` }, { ttl: this.spec.backoffMs });
        this.enricher.noteGivenUp(this);
        this.resolve(key);
        continue;
      }
      this.attempts.set(key, attempt);
      const delay = this.spec.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() / 2);
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.enqueue(key);
      }, delay);
      this.retryTimers.add(timer);
    }
  }

  private resolve(key: string): void {
    const sessions = this.waiting.get(key);
    this.waiting.delete(key);
    for (const request of sessions ?? []) this.enricher.resolved(request);
  }

  /** Replaced by a reloaded template: finishes what it has started, then closes. */
  async retire(): Promise<void> {
    while (!this.idle) await new Promise((resolve) => setTimeout(resolve, 50));
    await this.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.batchTimer) clearTimeout(this.batchTimer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.lookup.close();
  }
}

const MISSING: EnrichOutcome = Object.freeze({ kind: 'missing' });

class LookupTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LookupTimeout(`timed out after ${ms} ms`)), ms);
  });
  // A lookup that settles after its timeout must not surface as an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class Enricher implements EnrichmentView {
  readonly counters: EnrichCounters = { lookups: 0, keysLookedUp: 0, cacheHits: 0, cacheMisses: 0, failures: 0, timeouts: 0, failed: 0 };
  private readonly channels = new Map<string, Channel>();
  private readonly metrics: EnrichMetrics | undefined;

  /** Per template id, the compiled template its channels were made for. */
  private readonly made = new Map<string, CompiledTemplate>();

  constructor(private readonly options: EnricherOptions) {
    this.metrics = options.registry ? new EnrichMetrics(options.registry) : undefined;
    this.setTemplates(options.templates);
  }

  /**
   * Templates were reloaded: a changed template's enrichments start afresh (new lookups and caches;
   * sessions waiting on the old ones are still answered), a removed one's are closed.
   */
  setTemplates(templates: readonly CompiledTemplate[]): void {
    const open = this.options.open ?? openLookup;
    const wanted = new Map(templates.map((t) => [t.id, t]));
    for (const [id, template] of this.made) {
      if (wanted.get(id) === template) continue;
      for (const spec of template.enrich) {
        const key = channelId(id, spec.name);
        const channel = this.channels.get(key);
        this.channels.delete(key);
        void channel?.retire();
      }
      this.made.delete(id);
    }
    for (const template of templates) {
      if (this.made.has(template.id)) continue;
      this.made.set(template.id, template);
      for (const spec of template.enrich) {
        this.channels.set(channelId(template.id, spec.name), new Channel(template.id, spec, open(spec, this.options.database), this));
      }
    }
  }

  /** Whether any template enriches (otherwise the caller need not wire this in). */
  get active(): boolean {
    return this.channels.size > 0;
  }

  /** Sessions waiting for a lookup. */
  get pending(): number {
    let n = 0;
    for (const channel of this.channels.values()) for (const list of channel.waiting.values()) n += list.length;
    return n;
  }

  outcome(template: string, enrichment: string, key: string): EnrichOutcome | undefined {
    const channel = this.channels.get(channelId(template, enrichment));
    const known = channel?.cache.get(key);
    if (known) this.counters.cacheHits++;
    else this.counters.cacheMisses++;
    this.metrics?.cache.inc({ template, enrichment, result: known ? 'hit' : 'miss' });
    return known;
  }

  /** The engine asked for a key it did not know (an `enrich` emission). */
  request(request: EnrichRequest): void {
    const channel = this.channels.get(channelId(request.template, request.enrichment));
    if (!channel) return;
    channel.want(request);
    this.metrics?.pending.set(this.pending);
  }

  /** Resolves once nothing is queued, in flight, waiting or scheduled for retry (replay's end, tests). */
  async settled(): Promise<void> {
    while (![...this.channels.values()].every((c) => c.idle)) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  async close(): Promise<void> {
    await Promise.all([...this.channels.values()].map((c) => c.close()));
  }

  /** @internal */
  resolved(request: EnrichRequest): void {
    this.metrics?.pending.set(this.pending);
    try {
      this.options.onResolved(request);
    } catch (error) {
      this.options.log?.(`enrich: re-firing session ${request.session.id} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** @internal */
  noteLookup(channel: Channel, keys: number): void {
    this.counters.lookups++;
    this.counters.keysLookedUp += keys;
    const labels = { template: channel.template, enrichment: channel.spec.name };
    this.metrics?.lookups.inc(labels);
    this.metrics?.batchKeys.observe(labels, keys);
  }

  /** @internal */
  noteFailure(channel: Channel, timedOut: boolean): void {
    this.counters.failures++;
    if (timedOut) this.counters.timeouts++;
    const labels = { template: channel.template, enrichment: channel.spec.name };
    this.metrics?.failures.inc({ ...labels, kind: timedOut ? 'timeout' : 'error' });
  }

  /** @internal */
  noteGivenUp(channel: Channel): void {
    this.counters.failed++;
    this.metrics?.failed.inc({ template: channel.template, enrichment: channel.spec.name });
  }
}

function channelId(template: string, enrichment: string): string {
  return `${template}\u0000${enrichment}`;
}

class EnrichMetrics {
  readonly lookups: Counter<'template' | 'enrichment'>;
  readonly batchKeys: Histogram<'template' | 'enrichment'>;
  readonly cache: Counter<'template' | 'enrichment' | 'result'>;
  readonly failures: Counter<'template' | 'enrichment' | 'kind'>;
  readonly failed: Counter<'template' | 'enrichment'>;
  readonly pending: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lookups = new Counter({ name: 'weft_enrich_lookups_total', help: 'Batched dimension lookups sent (one query or HTTP request each)', labelNames: ['template', 'enrichment'], registers });
    this.batchKeys = new Histogram({
      name: 'weft_enrich_batch_keys', help: 'Keys per batched lookup', labelNames: ['template', 'enrichment'], registers,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    });
    this.cache = new Counter({ name: 'weft_enrich_cache_total', help: 'Enrichment cache reads by result (hit ratio = hit / all)', labelNames: ['template', 'enrichment', 'result'], registers });
    this.failures = new Counter({ name: 'weft_enrich_failures_total', help: 'Lookups that failed or timed out (retried with backoff)', labelNames: ['template', 'enrichment', 'kind'], registers });
    this.failed = new Counter({ name: 'weft_enrich_failed_total', help: 'Keys given up after the retry budget (sessions marked enrichment: failed)', labelNames: ['template', 'enrichment'], registers });
    this.pending = new Gauge({ name: 'weft_enrich_pending', help: 'Sessions waiting for an enrichment lookup', registers });
  }
}
