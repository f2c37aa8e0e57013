/**
 * `weft generate --scenario payment --sessions N --seed S --out F [--truth PATH] [--start T] [--interval MS]`
 *
 * Writes a realistic replay input (NDJSON, arrival order; DESIGN.md "Replay contract") to F (`-`:
 * stdout, so it pipes into `weft replay --input -`) and its ground truth to F.truth.json (or
 * --truth). Deterministic for a seed.
 */
import { parseArgs } from 'node:util';
import { writePayment } from './output.js';

const USAGE = `usage: weft generate --scenario payment --sessions N --seed S --out FILE [options]

  --scenario NAME   workload to generate (only "payment")
  --sessions N      orders to generate (a client crash yields two sessions)
  --seed S          PRNG seed (integer); the output is identical for a seed
  --out FILE        replay input to write (NDJSON); - writes it to stdout
  --truth PATH      ground truth to write (default: FILE.truth.json; none with --out - unless given)
  --start T         true time of the first order: epoch ms or ISO-8601 (default 1790000000000)
  --interval MS     mean time between order starts in ms (default 1500)
`;

export async function generateCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        scenario: { type: 'string', default: 'payment' },
        sessions: { type: 'string' },
        seed: { type: 'string', default: '1' },
        out: { type: 'string', short: 'o' },
        truth: { type: 'string' },
        start: { type: 'string' },
        interval: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`weft generate: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const fail = (message: string): number => {
    process.stderr.write(`weft generate: ${message}\n${USAGE}`);
    return 2;
  };
  if (values.scenario !== 'payment') return fail(`unknown scenario "${String(values.scenario)}" (known: payment)`);
  const sessions = integer(values.sessions);
  if (sessions === undefined || sessions < 0) return fail('--sessions must be a non-negative integer');
  const seed = integer(values.seed);
  if (seed === undefined) return fail('--seed must be an integer');
  const out = values.out;
  if (typeof out !== 'string' || out === '') return fail('--out is required');
  let startMs: number | undefined;
  if (typeof values.start === 'string') {
    startMs = /^\d+$/.test(values.start) ? Number(values.start) : Date.parse(values.start);
    if (!Number.isFinite(startMs)) return fail('--start must be epoch ms or an ISO-8601 time');
  }
  let meanIntervalMs: number | undefined;
  if (typeof values.interval === 'string') {
    meanIntervalMs = Number(values.interval);
    if (!(meanIntervalMs > 0)) return fail('--interval must be a positive number of ms');
  }
  const toStdout = out === '-';
  const truthPath = typeof values.truth === 'string' ? values.truth : toStdout ? undefined : `${out}.truth.json`;
  try {
    const truth = await writePayment({ sessions, seed, startMs, meanIntervalMs }, toStdout ? process.stdout : out, truthPath);
    process.stderr.write(
      `weft generate: ${truth.lines} lines, ${truth.sessions.length} sessions (${sessions} orders), ` +
        `${truth.orphans.length} orphans, ${truth.noise} noise, ${truth.malformed} malformed, ` +
        `${truth.lateRecords} late, ${truth.redeliveries} redelivered -> ${toStdout ? 'stdout' : out}${truthPath ? `, ${truthPath}` : ''}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`weft generate: ${(error as Error).message}\n`);
    return 1;
  }
}

function integer(text: string | boolean | undefined): number | undefined {
  if (typeof text !== 'string' || !/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
