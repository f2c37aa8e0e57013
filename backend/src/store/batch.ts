/**
 * Point reads by id, coalesced: every read asked for while the event loop handles one round of I/O
 * goes to the database as one `WHERE id IN (…)` statement, sent when that round is over
 * (`setImmediate`). An API under load receives many trace requests per round; one statement per
 * round instead of one per request saves most of the per-statement cost on both sides (the socket
 * write that wakes the server, the server's parse and dispatch, the client's result handling),
 * and adds no timer: an idle server sends a lone read at the end of the round it arrived in.
 *
 * A read asked for after a write completed is sent after it, so a caller still reads its own
 * writes; the batch changes when statements are sent, never what they see.
 */
export class PointReads<R> {
  private pending = new Map<string, ((error: unknown, row: R | undefined) => void)[]>();
  private scheduled = false;

  /**
   * @param fetch reads the rows of up to `maxBatch` distinct keys; returns them by key
   * @param keyOf the key a requested id matches rows under (e.g. the database's comparison rule)
   */
  constructor(
    private readonly fetch: (ids: readonly string[]) => Promise<ReadonlyMap<string, R>>,
    private readonly maxBatch = 64,
    private readonly keyOf: (id: string) => string = (id) => id,
  ) {}

  get(id: string): Promise<R | undefined> {
    return new Promise((resolve, reject) => {
      const key = this.keyOf(id);
      const waiting = this.pending.get(key);
      const settle = (error: unknown, row: R | undefined) => (error === undefined ? resolve(row) : reject(error));
      if (waiting) waiting.push(settle);
      else this.pending.set(key, [settle]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += this.maxBatch) {
      const chunk = keys.slice(i, i + this.maxBatch);
      this.fetch(chunk).then(
        (rows) => {
          for (const key of chunk) for (const settle of batch.get(key)!) settle(undefined, rows.get(key));
        },
        (error: unknown) => {
          for (const key of chunk) for (const settle of batch.get(key)!) settle(error ?? new Error('read failed'), undefined);
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
