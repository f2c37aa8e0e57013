import type { SourceSpec } from '../template/index.js';

interface SourceProgress {
  maxTime: number;
  lastSeenAt: number | undefined;
}

/**
 * Per-source watermarks: max event time seen minus the source's disorder. A stage's watermark is
 * the minimum over its sources; a source not yet heard from holds it at -∞ (as in Flink), so the
 * result does not depend on which source happens to speak first. A source that declares `idle`
 * and has been silent that long in processing time (or never spoke since the engine started)
 * stops holding the stage back; when every source is idle the stage follows the furthest one.
 */
export class Watermarks {
  private readonly progress = new Map<string, SourceProgress>();
  private ended = false;
  private startedAt: number | undefined;
  /**
   * Bumped when the source holding the stage back (or one not heard from) moves: the stage is a
   * minimum, so a rise of any other source cannot change it, and `stage` is recomputed only then
   * (or always, when idleness may change it).
   */
  private epoch = 0;
  /** The last stage computed, for which sources, and whether any of them can turn idle. */
  private readonly stageCache = {
    epoch: -1, names: undefined as readonly string[] | undefined, idle: false, value: -Infinity,
    /** The source whose watermark is the stage's (undefined: recompute on any move). */
    limiting: undefined as string | undefined,
  };

  constructor(private readonly sources: ReadonlyMap<string, SourceSpec>) {}

  observe(source: string, time: number, at: number | undefined): void {
    const p = this.progress.get(source);
    if (!p) {
      this.progress.set(source, { maxTime: time, lastSeenAt: at });
      this.epoch++;
    } else {
      if (time > p.maxTime) {
        p.maxTime = time;
        if (source === this.stageCache.limiting) this.epoch++;
      }
      if (at !== undefined) p.lastSeenAt = at;
    }
  }

  /** Every watermark to +∞: the input has ended. */
  end(): void {
    this.ended = true;
  }

  of(source: string): number {
    if (this.ended) return Infinity;
    const p = this.progress.get(source);
    return p ? p.maxTime - this.sources.get(source)!.disorderMs : -Infinity;
  }

  /** Minimum over the active sources among `names` at processing time `now`. */
  stage(names: readonly string[], now: number | undefined): number {
    if (this.ended) return Infinity;
    if (this.startedAt === undefined) this.startedAt = now;
    // Without idle sources the stage depends on max times only: unchanged since the last call, same answer.
    const cache = this.stageCache;
    if (cache.names !== names) {
      cache.names = names;
      cache.idle = this.anyIdle(names);
      cache.epoch = -1;
    }
    if (cache.epoch === this.epoch && !cache.idle) return cache.value;
    cache.value = this.compute(names, now);
    cache.epoch = this.epoch;
    return cache.value;
  }

  /** Apart from `stage`, which runs per record: a closure there would allocate a context per call. */
  private anyIdle(names: readonly string[]): boolean {
    return names.some((n) => this.sources.get(n)!.idleMs !== undefined);
  }

  private compute(names: readonly string[], now: number | undefined): number {
    let min = Infinity;
    let maxIdle = -Infinity;
    let limiting: string | undefined;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const p = this.progress.get(name);
      const w = p ? p.maxTime - this.sources.get(name)!.disorderMs : -Infinity;
      const idleMs = this.sources.get(name)!.idleMs;
      const silentSince = p ? p.lastSeenAt : this.startedAt;
      const idle = idleMs !== undefined && now !== undefined && silentSince !== undefined && now - silentSince >= idleMs;
      if (idle) maxIdle = Math.max(maxIdle, w);
      else if (w < min) {
        min = w;
        limiting = name;
      }
    }
    this.stageCache.limiting = limiting;
    return min === Infinity ? maxIdle : min;
  }

  snapshot(): Record<string, SourceProgress> {
    return Object.fromEntries(this.progress);
  }

  restore(state: Record<string, SourceProgress>): void {
    for (const [name, p] of Object.entries(state)) this.progress.set(name, { ...p });
    this.epoch++;
  }
}
