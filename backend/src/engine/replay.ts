import type { CompiledTemplate } from '../template/index.js';
import { Engine } from './engine.js';
import { Envelope } from './envelope.js';
import { MemorySessions } from './memory.js';
import type { Emission, EngineCounters, EnrichmentView, EnrichRequest, OrphanDoc, SessionDoc, Trigger } from './types.js';

export interface LineError {
  readonly line: number;
  readonly reason: string;
}

export interface ReplaySummary {
  lines: number;
  records: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  sessions: number;
  merged: number;
  verdicts: Record<string, number>;
  orphans: number;
  unmatched: number;
  duplicates: number;
  lateReapplied: number;
  lateDropped: number;
  splits: number;
  fires: Record<Trigger, number>;
}

export interface ReplayResult {
  /** Final state of every session (tombstones of merged sessions included, status `merged`). */
  readonly sessions: SessionDoc[];
  readonly orphans: OrphanDoc[];
  readonly errors: LineError[];
  readonly summary: ReplaySummary;
}

export interface ReplayOptions {
  /** Called with each fire as it happens (e.g. to write through a store). */
  onFire?: (session: SessionDoc, trigger: Trigger) => void;
  /**
   * Dimension lookups: the engine reads `view` at each fire and asks `onEnrich` for keys it does
   * not know; once the view knows one, call {@link Replay.enriched}.
   */
  enrichment?: { view: EnrichmentView; onEnrich: (request: EnrichRequest) => void };
  onError?: (error: LineError) => void;
  /** Called every `progressEvery` lines. */
  onProgress?: (lines: number) => void;
  progressEvery?: number;
}

/**
 * Runs the engine over input lines in arrival order (DESIGN.md "Replay contract"), then ends the
 * input. Late records are repaired against an in-memory store, through the same late path the
 * service uses against its database.
 */
export class Replay {
  readonly engine: Engine;
  readonly store: MemorySessions;
  readonly errors: LineError[] = [];
  private lineNo = 0;
  private readonly out: Emission[] = [];
  private readonly envelope: Envelope;

  constructor(templates: readonly CompiledTemplate[], private readonly options: ReplayOptions = {}) {
    this.engine = new Engine(templates, options.enrichment?.view);
    const joinFields = (t: CompiledTemplate) => [...new Set(t.steps.flatMap((s) => (s.kind === 'supplement' ? [s.join.field] : [])))];
    this.store = new MemorySessions(new Map(templates.map((t) => [t.id, joinFields(t)])));
    this.envelope = new Envelope(templates.flatMap((t) => [...t.sources.keys()]));
  }

