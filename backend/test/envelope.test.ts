import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Replay, TextEvent } from '../src/engine/index.js';
import { Envelope } from '../src/engine/envelope.js';
import { sessionLine } from '../src/cli/replay.js';
import { miniTemplate, sec } from './helpers.js';

/** What JSON.parse makes of a line, as the replay reads it. */
function parsed(line: string): { source: unknown; value: unknown; at: unknown } | undefined {
  try {
    const { source, value, at } = JSON.parse(line);
    return { source, value, at };
  } catch {
    return undefined;
  }
}

describe('replay input envelope read without parsing it', () => {
  const envelope = new Envelope(['billing', 'client', 'channel', 'we"ird', '']);

  it('takes the common layout, with and without "at", and keeps the value text as read', () => {
    const value = '{"ts":1,"amount":1.50,"name":"\\u00e9t\\u00e9","tags":[1,{"at":2}]}';
    for (const [line, at] of [[`{"source":"billing","value":${value},"at":1790000000000}`, 1790000000000], [`{"source":"billing","value":${value}}`, undefined]] as const) {
      expect(envelope.read(line)).toBe(true);
      expect(envelope).toMatchObject({ source: 'billing', at, raw: value });
      expect(envelope.value).toEqual(JSON.parse(value));
    }
    expect(envelope.read('{"source":"we\\"ird","value":{},"at":0}')).toBe(true);
    expect(envelope.source).toBe('we"ird');
    // Sources that share a first letter, and the empty name.
    for (const source of ['client', 'channel', '']) {
      expect(envelope.read(`{"source":${JSON.stringify(source)},"value":{"ts":2}}`)).toBe(true);
      expect(envelope.source).toBe(source);
    }
    for (const short of ['', '{', '{"source":"', '{"source":"c']) expect(envelope.read(short), short).toBe(false);
  });

  it('leaves every other layout to JSON.parse of the whole line', () => {
    for (const line of [
      '{"value":{"ts":1},"source":"billing"}', // key order
      '{"source": "billing", "value": {"ts":1}}', // whitespace
      '{"source":"billing","value":{"ts":1},"at":1.5}', // fractional arrival
      '{"source":"billing","value":{"ts":1},"at":0123}', // not JSON
      '{"source":"billing","value":{"ts":1},"value":{"ts":2}}', // duplicate key: the last wins
      '{"source":"billing","value":{"ts":1},"extra":{}}', // another member
      '{"source":"billing","value":{"ts":1},"at":1,"at":2}',
      '{"source":"billing","value":{"ts":1}', // truncated
      '{"source":"bill\\u0069ng","value":{"ts":1}}', // escaped name
      '{"source":"billing","value":{"ts":1}} ', // trailing space
      '{"source":"unknown","value":{"ts":1}}',
    ]) {
      expect(envelope.read(line), line).toBe(false);
    }
  });

  it('agrees with JSON.parse on any line it takes (property)', () => {
    const json = fc.jsonValue().map((v) => JSON.stringify(v));
    const line = fc.tuple(
      fc.constantFrom('{"source":"billing","value":', '{"source":"client","value":', '{"source":"billing", "value":', '{"value":'),
      fc.oneof(json, fc.string()),
      fc.constantFrom('', ',"at":17', ',"at":1.5', ',"at":', ',"at":01', ',"source":"client"', ',"value":3', ',"at":17,"at":18'),
      fc.constantFrom('}', '', '}}', ' }'),
    ).map((parts) => parts.join(''));
    fc.assert(fc.property(line, (text) => {
      if (!envelope.read(text)) return;
      const whole = parsed(text);
      expect(whole).toBeDefined();
      expect({ source: envelope.source, value: envelope.value, at: envelope.at }).toEqual(whole);
      expect(JSON.parse(envelope.raw)).toEqual(whole!.value);
    }), { numRuns: 2000 });
  });
});

describe('final sessions hold their records as the text they were read as', () => {
  const order = '{"ts":TS,"log_id":"LOG","action":"create_order","order_id":"o1","amount":4.50,"note":"\\u00e9"}';
  const lines = [
    `{"source":"billing","value":${order.replace('TS', String(sec(0))).replace('LOG', 'b1')},"at":${sec(0)}}`,
    // The same layout a producer may write with spaces: parsed whole, kept parsed.
    `{"source": "billing", "value": {"ts":${sec(30)},"log_id":"b2","action":"verify_ok","order_id":"o1","amount":4.5}}`,
  ];

  it('keeps the text of records read in the common layout, parses it on demand, and writes it exactly as read', () => {
    const replay = new Replay([miniTemplate()]);
    for (const line of lines) replay.line(line);
    const [session] = replay.end().sessions;
    const [placed, verified] = session!.events;
    expect(placed).toBeInstanceOf(TextEvent);
    expect((placed as TextEvent).raw).toBe(order.replace('TS', String(sec(0))).replace('LOG', 'b1'));
    expect(placed!.value).toEqual({ ts: sec(0), log_id: 'b1', action: 'create_order', order_id: 'o1', amount: 4.5, note: 'é' });
    expect(verified).not.toBeInstanceOf(TextEvent);
    expect(verified!.value).toMatchObject({ log_id: 'b2' });
    // Serialisers that take the event whole see the contract's keys, not the text.
    expect(JSON.parse(JSON.stringify(placed))).toEqual({ step: placed!.step, source: 'billing', time: sec(0), value: placed!.value });
    const out = sessionLine(session!);
    expect(out).toContain('"amount":4.50,"note":"\\u00e9"');
    expect(JSON.parse(out).events.map((e: { value: unknown }) => e.value)).toEqual([placed!.value, verified!.value]);
  });

  it('repairs a final session from its text records as from parsed ones', () => {
    const replay = new Replay([miniTemplate()]);
    for (const line of lines) replay.line(line);
    // Far past the window: the session is final, then a late record of its key arrives.
    replay.line(`{"source":"billing","value":{"ts":${sec(7200)},"log_id":"hb","action":"heartbeat"},"at":${sec(7200)}}`);
    replay.line(`{"source":"client","value":{"@timestamp":"${new Date(sec(7200)).toISOString()}","event":"heartbeat"}}`);
    expect(replay.store.all()[0]).toMatchObject({ status: 'final' });
    replay.line(`{"source":"client","value":{"@timestamp":"${new Date(sec(10)).toISOString()}","event":"pay_ui_open","order":{"id":"o1"}}}`);
    const [session] = replay.end().sessions;
    expect(session!.events.map((e) => e.step)).toEqual(['order_placed', 'pay_ui_opened', 'payment_completed']);
    expect(session!.events[0]).toBeInstanceOf(TextEvent);
    expect(session!.events[0]!.value).toMatchObject({ log_id: 'b1', amount: 4.5 });
    expect(replay.engine.counters.lateReapplied).toBe(1);
  });
});
