import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateCommand } from '../src/cli/generate.js';
import { parseEventTime } from '../src/engine/time.js';
import { loadTemplateFile, type CompiledTemplate, type CompiledExpression, type ExplainPart } from '../src/template/index.js';
import {
  DEFAULT_MIX, ID_FIELDS, PAYMENT_STEPS, SCENARIOS, emptyCounts, generatePayment, paymentVerdict, recordId, streamPayment,
  type PaymentStep, type PaymentTruth, type StepCounts, type TruthSession,
} from '../src/workload/index.js';

const TEMPLATE = join(import.meta.dirname, '../../templates/payment.yaml');
const TIME_FIELDS: Record<string, string> = { billing: 'ts', client: '@timestamp', channel: 'notify_time', game: 'time' };
const NOISE = new Set(['heartbeat', 'query_order', 'page_view', 'login']);

interface Parsed {
  line: number;
  source: string;
  value: Record<string, unknown>;
  json: string;
  at: number;
  id: string;
  time: number;
}

/** Parses a generated file; returns the good records and the line numbers of the malformed ones. */
function parse(lines: readonly string[]): { records: Parsed[]; malformed: number[] } {
  const records: Parsed[] = [];
  const malformed: number[] = [];
  lines.forEach((text, i) => {
    let doc: { source?: unknown; value?: unknown; at?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      malformed.push(i + 1);
      return;
    }
    const source = String(doc.source);
    const value = doc.value as Record<string, unknown>;
    const time = parseEventTime(value[TIME_FIELDS[source]!]);
    if (time === undefined) {
      malformed.push(i + 1);
      return;
    }
    const start = text.indexOf('"value":') + 8;
    const json = text.slice(start, text.lastIndexOf(',"at":'));
    records.push({ line: i + 1, source, value, json, at: doc.at as number, id: recordId(source, value)!, time });
  });
  return { records, malformed };
}

const small = generatePayment({ sessions: 3000, seed: 42 });
const parsed = parse(small.lines);
const template = loadTemplateFile(TEMPLATE);