  /** One input line: `{"source": …, "value": {…}, "at"?: ms}`. */
  line(text: string): void {
    const lineNo = ++this.lineNo;
    if (this.options.onProgress && lineNo % (this.options.progressEvery ?? 100_000) === 0) this.options.onProgress(lineNo);
    if (isBlank(text)) return;
    if (this.envelope.read(text)) {
      const { source, value, at, raw } = this.envelope;
      return this.ingest(lineNo, source, value, at, raw);
    }
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch (error) {
      return this.error(lineNo, `malformed JSON: ${(error as Error).message}`);
    }
    if (!input || typeof input !== 'object' || Array.isArray(input)) return this.error(lineNo, 'line is not a JSON object');
    const { source, value, at } = input as { source?: unknown; value?: unknown; at?: unknown };
    if (typeof source !== 'string') return this.error(lineNo, 'missing "source" (a string)');
    if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at))) return this.error(lineNo, '"at" is not a number (arrival ms)');
    this.ingest(lineNo, source, value, at as number | undefined, undefined);
  }

  /** Processing time moved without a record (drives the idle trigger between arrivals). */
  advance(now: number): void {
    this.engine.advance(now, this.out);
    this.drain();
  }

  /** The view now knows what `request` waited for: its session fires again (a new version). */
  enriched(request: EnrichRequest): void {
    this.engine.enriched(request, this.store.get(request.session.id), this.out);
    this.drain();
  }

  /** Ends the input and returns the final state (enrichments still pending stay `enrichment: pending`). */
  end(): ReplayResult {
    this.endInput();
    return this.result();
  }

  /** Every watermark to +∞: every session fires final. Lookups may still complete afterwards. */
  endInput(): void {
    this.engine.end(this.out);
    this.drain();
  }

  result(): ReplayResult {
    const sessions = this.store.all().sort(bySessionOrder);
    const orphans = [...this.store.orphans.values()].sort((a, b) => a.time - b.time || compare(a.id, b.id));
    return { sessions, orphans, errors: this.errors, summary: this.summary(sessions) };
  }

  private ingest(lineNo: number, source: string, value: unknown, at: number | undefined, raw: string | undefined): void {
    const rejection = this.engine.ingest(source, value, at, this.out, raw);
    if (rejection !== undefined) this.error(lineNo, rejection);
    this.drain();
  }

  private error(line: number, reason: string): void {
    const error = { line, reason };
    this.errors.push(error);
    this.options.onError?.(error);
  }

  /** Applies emissions; late requests are answered from the in-memory store, which may emit more. */
  private drain(): void {
    const out = this.out;
    for (let i = 0; i < out.length; i++) {
      const emission = out[i]!;
      switch (emission.kind) {
        case 'fire':
          this.store.upsert(emission.session);
          this.options.onFire?.(emission.session, emission.trigger);
          break;
        case 'orphan':
          this.store.recordOrphan(emission.orphan);
          break;
        case 'adopt': {
          const { template, field, value } = emission.request;
          this.engine.adopt(emission.request, this.store.takeOrphans(template, field, value), out);
          break;
        }
        case 'late':
          this.engine.repair(emission.request, this.store.lookup(emission.request.lookup), out);
          break;
        case 'enrich':
          this.options.enrichment?.onEnrich(emission.request);
          break;
      }
    }
    // Most lines emit nothing; assigning length is a runtime call even on an empty array.
    if (out.length !== 0) out.length = 0;
  }

  private summary(sessions: readonly SessionDoc[]): ReplaySummary {
    const c: EngineCounters = this.engine.counters;
    const verdicts: Record<string, number> = {};
    let merged = 0;
    let splits = 0;
    for (const s of sessions) {
      if (s.status === 'merged') {
        merged++;
        continue;
      }
      if (s.splitOf) splits++;
      const verdict = s.verdict ?? '(none)';
      verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
    }
    const skippedByReason: Record<string, number> = {};
    for (const e of this.errors) {
      const kind = reasonKind(e.reason);
      skippedByReason[kind] = (skippedByReason[kind] ?? 0) + 1;
    }
    return {
      lines: this.lineNo,
      records: c.records,
      skipped: this.errors.length,
      skippedByReason,
      sessions: sessions.length - merged,
      merged,
      verdicts,
      orphans: this.store.orphans.size,
      unmatched: c.unmatched,
      duplicates: c.duplicates,
      lateReapplied: c.lateReapplied,
      lateDropped: c.lateDropped,
      splits,
      fires: { ...c.fires },
    };
  }
}

/** Replays `lines` to the end and returns the final sessions, orphans, errors and summary. */
export function replayLines(templates: readonly CompiledTemplate[], lines: Iterable<string>, options?: ReplayOptions): ReplayResult {
  const replay = new Replay(templates, options);
  for (const line of lines) replay.line(line);
  return replay.end();
}

/** Blank lines are skipped silently; checked without copying the line (trim() would). */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

function reasonKind(reason: string): string {
  if (reason.startsWith('malformed JSON')) return 'malformed JSON';
  if (reason.startsWith('unknown source')) return 'unknown source';
  if (reason.includes('time field')) return 'no parsable time';
  return reason;
}

/** Template, start, key, id — by code unit, not locale: the same order on every machine, and cheap. */
function bySessionOrder(a: SessionDoc, b: SessionDoc): number {
  return compare(a.template, b.template) || a.start - b.start || compare(a.key, b.key) || compare(a.id, b.id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
