/**
 * Point reads by id, coalesced. A read is sent at once while fewer than `maxInFlight` statements
 * are out; beyond that, reads wait for one to come back and then go together as one
 * `WHERE id IN (…)` statement. An idle caller pays nothing (its read leaves immediately, in the
 * same tick); an API under load — dozens of trace requests at once — sends one statement per
 * handful of requests instead of one each, which saves most of the per-statement cost on both
 * sides (the socket write that wakes the server, the server's parse, optimisation and dispatch,
 * the client's result handling).
 *
 * A read asked for after a write completed is sent after it, so a caller still reads its own
 * writes: batching changes when statements are sent, never what they see.
 */
export class PointReads<R> {
  private queued = new Map<string, ((error: unknown, row: R | undefined) => void)[]>();
  private inFlight = 0;

  /**
   * @param fetch reads the rows of up to `maxBatch` distinct keys; returns them by key
   * @param keyOf the key a requested id matches rows under (e.g. the database's comparison rule)
   */
  constructor(
    private readonly fetch: (ids: readonly string[]) => Promise<ReadonlyMap<string, R>>,
    private readonly maxBatch = 64,
    private readonly keyOf: (id: string) => string = (id) => id,
    private readonly maxInFlight = 2,
  ) {}

  get(id: string): Promise<R | undefined> {
    return new Promise((resolve, reject) => {
      const key = this.keyOf(id);
      const settle = (error: unknown, row: R | undefined) => (error === undefined ? resolve(row) : reject(error));
      const waiting = this.queued.get(key);
      if (waiting) waiting.push(settle);
      else this.queued.set(key, [settle]);
      this.send();
    });
  }

  /** Sends queued reads while statements may be added. */
  private send(): void {
    while (this.queued.size > 0 && this.inFlight < this.maxInFlight) {
      let batch: Map<string, ((error: unknown, row: R | undefined) => void)[]>;
      if (this.queued.size <= this.maxBatch) {
        batch = this.queued;
        this.queued = new Map();
      } else {
        batch = new Map();
        for (const [key, waiting] of this.queued) {
          batch.set(key, waiting);
          this.queued.delete(key);
          if (batch.size === this.maxBatch) break;
        }
      }
      this.inFlight++;
      let fetched: Promise<ReadonlyMap<string, R>>;
      try {
        fetched = this.fetch([...batch.keys()]);
      } catch (error) {
        fetched = Promise.reject(error);
      }
      fetched.then(
        (rows) => {
          this.inFlight--;
          for (const [key, waiting] of batch) for (const settle of waiting) settle(undefined, rows.get(key));
          this.send();
        },
        (error: unknown) => {
          this.inFlight--;
          for (const waiting of batch.values()) for (const settle of waiting) settle(error ?? new Error('read failed'), undefined);
          this.send();
        },
      );
    }
  }
}

/**
 * The placeholder count for `n` keys: the next power of two (at most `max`), so a connection
 * prepares a handful of statement shapes; the caller pads the list by repeating its last key.
 */
export function paddedSize(n: number, max: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return Math.min(size, max);
}

/** A caller of {@link CoalescedSelects}: its parameters and how to answer it. */
interface QueuedSelect<R> {
  readonly params: readonly unknown[];
  readonly settle: (error: unknown, rows: R[] | undefined) => void;
}

/**
 * Selects of one shape (the same SQL text, their own parameters), coalesced as {@link PointReads}
 * coalesces point reads: a select goes at once while fewer than `maxInFlight` statements are out;
 * beyond that, selects wait for one to come back, and those of one shape then go together (up to
 * `maxBatch`) through `runBatch` — for the MySQL store one `UNION ALL` statement, whose answer
 * holds each select's rows apart. A search answers in one statement of about 0.25 ms of database
 * CPU, a sizeable part of it per statement (the socket round trip and the wake-up it costs both
 * sides, dispatch, the result's metadata), so under load a statement per handful of searches
 * saves CPU on both sides. A batch that fails is run again select by select, so one bad select
 * fails only its own caller.
 */
export class CoalescedSelects<R> {
  private queued = new Map<string, QueuedSelect<R>[]>();
  private inFlight = 0;

  /**
   * @param runOne runs one select
   * @param runBatch runs 2..maxBatch selects of one SQL text as one statement; returns each one's rows, in order
   */
  constructor(
    private readonly runOne: (sql: string, params: readonly unknown[]) => Promise<R[]>,
    private readonly runBatch: (sql: string, params: readonly (readonly unknown[])[]) => Promise<R[][]>,
    private readonly maxBatch = 8,
    private readonly maxInFlight = 2,
  ) {}

  select(sql: string, params: readonly unknown[]): Promise<R[]> {
    return new Promise((resolve, reject) => {
      const settle = (error: unknown, rows: R[] | undefined) => (error === undefined ? resolve(rows!) : reject(error));
      const waiting = this.queued.get(sql);
      if (waiting) waiting.push({ params, settle });
      else this.queued.set(sql, [{ params, settle }]);
      this.send();
    });
  }

  /** Sends queued selects, the longest-waiting shape first, while statements may be added. */
  private send(): void {
    while (this.queued.size > 0 && this.inFlight < this.maxInFlight) {
      const [sql, waiting] = this.queued.entries().next().value as [string, QueuedSelect<R>[]];
      const batch = waiting.length <= this.maxBatch ? waiting : waiting.splice(0, this.maxBatch);
      if (batch === waiting) this.queued.delete(sql);
      this.inFlight++;
      const done = (): void => {
        this.inFlight--;
        this.send();
      };
      this.run(sql, batch).then(done, done);
    }
  }

  private async run(sql: string, batch: readonly QueuedSelect<R>[]): Promise<void> {
    if (batch.length > 1) {
      let answers: R[][] | undefined;
      try {
        answers = await this.runBatch(sql, batch.map((q) => q.params));
      } catch {
        // Run them one by one below: each caller gets its own answer or error.
      }
      if (answers !== undefined) {
        batch.forEach((q, i) => q.settle(undefined, answers[i] ?? []));
        return;
      }
    }
    await Promise.all(
      batch.map((q) =>
        this.runOne(sql, q.params).then(
          (rows) => q.settle(undefined, rows),
          (error: unknown) => q.settle(error ?? new Error('select failed'), undefined),
        ),
      ),
    );
  }
}
