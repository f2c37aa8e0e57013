import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { replayCommand } from './replay.js';
import { writePayment } from '../workload/index.js';

const USAGE = `weft demo [--sessions N] [--seed S] [--dir DIR]

Generates a payment workload (orders, pay screens, receipts, verifications, channel callbacks,
deliveries, with late, duplicated, noisy and malformed records) and replays it through the engine
with templates/payment.yaml into an embedded SQLite store (DIR/weft.db). Needs no database server
and no broker.`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sessions: { type: 'string', default: '20000' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string', default: '.weft' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const sessions = Number(values.sessions);
  const seed = Number(values.seed);
  if (!Number.isInteger(sessions) || sessions <= 0 || !Number.isInteger(seed)) {
    process.stderr.write(`weft demo: --sessions and --seed take whole numbers\n\n${USAGE}\n`);
    return 2;
  }
  mkdirSync(values.dir, { recursive: true });
  const input = join(values.dir, 'payment.ndjson');
  const out = join(values.dir, 'sessions.ndjson');
  const template = new URL('../../../templates/payment.yaml', import.meta.url).pathname;
  process.stderr.write(`generating ${sessions.toLocaleString('en')} orders -> ${input}\n`);
  const truth = await writePayment({ sessions, seed }, input);
  process.stderr.write(`${truth.lines.toLocaleString('en')} lines (${truth.lateRecords} late, ${truth.redeliveries} re-delivered, ${truth.malformed} malformed)\n\nreplaying with ${template}\n`);
  // The demo's directory is its own scratch space: each run starts from an empty store.
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(values.dir, `weft.db${suffix}`), { force: true });
  const store = `sqlite:${join(values.dir, 'weft.db')}`;
  const code = await replayCommand(['--template', template, '--input', input, '--out', out, '--store', store, '--show-errors', '5', '--quiet']);
  process.stderr.write(`\nsessions and orphans written to ${out} and to ${store}\n`);
  return code;
}
