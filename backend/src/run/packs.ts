/**
 * Internal topic messages are packs: one Kafka message holds, as a JSON array, everything one send
 * of a stage has for one partition, in order. Each item is the JSON object a message used to hold
 * alone, plus its arrival time `a` (the Kafka timestamp it used to carry).
 *
 * Why: kafkajs spends per message (record encoding with varints and 64-bit arithmetic on produce;
 * decoding, offset bookkeeping and a Buffer per message on fetch), and a record crossed two or
 * three internal hops; measured in bench:e2e, producing and fetching the internal topics cost more
 * CPU than the engine. A pack pays that once per partition and send.
 *
 * What does not change: a partition's items stay in the order they were sent (a mark still follows
 * the records it covers), and a consumer applies a whole message or nothing before its offset
 * moves, so offsets and checkpoints cover whole packs. A message that is not an array is read as
 * one item whose arrival time is the message's timestamp (the earlier format).
 */
import type { Message } from 'kafkajs';

/** Largest pack (UTF-16 units of its JSON text; a broker's default message limit is 1 MB). */
const MAX_PACK_CHARS = 256 * 1024;

interface Open {
  text: string;
  items: number;
  /** Largest arrival time of the items (the message's Kafka timestamp). */
  at: number;
}

/** Gathers items per partition and renders them as packs. */
export class Packer {
  private readonly open = new Map<number, Open>();
  private readonly done: Message[] = [];

  /** Adds `json` (one JSON object, `{…}`) to `partition`'s pack, arriving at `at` (ms; undefined: none). */
  add(partition: number, json: string, at: number | undefined): void {
    const item = at === undefined || Number.isNaN(at) ? json : `${json.slice(0, -1)},"a":${at}}`;
    let pack = this.open.get(partition);
    if (pack !== undefined && pack.text.length + item.length > MAX_PACK_CHARS) {
      this.close(partition, pack);
      pack = undefined;
    }
    if (pack === undefined) {
      this.open.set(partition, { text: item, items: 1, at: at ?? -Infinity });
      return;
    }
    pack.text += ',' + item;
    pack.items++;
    if (at !== undefined && at > pack.at) pack.at = at;
  }

  /** The packs gathered (each partition's in order), and starts over. */
  messages(): Message[] {
    for (const [partition, pack] of this.open) this.close(partition, pack);
    return this.done.splice(0);
  }

  private close(partition: number, pack: Open): void {
    this.open.delete(partition);
    this.done.push({
      partition,
      value: `[${pack.text}]`,
      ...(Number.isFinite(pack.at) ? { timestamp: String(pack.at) } : {}),
    });
  }
}

/** An item as read back: `a` is its arrival time (ms), absent when it had none. */
export type Item<T> = T & { a?: number };

/** The items of one internal topic message, in order. */
export function unpack<T extends object>(value: Buffer | null, timestamp: string | undefined): Array<Item<T>> {
  const parsed = JSON.parse(value?.toString('utf8') ?? 'null') as Item<T> | Array<Item<T>>;
  if (Array.isArray(parsed)) return parsed;
  const at = timestamp === undefined ? NaN : Number(timestamp);
  if (!Number.isNaN(at)) parsed.a = at;
  return [parsed];
}