describe('payment workload', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const again = generatePayment({ sessions: 3000, seed: 42 });
    expect(again.lines).toEqual(small.lines);
    expect(again.truth).toEqual(small.truth);
    const other = generatePayment({ sessions: 3000, seed: 43 });
    expect(other.lines).not.toEqual(small.lines);
    const streamed = streamPayment({ sessions: 3000, seed: 42 });
    let i = 0;
    for (const line of streamed.lines) expect(line).toBe(small.lines[i++]);
    expect(i).toBe(small.lines.length);
    expect(streamed.truth).toEqual(small.truth);
  });

  it('writes envelopes in arrival order, each record with a parsable time except the malformed lines', () => {
    const { truth } = small;
    expect(truth.lines).toBe(small.lines.length);
    expect(parsed.malformed).toEqual(truth.malformedLines);
    expect(truth.malformedLines.length).toBe(truth.malformed);
    expect(truth.malformed).toBeGreaterThan(0);
    let last = -Infinity;
    for (const r of parsed.records) {
      expect(Object.keys(ID_FIELDS)).toContain(r.source);
      expect(Number.isInteger(r.at)).toBe(true);
      expect(r.at).toBeGreaterThanOrEqual(last);
      last = r.at;
      expect(r.id).toBeTypeOf('string');
    }
    // Time formats per source, as the template declares them.
    for (const r of parsed.records.slice(0, 2000)) {
      const raw = r.value[TIME_FIELDS[r.source]!];
      if (r.source === 'billing') expect(Number.isInteger(raw)).toBe(true);
      if (r.source === 'client') expect(raw).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      if (r.source === 'channel') expect(raw).toBeTypeOf('number');
      if (r.source === 'game') expect(raw).toMatch(/^\d{13}$/);
    }
    const channelTimes = parsed.records.filter((r) => r.source === 'channel').map((r) => r.value.notify_time as number);
    expect(channelTimes.some((t) => Number.isInteger(t))).toBe(true);
    expect(channelTimes.some((t) => !Number.isInteger(t))).toBe(true);
  });

  it('has a consistent truth: every record id in exactly one session, orphan list or noise', () => {
    const { truth } = small;
    const place = new Map<string, string>();
    for (const s of truth.sessions) {
      for (const id of s.recordIds) {
        expect(place.has(id), `record ${id} placed twice`).toBe(false);
        place.set(id, `${s.key}#${s.piece}`);
      }
      expect(s.recordIds.length).toBe(Object.values(s.steps).reduce((a, b) => a + b, 0));
    }
    for (const id of truth.orphans) {
      expect(place.has(id)).toBe(false);
      place.set(id, 'orphan');
    }
    const firstJson = new Map<string, string>();
    let redelivered = 0;
    const noise = new Set<string>();
    for (const r of parsed.records) {
      const earlier = firstJson.get(r.id);
      if (earlier !== undefined) {
        redelivered++;
        expect(r.json).toBe(earlier);
        continue;
      }
      firstJson.set(r.id, r.json);
      if (!place.has(r.id)) {
        const kind = r.value.action ?? r.value.event ?? r.value.op;
        expect(NOISE.has(String(kind)), `unplaced record ${r.json}`).toBe(true);
        noise.add(r.id);
      }
    }
    expect(redelivered).toBe(truth.redeliveries);
    expect(noise.size).toBe(truth.noise);
    // Every placed id really was written.
    for (const id of place.keys()) expect(firstJson.has(id), `missing record ${id}`).toBe(true);
    // Scenario counts and sessions agree.
    const orders = new Set(truth.sessions.map((s) => s.key));
    expect(orders.size).toBe(3000);
    expect(Object.values(truth.scenarios).reduce((a, b) => a + b, 0)).toBe(3000);
    const splits = truth.sessions.filter((s) => s.splitOfPiece !== undefined);
    expect(splits.length).toBe(truth.scenarios.client_crash_split);
    for (const s of splits) {
      expect(s.piece).toBe(1);
      expect(truth.sessions.some((p) => p.key === s.key && p.piece === s.splitOfPiece)).toBe(true);
    }
  });

  it('produces the configured shares roughly', () => {
    const { truth } = small;
    const lines = truth.lines;
    const distinct = lines - truth.redeliveries - truth.malformed;
    const share = (n: number, total: number): number => n / total;
    expect(share(truth.noise, lines)).toBeGreaterThan(0.13);
    expect(share(truth.noise, lines)).toBeLessThan(0.25);
    expect(share(truth.lateRecords, distinct)).toBeGreaterThan(0.005);
    expect(share(truth.lateRecords, distinct)).toBeLessThan(0.016);
    expect(share(truth.redeliveries, distinct)).toBeGreaterThan(0.005);
    expect(share(truth.redeliveries, distinct)).toBeLessThan(0.016);
    expect(share(truth.orphans.length, lines)).toBeGreaterThan(0.002);
    expect(share(truth.orphans.length, lines)).toBeLessThan(0.009);
    expect(share(truth.malformed, lines)).toBeGreaterThan(0.0002);
    expect(share(truth.malformed, lines)).toBeLessThan(0.003);
    const total = Object.values(DEFAULT_MIX).reduce((a, b) => a + b, 0);
    for (const scenario of SCENARIOS) {
      expect(Math.abs(truth.scenarios[scenario] / 3000 - DEFAULT_MIX[scenario] / total), scenario).toBeLessThan(0.03);
    }
    // Every verdict the template can reach through the scenarios occurs.
    const verdicts = new Set(truth.sessions.map((s) => s.verdict));
    for (const v of ['ok', 'paid_not_delivered', 'delivered_twice', 'receipt_rejected', 'abandoned_at_pay_screen', 'paid_no_callback']) {
      expect(verdicts, v).toContain(v);
    }
  });

  it('keeps every session unambiguous under the template: gaps, spans, splits, join windows', () => {
    const { truth } = small;
    const { gapMs, maxSpanMs, splitWithinMs } = template.session;
    const join = template.steps.find((s) => s.kind === 'supplement');
    if (join?.kind !== 'supplement') throw new Error('no supplement step');
    const byId = new Map(parsed.records.map((r) => [r.id, r]));
    const anchors = new Set(template.steps.filter((s) => s.kind === 'anchor').map((s) => s.name));
    const windows = new Map<string, { start: number; end: number }>();
    let concurrent = 0;
    const edges: [number, number][] = [];
    for (const s of truth.sessions) {
      const stepOf = recordSteps(s, byId);
      const times = s.recordIds.filter((id) => anchors.has(stepOf.get(id)!)).map((id) => byId.get(id)!.time).sort((a, b) => a - b);
      expect(times.length).toBeGreaterThan(0);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThan(gapMs - 60_000);
      const start = times[0]!;
      const end = times[times.length - 1]!;
      expect(end - start).toBeLessThan(maxSpanMs);
      windows.set(`${s.key}#${s.piece}`, { start, end });
      edges.push([start, 1], [end, -1]);
      for (const id of s.recordIds) {
        if (stepOf.get(id) !== 'channel_callback') continue;
        const t = byId.get(id)!.time;
        expect(t).toBeGreaterThanOrEqual(start + join.join.lowMs);
        expect(t).toBeLessThanOrEqual(end + join.join.highMs);
      }
    }
    for (const s of truth.sessions) {
      if (s.splitOfPiece === undefined) continue;
      const before = windows.get(`${s.key}#${s.splitOfPiece}`)!;
      const after = windows.get(`${s.key}#${s.piece}`)!;
      expect(after.start - before.end).toBeGreaterThan(gapMs + 60_000);
      expect(after.start - before.end + gapMs).toBeLessThan(splitWithinMs);
    }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let open = 0;
    for (const [, d] of edges) concurrent = Math.max(concurrent, (open += d));
    expect(concurrent).toBeGreaterThan(50);
  });

  it('makes only the deliberately late records late: everything else is inside its source disorder', () => {
    const { truth } = small;
    const max = new Map<string, number>();
    const seen = new Set<string>();
    let behind = 0;
    for (const r of parsed.records) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      const watermark = (max.get(r.source) ?? -Infinity) - template.sources.get(r.source)!.disorderMs;
      if (r.time < watermark) behind++;
      max.set(r.source, Math.max(max.get(r.source) ?? -Infinity, r.time));
    }
    expect(behind).toBeLessThanOrEqual(truth.lateRecords);
    expect(behind).toBeGreaterThan(truth.lateRecords * 0.8);
  });

  it('agrees with templates/payment.yaml: it compiles, and its fields and verdicts give the truth', () => {
    expect(template.id).toBe('payment');
    expect(template.steps.map((s) => s.name)).toEqual([...PAYMENT_STEPS]);
    expect(template.verdicts.map((v) => v.id)).toEqual(expect.arrayContaining([
      'ok', 'paid_not_delivered', 'delivered_twice', 'receipt_rejected', 'abandoned_at_pay_screen', 'paid_no_callback',
    ]));
    const byId = new Map(parsed.records.map((r) => [r.id, r]));
    const combos = new Set<string>();
    for (const s of small.truth.sessions) {
      const { fields, verdict, explain } = evaluate(template, s, byId);
      expect({ key: s.key, verdict }).toEqual({ key: s.key, verdict: s.verdict });
      expect(fields).toEqual(s.fields);
      expect(explain).not.toContain('<error>');
      combos.add(JSON.stringify(s.steps));
    }
    // The hand-written rules and the YAML agree on every combination of steps, not only generated ones.
    for (let mask = 0; mask < 1 << PAYMENT_STEPS.length; mask++) {
      for (const delivered of [1, 2]) {
        const counts = emptyCounts();
        PAYMENT_STEPS.forEach((step, i) => {
          if (mask & (1 << i)) counts[step] = step === 'delivered' ? delivered : 1;
        });
        expect(templateVerdict(template, counts), JSON.stringify(counts)).toBe(paymentVerdict(counts).verdict);
      }
    }
    expect(combos.size).toBeGreaterThan(6);
  });
});

