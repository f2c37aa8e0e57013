/**
 * Differential test of the CEL fast path (template/fastcel.ts) against the real CEL programs:
 * random expressions over random records and sessions. Whenever the fast path answers (anything
 * but UNSURE) it must give exactly what CEL gives — the same value and JS type, or FAIL exactly
 * when CEL raises an error.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { compileCel } from '../src/template/cel.js';
import { compileRecordFast, compileSessionFast, FAIL, UNSURE, type SessionScope } from '../src/template/fastcel.js';

type Gen = fc.Arbitrary<string>;

const literal: Gen = fc.constantFrom('"x"', '"y"', '""', '1', '0', '2', '-1', '2.5', '0.0', '-3.5', 'true', 'false', 'null', '9223372036854775807', '4611686018427387904', '3037000500');

function expressions(atoms: Gen, hasTargets: Gen): Gen {
  const { expr } = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      atoms,
      literal,
      hasTargets.map((t) => `has(${t})`),
      fc.tuple(tie('expr'), fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '&&', '||'), tie('expr')).map(([a, op, b]) => `(${a} ${op} ${b})`),
      tie('expr').map((a) => `!(${a})`),
      tie('expr').map((a) => `-(${a})`),
      tie('expr').map((a) => `double(${a})`),
      tie('expr').map((a) => `string(${a})`),
      fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    ),
  }));
  return expr;
}

const jsonScalar = fc.constantFrom<unknown>('x', 'y', '', 1, 0, 2, -1, 2.5, -3.5, 1e300, true, false, null);
const jsonValue = fc.oneof(jsonScalar, fc.constant([1]), fc.record({ x: jsonScalar }, { requiredKeys: [] }));
/** Records as the engine sees them: parsed JSON (plain objects with Object's prototype). */
const record = fc.record({ a: jsonValue, b: jsonValue, n: jsonValue, o: jsonValue }, { requiredKeys: [] }).map((r) => JSON.parse(JSON.stringify(r)) as unknown);

