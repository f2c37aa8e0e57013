/**
 * Prometheus metrics of `weft run` (contract 2: names and labels are fixed; dashboards and the
 * plugin's Overview read them). One registry per service, so two services in one process (tests)
 * do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Trigger } from '../engine/index.js';

export class RunMetrics {
  readonly registry = new Registry();
  readonly recordsIn: Counter<'source'>;
  readonly recordsOut: Counter<'template'>;
  readonly rejected: Counter<'source' | 'reason'>;
  readonly deadLetters: Counter<'source' | 'reason'>;
  readonly fired: Counter<'template' | 'trigger' | 'verdict'>;
  readonly lateReapplied: Counter<'template'>;
  readonly lateDropped: Counter<'template'>;
  readonly orphans: Counter<'template' | 'reason'>;
  readonly watermarkLag: Gauge<'template' | 'source'>;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly openSessions: Gauge<'template'>;
  readonly storeWrite: Histogram<'op'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.recordsIn = new Counter({ name: 'weft_records_in_total', help: 'Records taken in, per source', labelNames: ['source'], registers });
    this.recordsOut = new Counter({ name: 'weft_records_out_total', help: 'Records emitted inside fired sessions', labelNames: ['template'], registers });
    this.rejected = new Counter({ name: 'weft_records_rejected_total', help: 'Records refused, by reason (malformed, no_time, unknown_source, no_step)', labelNames: ['source', 'reason'], registers });
    this.deadLetters = new Counter({ name: 'weft_dead_letters_total', help: 'Records sent to the dead-letter place', labelNames: ['source', 'reason'], registers });
    this.fired = new Counter({ name: 'weft_sessions_fired_total', help: 'Session fires by trigger and verdict', labelNames: ['template', 'trigger', 'verdict'], registers });
    this.lateReapplied = new Counter({ name: 'weft_late_reapplied_total', help: 'Late records re-applied to stored sessions', labelNames: ['template'], registers });
    this.lateDropped = new Counter({ name: 'weft_late_dropped_total', help: 'Records beyond lateness (kept as orphans)', labelNames: ['template'], registers });
    this.orphans = new Counter({ name: 'weft_orphans_total', help: 'Orphans reported', labelNames: ['template', 'reason'], registers });
    this.watermarkLag = new Gauge({ name: 'weft_watermark_lag_seconds', help: 'Wall clock minus the source watermark (slowest partition)', labelNames: ['template', 'source'], registers });
    this.consumerLag = new Gauge({ name: 'weft_consumer_lag', help: 'Messages behind the high watermark', labelNames: ['topic', 'partition'], registers });
    this.openSessions = new Gauge({ name: 'weft_open_sessions', help: 'Sessions open in memory', labelNames: ['template'], registers });
    this.storeWrite = new Histogram({
      name: 'weft_store_write_seconds', help: 'Store write latency', labelNames: ['op'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  fire(template: string, trigger: Trigger, verdict: string | null, records: number): void {
    this.fired.inc({ template, trigger, verdict: verdict ?? 'none' });
    if (records > 0) this.recordsOut.inc({ template }, records);
  }

  async timeWrite<T>(op: 'sessions' | 'orphans' | 'checkpoint', work: () => Promise<T>): Promise<T> {
    const end = this.storeWrite.startTimer({ op });
    try {
      return await work();
    } finally {
      end();
    }
  }
}

/** An orphan's reason, as a bounded label (the full reason stays on the orphan). */
export function orphanReasonKind(reason: string): string {
  if (reason.startsWith('late-dropped')) return 'late_dropped';
  if (reason.startsWith('no session offered')) return 'no_join';
  if (reason.startsWith('anchor key')) return 'no_anchor_key';
  if (reason.startsWith('join key')) return 'no_join_key';
  return 'other';
}
