/**
 * Enrichment in `weft run`: one enricher (caches, batched lookups) for the whole process, shared by
 * every shard. A request remembers the shard that emitted it, so the answer re-fires the session in
 * the engine that holds it, in that shard's serial order.
 */
import type { Registry } from 'prom-client';
import { Enricher } from '../enrich/index.js';
import type { EnrichmentView, EnrichRequest } from '../engine/index.js';
import type { CompiledTemplate } from '../template/index.js';

/** What a shard offers the enrichment: re-firing one of its sessions. */
export interface EnrichedTarget {
  enriched(request: EnrichRequest): Promise<void>;
}

export class RunEnrichment {
  private readonly enricher: Enricher;
  /** Session id → the shard waiting for its lookup. */
  private readonly waiting = new Map<string, EnrichedTarget>();

  constructor(templates: readonly CompiledTemplate[], storeUrl: string, registry: Registry, private readonly log: (message: string) => void) {
    this.enricher = new Enricher({ templates, database: storeUrl, registry, onResolved: (request) => this.resolved(request), log });
  }

  get view(): EnrichmentView {
    return this.enricher;
  }

  request(target: EnrichedTarget, request: EnrichRequest): void {
    this.waiting.set(request.session.id, target);
    this.enricher.request(request);
  }

  setTemplates(templates: readonly CompiledTemplate[]): void {
    this.enricher.setTemplates(templates);
  }

  close(): Promise<void> {
    return this.enricher.close();
  }

  private resolved(request: EnrichRequest): void {
    const target = this.waiting.get(request.session.id);
    this.waiting.delete(request.session.id);
    target?.enriched(request).catch((error) => this.log(`re-firing enriched session ${request.session.id} failed: ${String(error)}`));
  }
}
