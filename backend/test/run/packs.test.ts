/**
 * Internal topic packs (packs.ts): what a stage sends to a partition in one go travels as one Kafka
 * message and reads back as the same items, in order, each with its own arrival time.
 */
import { describe, expect, it } from 'vitest';
import { Packer, unpack } from '../../src/run/packs.js';

const read = (value: string | Buffer, timestamp?: string) => unpack<{ n: number; r?: unknown }>(Buffer.from(value), timestamp);

describe('Packer', () => {
  it('gives one message per partition holding its items in order, each with its arrival time; the message carries the latest', () => {
    const packer = new Packer();
    packer.add(1, '{"n":1,"r":{"x":"a}b"}}', 1000);
    packer.add(0, '{"n":2}', 1005);
    packer.add(1, '{"n":3}', undefined);
    packer.add(1, '{"n":4}', 990);
    const messages = packer.messages();
    expect(messages.map((m) => m.partition)).toEqual([1, 0]);
    const one = messages[0]!;
    expect(one.timestamp).toBe('1000');
    expect(read(one.value as string)).toEqual([{ n: 1, r: { x: 'a}b' }, a: 1000 }, { n: 3 }, { n: 4, a: 990 }]);
    expect(read(messages[1]!.value as string)).toEqual([{ n: 2, a: 1005 }]);
    expect(packer.messages()).toEqual([]);
  });

  it('splits a partition\'s items over several messages past the size limit, keeping their order', () => {
    const packer = new Packer();
    const big = 'x'.repeat(100_000);
    for (let n = 0; n < 7; n++) packer.add(3, `{"n":${n},"r":"${big}"}`, n);
    const messages = packer.messages();
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect((m.value as string).length).toBeLessThanOrEqual(256 * 1024 + 2);
    expect(messages.flatMap((m) => read(m.value as string).map((i) => [i.n, i.a]))).toEqual([0, 1, 2, 3, 4, 5, 6].map((n) => [n, n]));
  });

  it('reads a message of the earlier format (one object) as one item arriving at the message timestamp', () => {
    expect(read('{"n":9}', '1234')).toEqual([{ n: 9, a: 1234 }]);
    expect(read('{"n":9}')).toEqual([{ n: 9 }]);
  });
});
