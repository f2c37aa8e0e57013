import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCel } from '../src/template/cel.js';
import type { Presence } from '../src/template/index.js';

const STEPS = ['a', 'b', 'c'] as const;

/** A session context holding exactly `present` steps (and `fields`), as the engine builds it. */
function contextOf(present: ReadonlySet<string>, fields: Record<string, unknown> = {}) {
  const first: Record<string, unknown> = {};
  const time: Record<string, bigint> = {};
  const count: Record<string, bigint> = {};
  const all: Record<string, unknown[]> = {};
  for (const s of STEPS) {
    count[s] = present.has(s) ? 1n : 0n;
    all[s] = present.has(s) ? [{ x: 1, s: 'v' }] : [];
    if (present.has(s)) {
      first[s] = { x: 1, s: 'v', nested: { y: 2 } };
      time[s] = 1000n;
    }
  }
  return { key: 'k', start: 0n, end: 10n, duration: 10n, first, last: first, all, count, time, fields, steps: [...present] };
}

function presenceOf(present: ReadonlySet<string>, fields: Record<string, unknown> = {}): Presence {
  return { step: (name) => present.has(name), field: (name) => fields[name] !== undefined };
}

function throws(run: () => unknown): boolean {
  try {
    run();
    return false;
  } catch {
    return true;
  }
}

describe('absence analysis (skipping evaluations certain to fail)', () => {
  it('decides the cases of the payment template', () => {
    const transId = compileCel('has(first.a) ? first.a.s : has(first.b) ? first.b.s : first.c.s', 'session');
    expect(transId.fails!(presenceOf(new Set()))).toBe(true);
    expect(transId.fails!(presenceOf(new Set(['c'])))).toBe(false);
    expect(transId.fails!(presenceOf(new Set(['b'])))).toBe(false);

    const payMs = compileCel('time.b - time.a', 'session');
    expect(payMs.fails!(presenceOf(new Set(['a'])))).toBe(true);
    expect(payMs.fails!(presenceOf(new Set(['a', 'b'])))).toBe(false);

    const readsField = compileCel('fields.amount > 3.0', 'session');
    expect(readsField.fails!(presenceOf(new Set(), {}))).toBe(true);
    expect(readsField.fails!(presenceOf(new Set(), { amount: 4 }))).toBe(false);
  });

  it('does not claim failure where CEL absorbs the error', () => {
    for (const source of [
      'count.a == 0 || first.a.x > 0', // true || error is true
      'count.a > 0 && first.a.x > 0', // false && error is false
      'all.a.exists(e, e.x > 0)',
      'has(first.a)',
      'first.a.x > 0 || true', // error || true is true
    ]) {
      const expr = compileCel(source, 'session');
      const none = new Set<string>();
      expect(expr.fails?.(presenceOf(none)) ?? false, source).toBe(false);
      expect(throws(() => expr.run(contextOf(none))), source).toBe(false);
    }
  });

  it('leaves expressions that never depend on presence to CEL', () => {
    expect(compileCel('count.a > 1', 'session').fails).toBeUndefined();
    expect(compileCel('duration > 5', 'session').fails).toBeUndefined();
  });

  // Soundness: whenever the analysis says "fails", CEL really fails, for every presence set.
  const leaf = fc.constantFrom(
    ...STEPS.flatMap((s) => [`first.${s}.x > 0`, `time.${s} > 0`, `has(first.${s})`, `count.${s} > 0`, `last.${s}.nested.y == 2`, `size(all.${s}) > 0`]),
    'true', 'false', 'fields.f == 1', 'has(fields.f)',
  );
  const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} && ${b})`),
      fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a} || ${b})`),
      fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
      tie('e').map((a) => `!(${a})`),
      tie('e').map((a) => `[${a}].exists(v, v)`),
    ),
  })).e;

  it('never claims failure for an expression CEL evaluates (property)', () => {
    fc.assert(
      fc.property(expression, fc.subarray([...STEPS]), fc.boolean(), (source, present, withField) => {
        const expr = compileCel(source, 'session');
        const steps = new Set(present);
        const fields = withField ? { f: 1 } : {};
        if (expr.fails?.(presenceOf(steps, fields))) expect(throws(() => expr.run(contextOf(steps, fields))), source).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
