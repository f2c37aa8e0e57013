/**
 * The ISO-8601 fast path of event times (engine/time.ts) against Date.parse: for any text in or
 * near the `YYYY-MM-DDTHH:mm:ss.sssZ` layout, it gives Date.parse's value or leaves the text to it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoUtcMs, parseEventTime } from '../src/engine/time.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** The layout's parts, each a little past its valid range (month 13, day 32, hour 24, second 60…). */
const isoParts = fc.record({
  year: fc.integer({ min: 0, max: 9999 }),
  month: fc.integer({ min: 0, max: 13 }),
  day: fc.integer({ min: 0, max: 32 }),
  hour: fc.integer({ min: 0, max: 25 }),
  minute: fc.integer({ min: 0, max: 60 }),
  second: fc.integer({ min: 0, max: 61 }),
  ms: fc.integer({ min: 0, max: 999 }),
});

const isoText = isoParts.map(({ year, month, day, hour, minute, second, ms }) =>
  `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(ms, 3)}Z`);

/** One character of a well-formed text replaced: separators, digits, the zone. */
const mutated = fc.tuple(isoText, fc.nat(23), fc.constantFrom('-', ':', '.', 'T', 't', 'Z', 'z', ' ', '+', '0', '9', 'a', '\u0660'))
  .map(([text, at, c]) => text.slice(0, at) + c + text.slice(at + 1));

function dateParse(text: string): number | undefined {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

describe('ISO-8601 event times without Date.parse', () => {
  it('gives what Date.parse gives whenever it answers', () => {
    fc.assert(
      fc.property(fc.oneof(isoText, mutated), (text) => {
        const fast = isoUtcMs(text);
        if (fast !== undefined) expect(fast).toBe(Date.parse(text));
        expect(parseEventTime(text)).toBe(dateParse(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('answers for the layout toISOString writes, across the years it can write in four digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse('0000-01-01T00:00:00.000Z'), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (ms) => {
        const text = new Date(ms).toISOString();
        expect(isoUtcMs(text)).toBe(ms);
      }),
      { numRuns: 20_000 },
    );
  });

  it('rolls a day past the month end over as Date.parse does, and leaves 24:00 and leap seconds to it', () => {
    expect(isoUtcMs('2026-02-30T00:00:00.000Z')).toBe(Date.parse('2026-02-30T00:00:00.000Z'));
    expect(isoUtcMs('2024-02-29T12:00:00.000Z')).toBe(Date.UTC(2024, 1, 29, 12));
    expect(isoUtcMs('2026-09-21T24:00:00.000Z')).toBeUndefined();
    expect(parseEventTime('2026-09-21T24:00:00.000Z')).toBe(Date.UTC(2026, 8, 22));
    expect(isoUtcMs('2026-09-21T23:59:60.000Z')).toBeUndefined();
    expect(parseEventTime('2026-09-21T23:59:60.000Z')).toBeUndefined();
    expect(isoUtcMs('2026-09-21T14:13:12.438+00:00')).toBeUndefined();
  });
});
