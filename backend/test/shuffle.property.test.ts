import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayLines } from '../src/engine/index.js';
import type { SessionDoc } from '../src/engine/types.js';
import { min, miniTemplate, rec, sec } from './helpers.js';

const template = miniTemplate();
const DISORDER_MS: Record<string, number> = Object.fromEntries([...template.sources.values()].map((s) => [s.name, s.disorderMs]));

type Rec = readonly [string, Record<string, unknown>];

function eventTime(r: Rec): number {
  const v = r[1];
  if (typeof v.ts === 'number') return v.ts;
  if (typeof v.notify_time === 'number') return v.notify_time * 1000;
  return Date.parse(v['@timestamp'] as string);
}

/** A payment-like order: some steps in its first minutes, maybe a callback, maybe a later split piece. */
const order = (i: number) =>
  fc.record({
    start: fc.integer({ min: 0, max: 120 }),
    steps: fc.subarray(['order', 'payUi', 'receipt', 'verify', 'callback'] as const, { minLength: 1 }),
    offsets: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 5, maxLength: 5 }),
    split: fc.option(fc.integer({ min: 20, max: 90 }), { nil: undefined }),
    redeliver: fc.boolean(),
  }).map(({ start, steps, offsets, split, redeliver }) => {
    const o = `o${i}`;
    const trans = `T${i}`;
    const t0 = min(start);
    const at = (k: number) => t0 + sec(offsets[k]!) - sec(0);
    const records: Rec[] = steps.map((s, k) => {
      switch (s) {
        case 'order': return rec.order(o, at(k));
        case 'payUi': return rec.payUi(o, at(k));
        case 'receipt': return rec.receipt(o, at(k), trans);
        case 'verify': return rec.verify(o, at(k));
        case 'callback': return rec.callback(trans, at(k) + 30_000);
      }
    }) as Rec[];
    if (split !== undefined) records.push(rec.payUi(o, t0 + 11 * 60_000 + split * 60_000) as Rec);
    if (redeliver) records.push(records[0]!);
    return records;
  });

const workload = fc
  .integer({ min: 1, max: 8 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => order(i))))
  .map((orders) => orders.flat());

/** Arrival order: each record delayed by at most its source's declared disorder. */
function arrive(records: readonly Rec[], delays: readonly number[]): Rec[] {
  return records
    .map((r, i) => ({ r, key: eventTime(r) + Math.floor((delays[i % delays.length]! / 1000) * DISORDER_MS[r[0]]!) }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.r);
}

/** Sessions compared by content: ids depend on which record opened a session, so links are mapped to the linked session's start. */
function canonical(sessions: readonly SessionDoc[]): unknown[] {
  const live = sessions.filter((s) => s.status !== 'merged');
  const startOf = new Map(live.map((s) => [s.id, `${s.key}@${s.start}`]));
  return live
    .map((s) => ({
      key: s.key, start: s.start, end: s.end, status: s.status, verdict: s.verdict, severity: s.severity, explain: s.explain,
      fields: s.fields, splitOf: s.splitOf === null ? null : startOf.get(s.splitOf) ?? 'unknown',
      events: s.events.map((e) => JSON.stringify(e)).sort(),
    }))
    .sort((a, b) => a.key.localeCompare(b.key) || a.start - b.start);
}

const lines = (records: readonly Rec[]) => records.map((r) => JSON.stringify({ source: r[0], value: r[1] }));

describe('arrival order within declared disorder', () => {
  it('does not change the final sessions or orphans', () => {
    fc.assert(
      fc.property(workload, fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 64 }), (records, delays) => {
        const inOrder = [...records].sort((a, b) => eventTime(a) - eventTime(b));
        const expected = replayLines([template], lines(inOrder));
        const shuffled = replayLines([template], lines(arrive(records, delays)));
        expect(shuffled.summary.lateReapplied + shuffled.summary.lateDropped).toBe(0);
        expect(canonical(shuffled.sessions)).toEqual(canonical(expected.sessions));
        expect(shuffled.orphans.map((o) => JSON.stringify(o)).sort()).toEqual(expected.orphans.map((o) => JSON.stringify(o)).sort());
      }),
      { numRuns: 300 },
    );
  });
});