describe('weft generate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-generate-'));
  beforeAll(() => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterAll(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the workload and its truth next to it', async () => {
    const out = join(dir, 'events.ndjson');
    expect(await generateCommand(['--scenario', 'payment', '--sessions', '300', '--seed', '5', '--out', out])).toBe(0);
    const expected = generatePayment({ sessions: 300, seed: 5 });
    expect(readFileSync(out, 'utf8')).toBe(expected.lines.join('\n') + '\n');
    expect(JSON.parse(readFileSync(`${out}.truth.json`, 'utf8'))).toEqual(expected.truth);
    const truthPath = join(dir, 't.json');
    expect(await generateCommand(['--sessions', '10', '--seed', '5', '--out', out, '--truth', truthPath])).toBe(0);
    expect((JSON.parse(readFileSync(truthPath, 'utf8')) as PaymentTruth).sessions.length).toBeGreaterThanOrEqual(10);
  });

  it('rejects bad arguments', async () => {
    const out = join(dir, 'x.ndjson');
    expect(await generateCommand(['--scenario', 'nope', '--sessions', '1', '--out', out])).toBe(2);
    expect(await generateCommand(['--sessions', 'many', '--out', out])).toBe(2);
    expect(await generateCommand(['--sessions', '1'])).toBe(2);
    expect(await generateCommand(['--bogus'])).toBe(2);
  });
});

