import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ReplaySummary } from '../engine/index.js';
import { buildServer, DEFAULT_PORT } from '../api/index.js';
import { openStore, type Store, type StatsRow } from '../store/index.js';
import { loadTemplateFile, type Severity } from '../template/index.js';
import { traceIdOf } from '../trace/index.js';
import { writePayment } from './output.js';
import { stackedChart, type StackedPoint } from './chart.js';
import { replayCommand } from './replay.js';

const USAGE = `weft demo [--sessions N] [--seed S] [--dir DIR] [--port P] [--host H] [--no-serve]

Generates a payment workload (orders, pay screens, receipts, verifications, channel callbacks,
deliveries, with late, duplicated, noisy and malformed records), replays it through the engine with
templates/payment.yaml into an embedded SQLite store (DIR/weft.db), prints a summary and a chart of
verdicts over time, then serves the API and the Tempo-compatible trace API on http://H:P (default
127.0.0.1:${DEFAULT_PORT}) until interrupted. --no-serve stops after the summary. Needs no database
server and no broker.`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sessions: { type: 'string', default: '20000' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string', default: '.weft' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      host: { type: 'string', default: '127.0.0.1' },
      'no-serve': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const sessions = Number(values.sessions);
  const seed = Number(values.seed);
  const port = Number(values.port);
  if (!Number.isInteger(sessions) || sessions <= 0 || !Number.isInteger(seed) || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`weft demo: --sessions, --seed and --port take whole numbers\n\n${USAGE}\n`);
    return 2;
  }
  mkdirSync(values.dir, { recursive: true });
  const input = join(values.dir, 'payment.ndjson');
  const out = join(values.dir, 'sessions.ndjson');
  const templatePath = new URL('../../../templates/payment.yaml', import.meta.url).pathname;
  process.stderr.write(`generating ${sessions.toLocaleString('en')} orders -> ${input}\n`);
  const truth = await writePayment({ sessions, seed }, input);
  process.stderr.write(`${truth.lines.toLocaleString('en')} lines (${truth.lateRecords} late, ${truth.redeliveries} re-delivered, ${truth.malformed} malformed)\n\nreplaying with ${templatePath}\n`);
  // The demo's directory is its own scratch space: each run starts from an empty store.
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(values.dir, `weft.db${suffix}`), { force: true });
  const storeUrl = `sqlite:${join(values.dir, 'weft.db')}`;
  let summary: ReplaySummary | undefined;
  const code = await replayCommand(['--template', templatePath, '--input', input, '--out', out, '--store', storeUrl, '--show-errors', '5'], (s) => {
    summary = s;
  });
  if (code !== 0 || summary === undefined) return code || 1;
  process.stderr.write(`\nsessions and orphans written to ${out} and to ${storeUrl}\n`);

  const store = await openStore(storeUrl);
  try {
    const rows = await store.stats({ from: 0, to: 8.64e15, bucket: '1m' });
    process.stdout.write('\n' + formatReport(summary) + '\n' + verdictChart(rows));
    if (values['no-serve']) return 0;
    const template = loadTemplateFile(templatePath);
    const app = await buildServer({ store, templates: [template] });
    const address = await app.listen({ host: values.host, port });
    process.stdout.write('\n' + (await formatServing(store, address)));
    await untilInterrupted();
    await app.close();
    return 0;
  } finally {
    await store.close();
  }
}

/** Sessions, verdict counts (with bars), orphans, late records repaired. */
export function formatReport(s: ReplaySummary): string {
  const verdicts = Object.entries(s.verdicts).sort((a, b) => b[1] - a[1]);
  const widest = Math.max(1, ...verdicts.map(([, n]) => n));
  const name = Math.max(...verdicts.map(([v]) => v.length), 8);
  const lines = [
    `sessions          ${s.sessions.toLocaleString('en')}  (${s.splits.toLocaleString('en')} linked splits, ${s.merged.toLocaleString('en')} merged)`,
    ...verdicts.map(([v, n]) => `  ${v.padEnd(name)}  ${n.toLocaleString('en').padStart(7)}  ${'#'.repeat(Math.max(1, Math.round((n / widest) * 30)))}`),
    `orphans           ${s.orphans.toLocaleString('en')}  (records that matched a step but joined no session, kept with a reason)`,
    `late repaired     ${s.lateReapplied.toLocaleString('en')}  (records behind the watermark re-applied to their stored session)`,
    `late dropped      ${s.lateDropped.toLocaleString('en')}`,
  ];
  return lines.join('\n') + '\n';
}

const SEVERITY_ORDER: readonly (Severity | '')[] = ['critical', 'warning', 'info', 'ok', ''];

/** Verdicts over time from the store's minute rollups (what the dashboards read), critical at the bottom. */
export function verdictChart(rows: readonly StatsRow[]): string {
  if (rows.length === 0) return 'verdicts over time: no sessions\n';
  const severity = new Map<string, Severity | ''>();
  const totals = new Map<string, number>();
  const byTime = new Map<number, Record<string, number>>();
  for (const r of rows) {
    const verdict = r.verdict ?? '(none)';
    severity.set(verdict, r.severity ?? '');
    totals.set(verdict, (totals.get(verdict) ?? 0) + r.count);
    const counts = byTime.get(r.time) ?? {};
    counts[verdict] = (counts[verdict] ?? 0) + r.count;
    byTime.set(r.time, counts);
  }
  const times = [...byTime.keys()].sort((a, b) => a - b);
  const points: StackedPoint[] = [];
  for (let t = times[0]!; t <= times[times.length - 1]!; t += 60_000) points.push({ time: t, counts: byTime.get(t) ?? {} });
  const series = [...totals.keys()].sort(
    (a, b) => SEVERITY_ORDER.indexOf(severity.get(a)!) - SEVERITY_ORDER.indexOf(severity.get(b)!) || totals.get(b)! - totals.get(a)!,
  );
  const minutesPerColumn = Math.max(1, Math.ceil(points.length / 60));
  const header = `verdicts over time (sessions by start, ${minutesPerColumn} min per column, critical at the bottom)\n`;
  const label = (verdict: string) => `${verdict} (${severity.get(verdict) || 'no severity'}, ${totals.get(verdict)!.toLocaleString('en')})`;
  return header + stackedChart(points, { series, width: 60, height: 16, label });
}

async function formatServing(store: Store, address: string): Promise<string> {
  const base = address.replace('://[::1]', '://localhost');
  const examples = [];
  for (const severity of ['critical', 'warning', 'ok'] as const) {
    const hit = (await store.search({ severity, limit: 1 })).sessions[0];
    if (hit) examples.push(hit);
  }
  const lines = [
    `serving the Weft API on ${base}  (Ctrl-C to stop)`,
    `  sessions      ${base}/api/sessions?verdict=paid_not_delivered`,
    `  Tempo API     ${base}  (Grafana: add a Tempo data source with this URL, or see provisioning/)`,
    `  health        ${base}/readyz`,
    '',
    'three sessions to open:',
    ...examples.flatMap((s) => [
      `  ${s.id}  ${s.verdict ?? '-'} (${s.severity ?? '-'}): ${s.explain ?? ''}`,
      `    ${base}/api/sessions/${s.id}          (the session: steps, records, fields, verdict)`,
      `    ${base}/api/sessions/${s.id}/trace    (as an OTLP trace)`,
      `    ${base}/api/traces/${traceIdOf(s.id)}  (Tempo API, trace id ${traceIdOf(s.id)})`,
    ]),
  ];
  return lines.join('\n') + '\n';
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
