/**
 * End-to-end accuracy: generate payment workloads with ground truth, replay them through the engine
 * with templates/payment.yaml, and score the result against the truth.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayLines, type ReplayResult } from '../src/engine/replay.js';
import { loadTemplateFile } from '../src/template/index.js';
import { describeScore, generatePayment, scorePayment, type PaymentScore, type PaymentTruth } from '../src/workload/index.js';

const template = loadTemplateFile(join(import.meta.dirname, '../../templates/payment.yaml'));
const SEEDS = [1, 2, 3];
const SESSIONS = 2_000;

interface Run {
  truth: PaymentTruth;
  result: ReplayResult;
  score: PaymentScore;
}

const runs = new Map<number, Run>();
function run(seed: number): Run {
  let r = runs.get(seed);
  if (!r) {
    const { lines, truth } = generatePayment({ sessions: SESSIONS, seed });
    const result = replayLines([template], lines);
    r = { truth, result, score: scorePayment(truth, result) };
    runs.set(seed, r);
  }
  return r;
}

describe.each(SEEDS)('payment workload, seed %i, replayed', (seed) => {
  it('groups records into sessions with pairwise precision and recall ≥ 0.999', () => {
    const { score } = run(seed);
    const digest = describeScore(score);
    expect(score.pairPrecision, digest).toBeGreaterThanOrEqual(0.999);
    expect(score.pairRecall, digest).toBeGreaterThanOrEqual(0.999);
  });

  it('loses no record and duplicates none (re-deliveries appear once; noise and malformed lines nowhere)', () => {
    const { score } = run(seed);
    expect({ lost: score.lost, duplicated: score.duplicated, extra: score.extra }, describeScore(score))
      .toEqual({ lost: [], duplicated: [], extra: [] });
  });

  it('gives every session the truth verdict', () => {
    const { score } = run(seed);
    expect(score.verdictMismatches, describeScore(score)).toEqual([]);
  });

  it('links every split to the session it splits off, and nothing else', () => {
    const { score, truth } = run(seed);
    expect(truth.sessions.some((s) => s.splitOfPiece !== undefined)).toBe(true);
    expect(score.splitMismatches, describeScore(score)).toEqual([]);
  });

  it('reports every orphan callback as an orphan and no session record as one', () => {
    const { score, truth } = run(seed);
    expect(truth.orphans.length).toBeGreaterThan(0);
    expect({ missing: score.orphansMissing, wrong: score.wrongOrphans }, describeScore(score)).toEqual({ missing: [], wrong: [] });
  });

  it('reports exactly the malformed lines as errors', () => {
    const { score, truth, result } = run(seed);
    expect(truth.malformed).toBeGreaterThan(0);
    expect({ missing: score.malformedMissing, unexpected: score.unexpectedErrors }, describeScore(score))
      .toEqual({ missing: [], unexpected: [] });
    expect(result.summary.skipped).toBe(truth.malformed);
  });

  it('derives the fields the truth expects', () => {
    const { score } = run(seed);
    expect(score.fieldMismatches, describeScore(score)).toEqual([]);
  });

  it('keeps one engine session per truth session', () => {
    const { score } = run(seed);
    expect({ fragmented: score.fragmented, mixed: score.mixed }, describeScore(score)).toEqual({ fragmented: [], mixed: [] });
    expect(score.engineSessions).toBe(score.truthSessions);
  });
});

describe('the scorer', () => {
  it('notices corrupted engine output', () => {
    const { truth, result } = run(SEEDS[0]!);
    const sessions = result.sessions.filter((s) => s.status !== 'merged').map((s) => ({ ...s, events: [...s.events] }));
    const split = sessions.find((s) => s.splitOf !== null)!;
    const big = sessions.filter((s) => s !== split && s.events.length >= 4);
    const [a, b, c] = [big[0]!, big[1]!, big[2]!];
    b.events.push(a.events.pop()!); // a record in the wrong session
    c.events.push(c.events[0]!); // a record twice
    const corrupted = sessions.map((s) => (s === split ? { ...s, splitOf: null, verdict: 'nonsense' } : s));
    const score = scorePayment(truth, {
      sessions: corrupted,
      orphans: result.orphans.slice(1),
      errors: result.errors.slice(1),
    });
    expect(score.pairPrecision).toBeLessThan(1);
    expect(score.pairRecall).toBeLessThan(1);
    expect(score.duplicated).toHaveLength(1);
    expect(score.fragmented.length).toBeGreaterThan(0);
    expect(score.mixed.length).toBeGreaterThan(0);
    expect(score.verdictMismatches.map((m) => m.sessionId)).toContain(split.id);
    expect(score.splitMismatches.map((m) => m.sessionId)).toContain(split.id);
    expect(score.orphansMissing).toHaveLength(1);
    expect(score.lost).toEqual(score.orphansMissing);
    expect(score.malformedMissing).toHaveLength(1);
  });
});

/**
 * The same checks under far heavier lateness and re-delivery than production sees (30 % of records
 * hours late, 30 % delivered twice, many orphans): the rare paths (late supplements, late trans_id,
 * late first pieces of a split) happen dozens of times per run instead of once in a million.
 */
describe('payment workload under heavy lateness and re-delivery, replayed', () => {
  const stress = (() => {
    let r: Run | undefined;
    return (): Run => {
      if (!r) {
        const { lines, truth } = generatePayment({
          sessions: SESSIONS, seed: 9, lateShare: 0.3, redeliveryShare: 0.3, orphanPerSession: 0.3,
        });
        const result = replayLines([template], lines);
        r = { truth, result, score: scorePayment(truth, result) };
      }
      return r;
    };
  })();

  it('keeps precision and recall, verdicts, fields and splits', () => {
    const { score } = stress();
    const digest = describeScore(score);
    expect(score.pairPrecision, digest).toBeGreaterThanOrEqual(0.999);
    expect(score.pairRecall, digest).toBeGreaterThanOrEqual(0.999);
    expect({ verdicts: score.verdictMismatches, fields: score.fieldMismatches, splits: score.splitMismatches }, digest)
      .toEqual({ verdicts: [], fields: [], splits: [] });
  });

  it('adopts callbacks whose trans_id arrived late, and reports each orphan once', () => {
    const { score } = stress();
    expect({
      lost: score.lost, duplicated: score.duplicated, extra: score.extra,
      orphansMissing: score.orphansMissing, wrongOrphans: score.wrongOrphans,
    }, describeScore(score)).toEqual({ lost: [], duplicated: [], extra: [], orphansMissing: [], wrongOrphans: [] });
  });
});
