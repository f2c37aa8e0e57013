/**
 * Applies an engine's emissions to the store: fires and orphans are buffered and written in
 * batches; a late or adopt request first writes what is buffered (the lookup must see it), then
 * asks the store and hands the answer back to the engine, which may emit more.
 */
import type { Emission, Engine, EnrichRequest, OrphanDoc, SessionDoc } from '../engine/index.js';
import type { Store } from '../store/index.js';
import { orphanReasonKind, type RunMetrics } from './metrics.js';

export class StoreSink {
  private readonly fires = new Map<string, SessionDoc>();
  private readonly orphans = new Map<string, OrphanDoc>();
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
        case 'late': {
          await this.flush();
          const stored = await this.store.lookup(emission.request.lookup);
          engine.repair(emission.request, stored, out);
          break;
        }
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

  /** Writes what is buffered; settles once it is durable (the store retries lost connections). */
  async flush(): Promise<void> {
    if (this.orphans.size > 0) {
      const orphans = [...this.orphans.values()];
      this.orphans.clear();
      await this.metrics.timeWrite('orphans', () => this.store.recordOrphans(orphans));
    }
    if (this.fires.size > 0) {
      const sessions = [...this.fires.values()];
      this.fires.clear();
      await this.metrics.timeWrite('sessions', () => this.store.upsertSessions(sessions));
      this.onWritten?.(sessions);
    }
  }
}
