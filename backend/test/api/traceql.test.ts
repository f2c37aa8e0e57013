import { describe, expect, it } from 'vitest';
import { goDurationMs, parseTraceQL, traceQLDurationMs, traceQLToSearch } from '../../src/api/traceql.js';

const search = (q: string) => traceQLToSearch(parseTraceQL(q));
/** The 400's message for a query the parser refuses. */
const refusal = (q: string): string => {
  try {
    search(q);
  } catch (error) {
    expect((error as { statusCode?: number }).statusCode, q).toBe(400);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${q}`);
};

describe('TraceQL: != and !~', () => {
  it('negates the session columns; a missing verdict never matches (the store is told "a verdict, and not this one")', () => {
    expect(search('{ .verdict != "ok" }')).toEqual({ notVerdict: ['ok'] });
    expect(search('{ span.verdict != "ok" && .verdict != "paid_twice" }')).toEqual({ notVerdict: ['ok', 'paid_twice'] });
    expect(search('{ resource.service.name != "refund" }')).toEqual({ notTemplate: ['refund'] });
    expect(search('{ .template != "refund" && .key != "order-1" }')).toEqual({ notTemplate: ['refund'], notKey: ['order-1'] });
  });

  it('folds a != into an = on the same column, and refuses the pair that excludes everything', () => {
    expect(search('{ (.verdict = "a" || .verdict = "b") && .verdict != "a" }')).toEqual({ verdict: ['b'] });
    expect(search('{ .template = "payment" && .template != "refund" }')).toEqual({ template: 'payment' });
    expect(refusal('{ .verdict = "a" && .verdict != "a" }')).toMatch(/TraceQL: the conditions on verdict exclude each other/);
    expect(refusal('{ .key = "k" && .key != "k" }')).toMatch(/TraceQL: the conditions on key exclude each other/);
  });

  it('turns severity != into the other severities (its index answers), and intersects it with status', () => {
    expect(search('{ .severity != "ok" }')).toEqual({ severity: ['critical', 'warning', 'info'] });
    expect(search('{ .severity != "ok" && status = ok }')).toEqual({ severity: ['warning', 'info'] });
    expect(refusal('{ .severity != "fatal" }')).toMatch(/severity is one of critical, warning, info, ok, not "fatal"/);
    expect(refusal('{ .severity != "critical" && status = error }')).toMatch(/exclude each other/);
  });

  it('negates fields: != any value, !~ a prefix', () => {
    expect(search('{ .channel != "alipay" }')).toEqual({ fields: [{ field: 'channel', op: '!=', value: 'alipay' }] });
    expect(search('{ .amount != 5 && .paid != true }')).toEqual({
      fields: [
        { field: 'amount', op: '!=', value: 5 },
        { field: 'paid', op: '!=', value: true },
      ],
    });
    expect(search('{ .code !~ "C_1.*" && .ref !~ "^R.*" }')).toEqual({
      fields: [
        { field: 'code', op: 'notPrefix', value: 'C_1' },
        { field: 'ref', op: 'notPrefix', value: 'R' },
      ],
    });
  });

  it('refuses what it cannot answer, saying what', () => {
    expect(refusal('{ .code !~ "a|b" }')).toMatch(/TraceQL: !~ supports only prefix patterns like "abc\.\*"/);
    expect(refusal('{ .verdict =~ "paid.*" }')).toMatch(/verdict supports only = and !=/);
    expect(refusal('{ .verdict !~ "paid.*" }')).toMatch(/verdict supports only = and !=/);
    expect(refusal('{ status != error }')).toMatch(/status supports only = error, = ok, = unset/);
    expect(refusal('{ .a != 1 || .a != 2 }')).toMatch(/\|\| may only join `=` conditions/);
  });
});

describe('TraceQL: duration and traceDuration', () => {
  it('reads duration literals as Tempo does (Prometheus form, then Go\'s), exact to the nanosecond', () => {
    const cases: [string, number][] = [
      ['500ms', 500],
      ['1.5s', 1500],
      ['1.1s', 1100],
      ['2m', 120_000],
      ['1h', 3_600_000],
      ['1h30m', 5_400_000],
      ['30m1h', 5_400_000],
      ['250us', 0.25],
      ['250µs', 0.25],
      ['250μs', 0.25],
      ['10ns', 0.00001],
      ['1d', 86_400_000],
      ['1w', 604_800_000],
      ['.5s', 500],
    ];
    for (const [text, ms] of cases) expect(traceQLDurationMs(text), text).toBe(ms);
    for (const text of ['5parsecs', '1.5d', 'ms', '5', '1x', '1e3ms', '']) expect(traceQLDurationMs(text), text).toBeUndefined();
    // Tempo's search form: Go's time.ParseDuration (no d, w, y).
    expect(goDurationMs('1.5s')).toBe(1500);
    expect(goDurationMs('0')).toBe(0);
    expect(goDurationMs('1d')).toBeUndefined();
  });

  it('compares the session duration with every operator; both intrinsics mean the same', () => {
    expect(search('{ duration > 500ms }')).toEqual({ duration: [{ op: '>', ms: 500 }] });
    expect(search('{ traceDuration >= 1.5s && traceDuration < 2m }')).toEqual({
      duration: [
        { op: '>=', ms: 1500 },
        { op: '<', ms: 120_000 },
      ],
    });
    for (const op of ['=', '!=', '<=']) expect(search(`{ duration ${op} 1h }`)).toEqual({ duration: [{ op, ms: 3_600_000 }] });
    expect(search('{ .verdict != "ok" && duration>5m && .amount != 5 }')).toEqual({
      notVerdict: ['ok'],
      fields: [{ field: 'amount', op: '!=', value: 5 }],
      duration: [{ op: '>', ms: 300_000 }],
    });
    // A field named duration is a field.
    expect(search('{ .duration > 5 }')).toEqual({ fields: [{ field: 'duration', op: 'range', gt: 5 }] });
  });

  it('answers a bad duration with a 400 that says where and what a duration is', () => {
    expect(refusal('{ duration > 5parsecs }')).toMatch(/TraceQL: "5parsecs" at 14 is not a duration: write a number and a unit, e\.g\. 500ms, 1\.5s/);
    expect(refusal('{ duration > 1.5d }')).toMatch(/"1\.5d" at 14 is not a duration/);
    expect(refusal('{ duration > 5 }')).toMatch(/duration is compared with a duration \(500ms, 1\.5s, 2m, 1h\), got "5" at 14/);
    expect(refusal('{ traceDuration = "5s" }')).toMatch(/traceDuration is compared with a duration/);
    expect(refusal('{ .amount > 5s }')).toMatch(/\.amount is compared with the duration 5s at 13: durations compare only with duration or traceDuration/);
    expect(refusal('{ duration =~ "5.*" }')).toMatch(/duration supports =, !=, >, >=, <, <= \(not =~\)/);
    expect(refusal('{ duration = 1s || duration = 2s }')).toMatch(/duration takes no \|\|/);
  });
});
