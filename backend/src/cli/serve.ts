import { parseArgs } from 'node:util';
import { buildServer, DEFAULT_PORT } from '../api/index.js';
import { DEFAULT_STORE_URL, openStore } from '../store/index.js';
import { loadTemplateFile, TemplateError } from '../template/index.js';

export const SERVE_USAGE = `weft serve [--store URL] [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--template T.yaml …] [--token T] [--cors ORIGIN …]

Serves a store over HTTP without consuming anything: the JSON API (/api/sessions, /api/templates, …,
documented at /api/openapi.json), the Tempo-compatible API for Grafana's Tempo datasource, /healthz
and /readyz. --template files give the behaviour trees of templates not saved in the store.
The bearer token comes from --token or WEFT_API_TOKEN; without one the API is open.
--host 0.0.0.0 listens on every interface (e.g. for Grafana in a container).`;

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
    logger: true,
  });
  const address = await app.listen({ port, host: values.host });
  process.stderr.write(`weft serve: ${store.info().kind} store, listening on ${address}${token ? ' (bearer token required)' : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await app.close();
  await store.close();
  return 0;
}
