/** A binary min-heap ordered by (at, seq): the generator's bounded reorder buffer by arrival time. */
export interface Arrival {
  /** Arrival wall-clock ms. */
  readonly at: number;
  /** Insertion order: breaks ties so the output is deterministic. */
  readonly seq: number;
}

export class ArrivalHeap<T extends Arrival> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(items[r]!, items[l]!) ? r : l;
      if (!before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function before(a: Arrival, b: Arrival): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