// ---- a tiny evaluator of the template over a truth session (mirrors DESIGN.md's CEL context) ----

function recordSteps(s: TruthSession, byId: Map<string, Parsed>): Map<string, PaymentStep> {
  const out = new Map<string, PaymentStep>();
  for (const id of s.recordIds) {
    const r = byId.get(id)!;
    const step = template.steps.find((st) => st.source === r.source && st.when.run({ r: r.value }) === true);
    if (!step) throw new Error(`record ${id} matches no step`);
    out.set(id, step.name as PaymentStep);
  }
  return out;
}

function context(t: CompiledTemplate, s: TruthSession, byId: Map<string, Parsed>): Record<string, unknown> {
  const stepOf = recordSteps(s, byId);
  const records = s.recordIds.map((id) => ({ step: stepOf.get(id)!, r: byId.get(id)! })).sort((a, b) => a.r.time - b.r.time);
  const first: Record<string, unknown> = {};
  const last: Record<string, unknown> = {};
  const all: Record<string, unknown[]> = {};
  const count: Record<string, bigint> = {};
  const time: Record<string, bigint> = {};
  for (const step of t.steps) {
    all[step.name] = [];
    count[step.name] = 0n;
  }
  for (const { step, r } of records) {
    if (!(step in first)) {
      first[step] = r.value;
      time[step] = BigInt(r.time);
    }
    last[step] = r.value;
    all[step]!.push(r.value);
    count[step]! += 1n;
  }
  const anchorTimes = records.filter(({ step }) => t.steps.find((x) => x.name === step)!.kind === 'anchor').map(({ r }) => r.time);
  const start = Math.min(...anchorTimes);
  const end = Math.max(...anchorTimes);
  return {
    key: s.key, start: BigInt(start), end: BigInt(end), duration: BigInt(end - start),
    first, last, all, count, time, fields: {}, steps: Object.keys(first),
  };
}

function run(expr: CompiledExpression, ctx: Record<string, unknown>): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: expr.run(ctx) };
  } catch {
    return { ok: false };
  }
}

function plain(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

function evaluate(t: CompiledTemplate, s: TruthSession, byId: Map<string, Parsed>) {
  const ctx = context(t, s, byId);
  const fields = ctx.fields as Record<string, unknown>;
  for (const f of t.fields) {
    const got = run(f.expr, ctx);
    if (got.ok) fields[f.name] = plain(got.value);
  }
  for (const v of t.verdicts) {
    const hit = run(v.when, ctx);
    if (hit.ok && hit.value === true) return { fields, verdict: v.id, explain: render(v.explain, ctx) };
  }
  return { fields, verdict: null, explain: '' };
}

function render(parts: readonly ExplainPart[], ctx: Record<string, unknown>): string {
  return parts.map((p) => {
    if (typeof p === 'string') return p;
    const got = run(p, ctx);
    return got.ok ? String(plain(got.value)) : '<error>';
  }).join('');
}

function templateVerdict(t: CompiledTemplate, counts: StepCounts): string | null {
  const ctx = { count: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, BigInt(v)])), fields: {} };
  for (const v of t.verdicts) {
    const hit = run(v.when, ctx);
    if (hit.ok && hit.value === true) return v.id;
  }
  return null;
}
