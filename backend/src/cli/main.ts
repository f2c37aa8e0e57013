const USAGE = `weft — stitch traceless logs into business sessions

Commands:
  weft replay   --template T.yaml --input events.ndjson|- [--out sessions.ndjson]
  weft generate --scenario payment --sessions N --seed S --out events.ndjson|-
  weft demo     [--sessions N] [--no-serve]   generate + replay a payment workload into SQLite, print a summary and a chart, serve the API (no database needed)
  weft load     --brokers B [--rate R]   produce the payment workload to Kafka, paced in real time (load generator)
  weft serve    [--store URL] [--port 8787]   serve a store: JSON API, Tempo-compatible API
  weft run      [--config weft.yaml]   the always-on correlator (Kafka, HTTP ingest, API, metrics)

Run 'weft <command> --help' for details.`;

type Command = (argv: string[]) => Promise<number>;

// Each command loads only its own modules: the engine, the stores' drivers, the HTTP server and the
// Kafka client together took ~0.4 s to load, which every command (and --help) paid.
const commands: Record<string, () => Promise<Command>> = {
  replay: async () => (await import('./replay.js')).replayCommand,
  generate: async () => (await import('./generate.js')).generateCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
  load: async () => (await import('./load.js')).loadCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  run: async () => (await import('./run.js')).runCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`weft: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (error) {
    process.stderr.write(`weft ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** Commands whose stdout is data (NDJSON lines), read by whatever the user pipes it into. */
const DATA_ON_STDOUT = new Set(['replay', 'generate']);

// A reader that stops early (`weft generate --out - | head`) closes the pipe: that ends the output
// as the reader wanted, it is not a failure to report. (A service's closed stdout stays an error.)
if (DATA_ON_STDOUT.has(process.argv[2] ?? '')) {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
