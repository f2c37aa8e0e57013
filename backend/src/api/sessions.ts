import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { plainEvent } from '../engine/types.js';
import type { Store } from '../store/index.js';
import { traceIdOf } from '../trace/index.js';
import type { TemplateCatalog } from './catalog.js';
import { notFound, parseInput } from './errors.js';
import { mergeSessions, unmergeSession } from './merge.js';
import { fieldName, inOrder, instant, limit, list, sessionId, severity, templateId } from './params.js';
import { searchQueryOf } from './search.js';
import type { TraceResponses } from './traces.js';

export interface RouteContext {
  readonly store: Store;
  readonly catalog: TemplateCatalog;
  readonly traces: TraceResponses;
}

const idParams = z.object({ id: sessionId });
const mergeBody = z.object({ with: sessionId }).strict();
const orphanParams = z.object({
  template: templateId.optional(),
  step: z.string().min(1).max(128).optional(),
  source: z.string().min(1).max(128).optional(),
  reason: z.string().min(1).max(512).optional(),
  joinField: fieldName.optional(),
  joinValue: z.string().max(512).optional(),
  from: instant.optional(),
  to: instant.optional(),
  limit: limit(1000).optional(),
  cursor: z.string().max(512).optional(),
}).strict().superRefine(inOrder);
const statsParams = z.object({
  template: templateId.optional(),
  from: instant,
  to: instant,
  bucket: z.enum(['1m', '1h', '1d']).default('1h'),
  verdict: list(z.string().max(128)).optional(),
  severity: list(severity).optional(),
}).strict().superRefine(inOrder);
const valuesParams = z.object({
  template: templateId.optional(),
  prefix: z.string().max(512).optional(),
  limit: limit(1000).optional(),
}).strict();

/** Drops undefined members (the store's query types are exact about optional keys). */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}

export const sessionRoutes: FastifyPluginAsync<RouteContext> = async (app, { store, catalog, traces }) => {
  app.get('/api/sessions', async (request) => {
    const page = await store.search(searchQueryOf(request.query as Record<string, unknown>));
    return { sessions: page.sessions, cursor: page.cursor };
  });

  app.get('/api/sessions/:id', async (request) => {
    const { id } = parseInput(idParams, request.params, 'path');
    const stored = await store.getStored(id);
    if (!stored) throw notFound(`session ${id} not found`);
    const s = stored.session;
    const [history, merges] = await Promise.all([store.history(id), store.merges(id)]);
    return {
      ...s,
      events: s.events.map(plainEvent),
      notes: stored.notes,
      updatedAt: stored.updatedAt,
      traceId: traceIdOf(s.id),
      history,
      links: { splitOf: s.splitOf, mergedInto: s.mergedInto, operatorMerged: merges.map((m) => ({ id: m.absorbed.id, mergedAt: m.mergedAt })) },
    };
  });

  app.get('/api/sessions/:id/trace', async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'path');
    const stored = await store.getStored(id);
    if (!stored) throw notFound(`session ${id} not found`);
    return reply.type('application/json; charset=utf-8').send(`{"resourceSpans":${await traces.body(stored, 'json')}}`);
  });

  app.post('/api/sessions/:id/merge', async (request) => {
    const { id } = parseInput(idParams, request.params, 'path');
    const body = parseInput(mergeBody, request.body ?? {}, 'body');
    return mergeSessions(store, catalog, id, body.with);
  });

  app.post('/api/sessions/:id/unmerge', async (request) => {
    const { id } = parseInput(idParams, request.params, 'path');
    return unmergeSession(store, catalog, id);
  });

  app.get('/api/orphans', async (request) => {
    const page = await store.orphans(defined(parseInput(orphanParams, request.query, 'query')));
    return { orphans: page.orphans, cursor: page.cursor };
  });

  app.get('/api/stats', async (request) => {
    const p = parseInput(statsParams, request.query, 'query');
    return { bucket: p.bucket, rows: await store.stats(defined(p)) };
  });

  app.get('/api/fields/:name/values', async (request) => {
    const { name } = parseInput(z.object({ name: fieldName }), request.params, 'path');
    return store.fieldValues(name, defined(parseInput(valuesParams, request.query, 'query')));
  });
};
