import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { buildServer, DEFAULT_PORT } from '../api/index.js';
import { DEFAULT_STORE_URL, openStore } from '../store/index.js';
import { loadTemplateFile, TemplateError } from '../template/index.js';

export const SERVE_USAGE = `weft serve [--store URL] [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--template T.yaml …] [--token T] [--cors ORIGIN …]
           [--workers 1|N|auto] [--log-level info]

Serves a store over HTTP without consuming anything: the JSON API (/api/sessions, /api/templates, …,
documented at /api/openapi.json), the Tempo-compatible API for Grafana's Tempo datasource, /healthz
and /readyz. --template files give the behaviour trees of templates not saved in the store.
The bearer token comes from --token or WEFT_API_TOKEN; without one the API is open.
--host 0.0.0.0 listens on every interface (e.g. for Grafana in a container).
--workers N runs N server processes (node:cluster) on the one port, each with its own store
connection pool; \`auto\` is one per CPU. The default is 1: the API is usually light next to the
database and the correlator on the same machine; raise it when one process's CPU limits the
request rate (e.g. Grafana dashboards with many panels or many users).
--log-level (fatal, error, warn, info, debug, trace; default info) — info logs every request.`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      store: { type: 'string', default: DEFAULT_STORE_URL },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      host: { type: 'string', default: '127.0.0.1' },
      template: { type: 'string', multiple: true },
      token: { type: 'string' },
      cors: { type: 'string', multiple: true },
      workers: { type: 'string', default: '1' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE + '\n');
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`weft serve: --port must be 0–65535, got ${values.port}\n`);
    return 2;
  }
  const workers = values.workers === 'auto' ? availableParallelism() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    process.stderr.write(`weft serve: --workers must be 1–64 or auto, got ${values.workers}\n`);
    return 2;
  }
  const level = values['log-level'] as (typeof LOG_LEVELS)[number];
  if (!LOG_LEVELS.includes(level)) {
    process.stderr.write(`weft serve: --log-level must be one of ${LOG_LEVELS.join(', ')}, got ${values['log-level']}\n`);
    return 2;
  }
  // Bad arguments are reported once, above, by the primary; workers re-run this command with the same argv.
  if (workers > 1 && cluster.isPrimary) return superviseWorkers(workers);
  let templates;
  try {
    templates = (values.template ?? []).map(loadTemplateFile);
  } catch (error) {
    if (error instanceof TemplateError) {
      process.stderr.write(`weft serve: invalid template\n${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const store = await openStore(values.store);
  const token = values.token ?? process.env.WEFT_API_TOKEN;
  const app = await buildServer({
    store,
    templates,
    ...(token ? { token } : {}),
    ...(values.cors?.length ? { cors: values.cors } : {}),
    logger: pino({ level }),
  });
  const address = await app.listen({ port, host: values.host });
  const who = cluster.isWorker ? ` (worker ${cluster.worker!.id}, pid ${process.pid})` : '';
  process.stderr.write(`weft serve: ${store.info().kind} store, listening on ${address}${token ? ' (bearer token required)' : ''}${who}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await app.close();
  await store.close();
  // A worker's IPC channel to the primary would keep it alive.
  if (cluster.isWorker) process.disconnect();
  return 0;
}

/**
 * The primary of `--workers N`: forks N copies of this command, which share the listening port
 * through node:cluster (the primary hands out connections). A worker that dies is replaced; SIGINT
 * or SIGTERM stops every worker, each closing its server and store, and then the primary.
 */
async function superviseWorkers(n: number): Promise<number> {
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    process.stderr.write(`weft serve: worker ${worker.id} exited (${signal ?? `code ${code}`}); starting another\n`);
    // A worker failing at start-up (store unreachable, port taken) would fail again at once: pace the restarts.
    setTimeout(fork, 1000).unref();
  });
  for (let i = 0; i < n; i++) fork();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.process.kill('SIGTERM');
        }),
    ),
  );
  return 0;
}
