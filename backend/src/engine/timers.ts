/**
 * Event-time timers (as in Flink's timer service): a binary min-heap of (deadline, item).
 * Entries are never updated in place; the owner re-registers on change and checks, when a timer
 * pops, whether it is still current.
 */
export class Timers<T> {
  private deadlines: number[] = [];
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  register(deadline: number, item: T): void {
    this.deadlines.push(deadline);
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  /**
   * Removes and returns the earliest item whose deadline is ≤ `now`, or undefined when none is due.
   * Callers loop on it: no list is built for what is usually zero or one item per call.
   */
  popDue(now: number): T | undefined {
    if (this.items.length === 0 || this.deadlines[0]! > now) return undefined;
    return this.pop();
  }

  private pop(): T {
    const top = this.items[0]!;
    const lastDeadline = this.deadlines.pop()!;
    const lastItem = this.items.pop()!;
    if (this.items.length > 0) {
      this.deadlines[0] = lastDeadline;
      this.items[0] = lastItem;
      this.down(0);
    }
    return top;
  }

  /** Moves the entry at `i` up to its place, shifting parents down into the hole (no swaps). */
  private up(i: number): void {
    const { deadlines, items } = this;
    const deadline = deadlines[i]!;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (deadlines[parent]! <= deadline) break;
      deadlines[i] = deadlines[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    deadlines[i] = deadline;
    items[i] = item;
  }

  /** Moves the entry at `i` down to its place, shifting the smaller child up into the hole. */
  private down(i: number): void {
    const { deadlines, items } = this;
    const n = items.length;
    const deadline = deadlines[i]!;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && deadlines[r]! < deadlines[l]! ? r : l;
      if (deadlines[child]! >= deadline) break;
      deadlines[i] = deadlines[child]!;
      items[i] = items[child]!;
      i = child;
    }
    deadlines[i] = deadline;
    items[i] = item;
  }
}