const plain = (_: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

interface Outcomes {
  decided: number;
  unsure: number;
}

function compare(fast: unknown, cel: () => unknown, outcomes: Outcomes): void {
  if (fast === UNSURE) {
    outcomes.unsure++;
    return;
  }
  outcomes.decided++;
  let value: unknown;
  let failed = false;
  try {
    value = cel();
  } catch {
    failed = true;
  }
  if (fast === FAIL) {
    expect(failed, `CEL returned ${JSON.stringify(value, plain)} where the fast path says it fails`).toBe(true);
    return;
  }
  expect(failed, `CEL failed where the fast path returned ${JSON.stringify(fast, plain)}`).toBe(false);
  expect(typeof fast).toBe(typeof value);
  if (typeof fast === 'number' && Number.isNaN(fast)) expect(Number.isNaN(value)).toBe(true);
  else expect(fast).toEqual(value);
}

/** Compiles with the production environment; expressions that do not type-check are skipped. */
function compiled(source: string, scope: 'record' | 'session') {
  try {
    return compileCel(source, scope);
  } catch {
    return undefined;
  }
}

describe('CEL fast path', () => {
  it('agrees with CEL on record expressions', () => {
    const outcomes: Outcomes = { decided: 0, unsure: 0 };
    const atoms = fc.constantFrom('r.a', 'r.b', 'r.n', 'r.o', 'r.o.x', 'r["a"]', 'r.missing', 'r.a.x');
    const hasTargets = fc.constantFrom('r.a', 'r.o.x', 'r.missing', 'r.a.x');
    fc.assert(
      fc.property(expressions(atoms, hasTargets), fc.array(record, { minLength: 1, maxLength: 4 }), (source, records) => {
        const expr = compiled(source, 'record');
        if (!expr) return;
        const program = compileRecordFast(expr.ast);
        if (!program) return;
        for (const r of records) compare(program(r), () => expr.run({ r }), outcomes);
      }),
      { numRuns: 3000 },
    );
    // The fast path must actually answer most of the time, or it would be useless.
    expect(outcomes.decided).toBeGreaterThan(outcomes.unsure);
  });

  it('agrees with CEL on session expressions', () => {
    const outcomes: Outcomes = { decided: 0, unsure: 0 };
    const steps = ['s0', 's1'];
    const atoms = fc.constantFrom(
      'first.s0.a', 'first.s1.n', 'last.s0.a', 'last.s1.o.x', 'count.s0', 'count.s1', 'time.s0', 'time.s1',
      'fields.f', 'fields.g', 'key', 'start', 'end', 'duration', 'first.s0["n"]',
    );
    const hasTargets = fc.constantFrom('first.s0', 'first.s1', 'last.s1', 'time.s0', 'fields.f', 'fields.g', 'first.s0.a', 'first.s1.o.x');
    const session = fc.record({
      events: fc.array(fc.record({ step: fc.integer({ min: 0, max: 1 }), time: fc.integer({ min: 0, max: 1e6 }), value: record }), { maxLength: 4 }),
      fields: fc.record({ f: fc.constantFrom<unknown>('x', 1.5, 3, true), g: fc.constantFrom<unknown>('y', 0) }, { requiredKeys: [] }),
      key: fc.constantFrom('k1', 'x'),
    });
    fc.assert(
      fc.property(expressions(atoms, hasTargets), fc.array(session, { minLength: 1, maxLength: 3 }), (source, sessions) => {
        const expr = compiled(source, 'session');
        if (!expr) return;
        const program = compileSessionFast(expr.ast, (name) => (steps.includes(name) ? steps.indexOf(name) : undefined));
        if (!program) return;
        for (const s of sessions) {
          const events = [...s.events].sort((a, b) => a.time - b.time);
          const start = events.length > 0 ? events[0]!.time : 0;
          const end = events.length > 0 ? events[events.length - 1]!.time : 0;
          const of = (i: number) => events.filter((e) => e.step === i);
          const scope: SessionScope = {
            key: s.key, start, end,
            first: (i) => of(i)[0]?.value,
            last: (i) => of(i).at(-1)?.value,
            count: (i) => of(i).length,
            time: (i) => of(i)[0]?.time,
            field: (name) => (s.fields as Record<string, unknown>)[name],
          };
          const maps = (pick: (i: number) => unknown) =>
            Object.fromEntries(steps.flatMap((name, i) => (of(i).length > 0 ? [[name, pick(i)]] : [])));
          const context = {
            key: s.key, start: BigInt(start), end: BigInt(end), duration: BigInt(end - start),
            first: maps((i) => of(i)[0]!.value), last: maps((i) => of(i).at(-1)!.value),
            time: maps((i) => BigInt(of(i)[0]!.time)), count: Object.fromEntries(steps.map((name, i) => [name, BigInt(of(i).length)])),
            fields: s.fields,
          };
          compare(program(scope), () => expr.run(context), outcomes);
        }
      }),
      { numRuns: 3000 },
    );
    expect(outcomes.decided).toBeGreaterThan(outcomes.unsure);
  });

  it('compiles the shapes of the shipped payment template', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseTemplate } = await import('../src/template/index.js');
    const template = parseTemplate(readFileSync(new URL('../../templates/payment.yaml', import.meta.url), 'utf8'), 'payment.yaml');
    const stepIndex = (name: string) => template.stepsByName.get(name)?.index;
    for (const step of template.steps) {
      expect(compileRecordFast(step.when.ast), step.when.source).toBeDefined();
      expect(compileRecordFast((step.kind === 'anchor' ? step.anchor : step.join.key).ast)).toBeDefined();
    }
    for (const e of [...template.fields.map((f) => f.expr), ...template.verdicts.map((v) => v.when)]) {
      expect(compileSessionFast(e.ast, stepIndex), e.source).toBeDefined();
    }
  });

  it('replays a generated workload to the same sessions, orphans and summary with the fast path off', async () => {
    const replay = async (fast: boolean): Promise<string> => {
      vi.stubEnv('WEFT_CEL_FAST', fast ? '1' : '0');
      vi.resetModules();
      try {
        const { readFileSync } = await import('node:fs');
        const { replayLines } = await import('../src/engine/index.js');
        const { parseTemplate } = await import('../src/template/index.js');
        const { streamPayment } = await import('../src/workload/index.js');
        const template = parseTemplate(readFileSync(new URL('../../templates/payment.yaml', import.meta.url), 'utf8'), 'payment.yaml');
        const { sessions, orphans, summary } = replayLines([template], streamPayment({ sessions: 1500, seed: 11 }).lines);
        expect(sessions.length).toBeGreaterThan(1000);
        return JSON.stringify({ sessions, orphans, summary });
      } finally {
        vi.unstubAllEnvs();
        vi.resetModules();
      }
    };
    expect(await replay(false)).toBe(await replay(true));
  });
});
