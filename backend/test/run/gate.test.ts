/**
 * The anchor stage's merge by arrival time (gate.ts): what comes straight from normalise and what
 * join partitions forward reach the engine in arrival order, as far as every stream has come.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AnchorGate, relayedSources } from '../../src/run/gate.js';
import { parseTemplate } from '../../src/template/index.js';

const template = parseTemplate(readFileSync(new URL('../../../templates/payment.yaml', import.meta.url), 'utf8'), 'payment.yaml');
const LIMITS = { maxHoldMs: 500, maxHeld: 1000, slackMs: 0 };
const ids = (held: ReturnType<AnchorGate['release']>) => held.map((h) => (h.record === undefined ? `mark:${h.source}@${h.time}` : (h.record as { id: string }).id));

describe('AnchorGate', () => {
  it('relays only the sources that go through the join stage', () => {
    expect([...relayedSources(template)]).toEqual(['channel']);
  });

  it('holds records until every stream (direct marks, every join partition\'s relays) has passed their arrival time, then releases them in arrival order', () => {
    const gate = new AnchorGate([template], 2, LIMITS);
    gate.relay('payment', 'channel', 'channel-callback/0', 0, 500, 50, 0);
    // A whole billing batch first, then a client batch that arrived earlier: the engine must see arrival order.
    gate.record('payment', 'billing', 5_000, 300, { id: 'b300' }, 0);
    gate.record('payment', 'billing', 6_000, 400, { id: 'b400' }, 0);
    gate.mark('payment', 'billing', 'billing-log/0', 6_000, 400, 0);
    gate.record('payment', 'client', 1_000, 100, { id: 'c100' }, 0);
    gate.mark('payment', 'client', 'client-log/0', 1_000, 100, 0);
    expect(gate.release('payment', 0, false)).toEqual([]); // join partition 1 has said nothing yet
    gate.relay('payment', 'channel', 'channel-callback/0', 0, 2_000, 350, 0);
    expect(gate.release('payment', 0, false)).toEqual([]); // nor has it now
    gate.record('payment', 'channel', 1_500, 200, { id: 'n200' }, 0); // forwarded by join partition 1
    gate.relay('payment', 'channel', 'channel-callback/0', 1, 2_000, 350, 0);
    // The client stream has come only to 100: just what arrived by then goes.
    expect(ids(gate.release('payment', 0, false))).toEqual(['c100', 'mark:client@1000']);
    gate.mark('payment', 'client', 'client-log/0', 9_000, 500, 0);
    // Now every stream passed 350: arrival order across both paths, marks after what they cover.
    expect(ids(gate.release('payment', 0, false))).toEqual(['n200', 'b300', 'mark:channel@2000']);
    expect(gate.waiting).toBe(3);
  });

  it('a stream never heard from holds nothing back; a quiet one no longer than maxHoldMs once the partition has nothing more to read; the state survives a checkpoint', () => {
    const gate = new AnchorGate([template], 1, LIMITS);
    gate.mark('payment', 'billing', 'billing-log/0', 1_000, 100, 0);
    gate.record('payment', 'billing', 2_000, 200, { id: 'b200' }, 0);
    expect(ids(gate.release('payment', 0, false))).toEqual(['mark:billing@1000']);
    gate.relay('payment', 'channel', 'channel-callback/0', 0, 900, 150, 0);
    gate.record('payment', 'billing', 2_500, 250, { id: 'b250' }, 0);
    gate.mark('payment', 'billing', 'billing-log/0', 2_500, 250, 0);
    // The channel came to 150 only; still reading: the rest waits for it.
    expect(ids(gate.release('payment', 1_000, false))).toEqual(['mark:channel@900']);
    const copy = new AnchorGate([template], 1, LIMITS, JSON.parse(JSON.stringify(gate.snapshot())));
    expect(copy.waiting).toBe(3);
    expect(copy.release('payment', 100, true)).toEqual([]);
    expect(ids(copy.release('payment', 600, true))).toEqual(['b200', 'b250', 'mark:billing@2500']);
  });
});
