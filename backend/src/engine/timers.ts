/**
 * Event-time timers (as in Flink's timer service): a binary min-heap of (deadline, item).
 * Entries are never updated in place; the owner re-registers on change and checks, when a timer
 * pops, whether it is still current.
 */
const NONE: readonly never[] = Object.freeze([]);

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

  /** Removes and returns every item whose deadline is ≤ `now`, earliest first. */
  due(now: number): readonly T[] {
    if (this.items.length === 0 || this.deadlines[0]! > now) return NONE;
    const out: T[] = [];
    while (this.items.length > 0 && this.deadlines[0]! <= now) out.push(this.pop());
    return out;
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

  private up(i: number): void {
    const { deadlines, items } = this;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (deadlines[parent]! <= deadlines[i]!) break;
      this.swap(i, parent, deadlines, items);
      i = parent;
    }
  }

  private down(i: number): void {
    const { deadlines, items } = this;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && deadlines[l]! < deadlines[smallest]!) smallest = l;
      if (r < n && deadlines[r]! < deadlines[smallest]!) smallest = r;
      if (smallest === i) return;
      this.swap(i, smallest, deadlines, items);
      i = smallest;
    }
  }

  private swap(i: number, j: number, deadlines: number[], items: T[]): void {
    [deadlines[i], deadlines[j]] = [deadlines[j]!, deadlines[i]!];
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
