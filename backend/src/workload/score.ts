/**
 * Scores an engine's output against a workload's ground truth (truth.ts): pairwise precision and
 * recall of records-in-sessions, verdicts, split links, fields, orphans, malformed lines, lost and
 * duplicated records. Structural types only, so any replay/store output shape that carries these
 * members can be scored.
 */
import { recordId, type PaymentTruth, type TruthFields, type TruthSession } from './truth.js';

export interface ScoredEvent {
  readonly source: string;
  readonly value: unknown;
}

export interface ScoredSession {
  readonly id: string;
  readonly key: string;
  readonly status: string;
  readonly verdict: string | null;
  readonly splitOf: string | null;
  readonly mergedInto: string | null;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly events: readonly ScoredEvent[];
}

export interface ScoredOrphan {
  readonly source: string;
  readonly value: unknown;
}

export interface ScoredError {
  readonly line: number;
  readonly reason: string;
}

export interface ScoreInput {
  readonly sessions: readonly ScoredSession[];
  readonly orphans: readonly ScoredOrphan[];
  readonly errors?: readonly ScoredError[];
}

export interface TruthRef {
  readonly key: string;
  readonly piece: number;
  readonly scenario: string;
}

export interface PaymentScore {
  /** Of the record pairs the engine put together, the share truth puts together too. */
  pairPrecision: number;
  /** Of the record pairs truth puts together, the share the engine put together. */
  pairRecall: number;
  truthSessions: number;
  /** Engine sessions, merged tombstones excluded. */
  engineSessions: number;
  /** Truth sessions whose records are spread over several engine sessions (or partly missing). */
  fragmented: (TruthRef & { sessionIds: string[] })[];
  /** Engine sessions that mix records of several truth sessions. */
  mixed: { sessionId: string; key: string; truth: TruthRef[] }[];
  verdictMismatches: (TruthRef & { sessionId: string; expected: string; actual: string | null })[];
  splitMismatches: (TruthRef & { sessionId: string; expected: string | null; actual: string | null })[];
  fieldMismatches: (TruthRef & { sessionId: string; field: string; expected: unknown; actual: unknown })[];
  /** Truth record ids (in sessions or orphans) found nowhere in the output. */
  lost: string[];
  /** Record ids found more than once in the output (sessions and orphans together). */
  duplicated: string[];
  /** Record ids in the output that truth does not expect anywhere (noise or malformed let through). */
  extra: string[];
  /** Truth orphans that were not reported as orphans. */
  orphansMissing: string[];
  /** Records reported as orphans that truth places in a session. */
  wrongOrphans: string[];
  /** Malformed lines (1-based) without an error reported. */
  malformedMissing: number[];
  /** Errors reported for lines truth does not consider malformed. */
  unexpectedErrors: ScoredError[];
}

const FIELD_NAMES: readonly (keyof TruthFields)[] = [
  'trans_id', 'amount', 'product_id', 'user_id', 'pay_ms', 'delivered_count', 'channel_status', 'platform',
];

