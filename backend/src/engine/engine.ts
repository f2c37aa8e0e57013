import type { CompiledTemplate } from '../template/index.js';
import { Correlator } from './correlator.js';
import type { EngineSnapshot } from './snapshot.js';
import type { AdoptRequest, Emission, EngineCounters, EnrichmentView, EnrichRequest, LateRequest, OrphanDoc, SessionDoc } from './types.js';

export function newCounters(): EngineCounters {
  return {
    records: 0, rejected: 0, unmatched: 0, duplicates: 0, lateRequested: 0, lateReapplied: 0,
    lateDropped: 0, orphans: 0, merges: 0,
    fires: { complete: 0, watermark: 0, idle: 0, late: 0, merge: 0, enrich: 0 },
  };
}

/**
 * The correlation engine: routes each record to the templates that declare its source. Pure — no
 * I/O, no clock: the caller gives records (with arrival time when it has one), processing-time
 * ticks, and the stored sessions that late records ask for; it gets emissions back.
 */
export class Engine {
  readonly counters = newCounters();
  private readonly correlators = new Map<string, Correlator>();
  private readonly bySource = new Map<string, Correlator[]>();

  /**
   * `enrichment`: the caller's knowledge of dimension rows, read at each fire of a template that
   * enriches; without it such sessions stay `enrichment: pending` and emit requests.
   */
  constructor(templates: readonly CompiledTemplate[], enrichment?: EnrichmentView) {
    for (const template of templates) {
      if (this.correlators.has(template.id)) throw new Error(`template "${template.id}" given twice`);
      const correlator = new Correlator(template, this.counters, enrichment);
      this.correlators.set(template.id, correlator);
      for (const source of template.sources.keys()) {
        this.bySource.set(source, [...(this.bySource.get(source) ?? []), correlator]);
      }
    }
  }

  get templates(): CompiledTemplate[] {
    return [...this.correlators.values()].map((c) => c.template);
  }

  knowsSource(source: string): boolean {
    return this.bySource.has(source);
  }

  /**
   * Takes one record; emissions are appended to `out`. Returns the reason when the record was
   * rejected (unknown source, not an object, no parsable time); the caller reports it and goes on.
   * `raw`: `value`'s JSON text, when the caller read it as text (held with the record, see NormalEvent).
   */
  ingest(source: string, value: unknown, at: number | undefined, out: Emission[], raw?: string): string | undefined {
    this.counters.records++;
    const correlators = this.bySource.get(source);
    if (!correlators) {
      this.counters.rejected++;
      return `unknown source "${source}"`;
    }
    let rejection: string | undefined;
    for (let i = 0; i < correlators.length; i++) rejection = correlators[i]!.ingest(source, value, at, out, raw) ?? rejection;
    if (rejection !== undefined) this.counters.rejected++;
    return rejection;
  }

  /**
   * A watermark mark: `source`'s event time reached `time` (relayed by a stage that saw the records,
   * e.g. the partition that re-keyed them). Unknown sources are ignored; nothing is counted as a record.
   */
  observe(source: string, time: number, at: number | undefined, out: Emission[]): void {
    for (const correlator of this.bySource.get(source) ?? []) correlator.observe(source, time, at, out);
  }

  /** Processing time moved to `now` (drives idle sources and the idle trigger). */
  advance(now: number, out: Emission[]): void {
    for (const correlator of this.correlators.values()) correlator.advance(now, out);
  }

  /** End of input: every watermark to +∞. */
  end(out: Emission[]): void {
    for (const correlator of this.correlators.values()) correlator.end(out);
  }

  /** Completes a late request with the stored sessions its lookup found. */
  repair(request: LateRequest, stored: readonly SessionDoc[], out: Emission[]): void {
    this.correlators.get(request.lookup.template)?.repair(request, stored, out);
  }

  /** Completes an adopt request with the stored orphans it names (already removed from the caller's orphans). */
  adopt(request: AdoptRequest, orphans: readonly OrphanDoc[], out: Emission[]): void {
    this.correlators.get(request.template)?.adopt(request, orphans, out);
  }

  /**
   * The view now knows the outcome of `request`: the waiting session fires again with it (a new
   * version). `stored` is the stored session, needed when it has left memory; unknown ids are ignored.
   */
  enriched(request: EnrichRequest, stored: SessionDoc | undefined, out: Emission[]): void {
    this.correlators.get(request.template)?.enriched(request, stored, out);
  }

  stats(): { openSessions: number; waitingSupplements: number } {
    let openSessions = 0;
    let waitingSupplements = 0;
    for (const c of this.correlators.values()) {
      openSessions += c.openSessions;
      waitingSupplements += c.waitingSupplements;
    }
    return { openSessions, waitingSupplements };
  }

  watermarks(): Record<string, { anchor: number; sources: Record<string, number> }> {
    return Object.fromEntries([...this.correlators].map(([id, c]) => [id, {
      anchor: c.anchorWatermark,
      sources: Object.fromEntries([...c.template.sources.keys()].map((s) => [s, c.sourceWatermark(s)])),
    }]));
  }

  snapshot(): EngineSnapshot {
    return { version: 1, correlators: [...this.correlators.values()].map((c) => c.snapshot()) };
  }

  /** Restores state saved by `snapshot`; templates absent from this engine are skipped. */
  restore(snapshot: EngineSnapshot): void {
    for (const state of snapshot.correlators) this.correlators.get(state.template)?.restore(state);
  }
}
