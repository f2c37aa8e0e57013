/**
 * bench:engine — the engine against bare JSON.parse on the same generated lines, in one process
 * (ratios, not absolute numbers, are what survive a shared, noisy machine), then the memory an
 * open session costs beyond the bytes of its records.
 *
 *   WEFT_BENCH_RECORDS   lines to generate (default 1,000,000)
 *   WEFT_BENCH_OPEN      open sessions for the memory measure (default 1,000,000)
 *   WEFT_BENCH_ROUNDS    engine runs, each between two parse runs (default 5)
 */
import { readFileSync } from 'node:fs';
import { Engine, Replay } from '../engine/index.js';
import type { Emission } from '../engine/types.js';
import { parseTemplate } from '../template/index.js';
import { streamPayment } from '../workload/index.js';
import { median } from './stats.js';

const RECORDS = Number(process.env.WEFT_BENCH_RECORDS ?? 1_000_000);
const OPEN = Number(process.env.WEFT_BENCH_OPEN ?? 1_000_000);
const templatePath = new URL('../../../templates/payment.yaml', import.meta.url);
const template = parseTemplate(readFileSync(templatePath, 'utf8'), 'templates/payment.yaml');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:engine does)');

function generate(): string[] {
  const lines: string[] = [];
  const { lines: stream } = streamPayment({ sessions: Math.ceil(RECORDS / 6), seed: 42 });
  for (const line of stream) lines.push(line);
  let seed = 43;
  while (lines.length < RECORDS) {
    for (const line of streamPayment({ sessions: 10_000, seed: seed++, startMs: 1_800_000_000_000 + seed * 1e9 }).lines) lines.push(line);
  }
  return lines;
}

function timeIt(run: () => void): number {
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function parseOnly(lines: readonly string[]): number {
  let sink = 0;
  const ms = timeIt(() => {
    for (const line of lines) {
      try {
        if (JSON.parse(line) !== null) sink++;
      } catch {
        // malformed lines cost the engine the same failed parse
      }
    }
  });
  if (sink === 0) throw new Error('nothing parsed');
  return ms;
}

function engineReplay(lines: readonly string[]): { ms: number; sessions: number } {
  const replay = new Replay([template]);
  let sessions = 0;
  const ms = timeIt(() => {
    for (const line of lines) replay.line(line);
    sessions = replay.end().summary.sessions;
  });
  return { ms, sessions };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

console.log(`bench:engine — template ${template.id}, node ${process.version}`);
const lines = generate();
console.log(`generated ${fmt(lines.length)} lines (${mb(lines.reduce((n, l) => n + l.length, 0))})`);

// The generated lines are ropes until first read: one untimed pass flattens them all (otherwise the
// first timed parse pays for it). Then both paths warm up on a slice.
parseOnly(lines);
parseOnly(lines.slice(0, 50_000));
engineReplay(lines.slice(0, 50_000));
// Rounds alternate parse, engine, parse, …, parse: each engine run is compared with the parse runs
// just before and after it, so both sides of a round's ratio saw the same machine. On a shared
// machine the median of those per-round ratios is the figure to read; best-of-all pairs a quiet
// moment of one side with any moment of the other.
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 5);
const parseRuns: number[] = [parseOnly(lines)];
const engineRuns: number[] = [];
let sessions = 0;
for (let i = 0; i < ROUNDS; i++) {
  gc();
  const run = engineReplay(lines);
  engineRuns.push(run.ms);
  sessions = run.sessions;
  gc();
  parseRuns.push(parseOnly(lines));
}
const rate = (ms: number) => (lines.length / ms) * 1000;
const roundRatios = engineRuns.map((ms, i) => rate(ms) / ((rate(parseRuns[i]!) + rate(parseRuns[i + 1]!)) / 2));
const parseRate = rate(Math.min(...parseRuns));
const engineRate = rate(Math.min(...engineRuns));
console.log(`(a) JSON.parse only        ${fmt(parseRate)} records/s (best of ${parseRuns.length})`);
console.log(`(b) engine (replay, end)   ${fmt(engineRate)} records/s (best of ${engineRuns.length}; ${fmt(sessions)} sessions)`);
console.log(`ratio engine / parse       ${median(roundRatios).toFixed(3)} median of rounds  (target ≥ 0.30); best of each ${(engineRate / parseRate).toFixed(3)}`);
console.log(`per round (parse ~ engine) ${engineRuns.map((ms, i) => `${fmt(rate(parseRuns[i]!))}|${fmt(rate(parseRuns[i + 1]!))} ~ ${fmt(rate(ms))} = ${roundRatios[i]!.toFixed(3)}`).join(', ')}`);
console.log(`peak RSS                   ${mb(process.resourceUsage().maxRSS * 1024)}`);

// Memory per open session: OPEN sessions of three anchor records each, none able to close
// (the client source never speaks, so the watermark is held). The records are built first and
// measured on their own; what the engine adds on top of them is its overhead.
lines.length = 0;
gc();
const T0 = 1_790_000_000_000;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const base = heap();
const records: Array<[string, object]> = [];
for (let i = 0; i < OPEN; i++) {
  const order = `o${i.toString(36)}`;
  records.push(['billing', { ts: T0 + i, log_id: `a${i}`, action: 'create_order', order_id: order, amount: 4.99, product_id: 'gem_pack_100', user_id: `u${i % 50_000}` }]);
  records.push(['billing', { ts: T0 + i + 60_000, log_id: `b${i}`, action: 'verify_ok', order_id: order, trans_id: `T${i}`, amount: 4.99 }]);
  records.push(['game', { time: String(T0 + i + 65_000), seq: `g${i}`, op: 'deliver_item', order, item: 'gem_pack_100' }]);
}
const withRecords = heap();
const engine = new Engine([template]);
const out: Emission[] = [];
for (const [source, value] of records) {
  engine.ingest(source, value, undefined, out);
  out.length = 0;
}
const withEngine = heap();
const open = engine.stats().openSessions;
if (open !== OPEN) throw new Error(`expected ${OPEN} open sessions, got ${open}`);
const perSession = (withEngine - withRecords) / open;
console.log(`open sessions              ${fmt(open)} (3 records each; records alone ${mb(withRecords - base)})`);
console.log(`engine memory per session  ${fmt(perSession)} bytes beyond its records  (target ≤ 1024)`);
console.log(`peak RSS                   ${mb(process.resourceUsage().maxRSS * 1024)}`);
