import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import { bearerAuth } from './auth.js';
import { TemplateCatalog } from './catalog.js';
import { drainAbandonedOnClose } from './drain.js';
import { errorHandler } from './errors.js';
import { DEFAULT_BODY_LIMIT, type ApiOptions } from './options.js';
import { openApiDocument } from './openapi.js';
import { sessionRoutes } from './sessions.js';
import { tempoRoutes } from './tempo.js';
import { templateRoutes } from './templates.js';
import { TraceResponses } from './traces.js';

/**
 * The correlator's HTTP server (contract 1): health outside auth; the JSON API, the Tempo-compatible
 * API and the caller's `plugins` inside one bearer-token scope. Nothing here reads files or runs
 * anything: every route reads or writes the store, or runs the pure engine on the request body.
 */
export async function buildServer(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: typeof options.logger === 'object' ? options.logger : undefined,
    logger: typeof options.logger === 'object' ? undefined : options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Keyset cursors and TraceQL travel in the query string; keep URLs bounded all the same.
    routerOptions: { maxParamLength: 512 },
    return503OnClosing: true,
    // A path fastify's router refuses (bad percent-encoding, a parameter over maxParamLength) is
    // answered before any route: without this, in fastify's own shape rather than { error, message }.
    frameworkErrors: errorHandler,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  app.setErrorHandler(errorHandler);
  drainAbandonedOnClose(app);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  if (options.cors) {
    // @fastify/cors allows GET, HEAD and POST by default; templates are saved with PUT and removed with DELETE.
    await app.register(cors, {
      origin: options.cors === true ? true : options.cors,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'accept'],
    });
  }

  const store = options.store;
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    let ready: boolean;
    let detail: unknown;
    if (options.health) {
      ({ ready, detail } = await options.health().catch((error: unknown) => ({ ready: false, detail: String(error) })));
    } else {
      try {
        await store.ping();
        ready = true;
        detail = { store: store.info().kind };
      } catch (error) {
        ready = false;
        detail = { store: store.info().kind, error: error instanceof Error ? error.message : String(error) };
      }
    }
    return reply.status(ready ? 200 : 503).send({ ready, ...(detail === undefined ? {} : { detail }) });
  });

  const catalog = new TemplateCatalog(store, options.templates);
  const traces = new TraceResponses(catalog, options.traceCacheBytes);
  // Its hit/miss counters, for whoever exposes metrics (and for tests).
  app.decorate('traceResponses', traces);
  await app.register(async (scope) => {
    if (options.token !== undefined && options.token !== '') scope.addHook('onRequest', bearerAuth(options.token));
    scope.get('/api/openapi.json', async () => openApiDocument);
    await scope.register(sessionRoutes, { store, catalog, traces });
    await scope.register(templateRoutes, { store, catalog, hooks: options.hooks });
    await scope.register(tempoRoutes, { store, catalog, traces });
    for (const plugin of options.plugins ?? []) await scope.register(plugin);
  });
  return app;
}