export function scorePayment(truth: PaymentTruth, output: ScoreInput): PaymentScore {
  const live = output.sessions.filter((s) => s.status !== 'merged' && s.mergedInto == null);

  // Where truth puts each record.
  const truthOf = new Map<string, number>();
  truth.sessions.forEach((t, i) => {
    for (const id of t.recordIds) truthOf.set(id, i);
  });
  const truthOrphans = new Set(truth.orphans);

  // Where the engine put each record.
  const seen = new Map<string, number>();
  const note = (id: string): void => {
    seen.set(id, (seen.get(id) ?? 0) + 1);
  };
  const engineOf = new Map<string, number>();
  const sessionIds: string[][] = live.map((s) => {
    const ids = new Set<string>();
    for (const e of s.events) {
      const id = recordId(e.source, e.value);
      if (id === undefined) continue;
      note(id);
      ids.add(id);
    }
    return [...ids];
  });
  sessionIds.forEach((ids, i) => {
    for (const id of ids) engineOf.set(id, i);
  });
  const orphanIds = new Set<string>();
  for (const o of output.orphans) {
    const id = recordId(o.source, o.value);
    if (id === undefined) continue;
    note(id);
    orphanIds.add(id);
  }

  // Pairwise precision and recall over records in sessions.
  const pairs = (n: number): number => (n * (n - 1)) / 2;
  let predicted = 0;
  let together = 0;
  const overlap = new Map<number, Map<number, number>>(); // truth index -> engine index -> records
  sessionIds.forEach((ids, e) => {
    predicted += pairs(ids.length);
    const byTruth = new Map<number, number>();
    for (const id of ids) {
      const t = truthOf.get(id);
      if (t !== undefined) byTruth.set(t, (byTruth.get(t) ?? 0) + 1);
    }
    for (const [t, n] of byTruth) {
      together += pairs(n);
      let row = overlap.get(t);
      if (!row) overlap.set(t, (row = new Map()));
      row.set(e, n);
    }
  });
  const expected = truth.sessions.reduce((sum, t) => sum + pairs(t.recordIds.length), 0);

  const score: PaymentScore = {
    pairPrecision: predicted === 0 ? 1 : together / predicted,
    pairRecall: expected === 0 ? 1 : together / expected,
    truthSessions: truth.sessions.length,
    engineSessions: live.length,
    fragmented: [],
    mixed: [],
    verdictMismatches: [],
    splitMismatches: [],
    fieldMismatches: [],
    lost: [],
    duplicated: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
    extra: [...seen.keys()].filter((id) => !truthOf.has(id) && !truthOrphans.has(id)),
    orphansMissing: truth.orphans.filter((id) => !orphanIds.has(id)),
    wrongOrphans: [...orphanIds].filter((id) => truthOf.has(id)),
    malformedMissing: [],
    unexpectedErrors: [],
  };
  for (const id of truthOf.keys()) if (!seen.has(id)) score.lost.push(id);
  for (const id of truthOrphans) if (!seen.has(id)) score.lost.push(id);

  // Each truth session's engine session: the one holding most of its records.
  const ref = (t: TruthSession): TruthRef => ({ key: t.key, piece: t.piece, scenario: t.scenario });
  const matched = truth.sessions.map((t, i) => {
    const row = overlap.get(i);
    let best: number | undefined;
    let bestN = 0;
    for (const [e, n] of row ?? []) if (n > bestN) [best, bestN] = [e, n];
    if (!row || row.size > 1 || bestN < t.recordIds.length) {
      score.fragmented.push({ ...ref(t), sessionIds: [...(row?.keys() ?? [])].map((e) => live[e]!.id) });
    }
    return best === undefined ? undefined : live[best];
  });
  const truthPerEngine = new Map<number, number[]>();
  for (const [t, row] of overlap) for (const e of row.keys()) truthPerEngine.set(e, [...(truthPerEngine.get(e) ?? []), t]);
  for (const [e, ts] of truthPerEngine) {
    if (ts.length > 1) score.mixed.push({ sessionId: live[e]!.id, key: live[e]!.key, truth: ts.map((t) => ref(truth.sessions[t]!)) });
  }

  const pieceOf = new Map<string, ScoredSession | undefined>();
  truth.sessions.forEach((t, i) => pieceOf.set(`${t.key}#${t.piece}`, matched[i]));
  truth.sessions.forEach((t, i) => {
    const s = matched[i];
    if (!s) return;
    if (s.verdict !== t.verdict) score.verdictMismatches.push({ ...ref(t), sessionId: s.id, expected: t.verdict, actual: s.verdict });
    const wantSplit = t.splitOfPiece === undefined ? null : pieceOf.get(`${t.key}#${t.splitOfPiece}`)?.id ?? '<unmatched piece>';
    if ((s.splitOf ?? null) !== wantSplit) {
      score.splitMismatches.push({ ...ref(t), sessionId: s.id, expected: wantSplit, actual: s.splitOf ?? null });
    }
    for (const name of FIELD_NAMES) {
      const want = t.fields[name];
      const got = plain(s.fields[name]);
      const same = typeof want === 'number' && typeof got === 'number' ? Math.abs(want - got) < 1e-9 : want === got;
      if (!same) score.fieldMismatches.push({ ...ref(t), sessionId: s.id, field: name, expected: want, actual: got });
    }
  });

  const errorLines = new Set((output.errors ?? []).map((e) => e.line));
  const malformed = new Set(truth.malformedLines);
  score.malformedMissing = truth.malformedLines.filter((line) => !errorLines.has(line));
  score.unexpectedErrors = (output.errors ?? []).filter((e) => !malformed.has(e.line));
  return score;
}

function plain(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** A short human-readable digest of a score, for test failure messages and the bench. */
export function describeScore(score: PaymentScore, limit = 5): string {
  const lines = [
    `pairs: precision ${score.pairPrecision.toFixed(6)}, recall ${score.pairRecall.toFixed(6)}; ` +
      `sessions: truth ${score.truthSessions}, engine ${score.engineSessions}`,
  ];
  const list = (name: string, items: readonly unknown[]): void => {
    if (items.length > 0) lines.push(`${name} (${items.length}): ${items.slice(0, limit).map((x) => JSON.stringify(x)).join('; ')}`);
  };
  list('fragmented', score.fragmented);
  list('mixed', score.mixed);
  list('verdict mismatches', score.verdictMismatches);
  list('split mismatches', score.splitMismatches);
  list('field mismatches', score.fieldMismatches);
  list('lost', score.lost);
  list('duplicated', score.duplicated);
  list('extra', score.extra);
  list('orphans missing', score.orphansMissing);
  list('wrong orphans', score.wrongOrphans);
  list('malformed lines without error', score.malformedMissing);
  list('unexpected errors', score.unexpectedErrors);
  return lines.join('\n');
}
