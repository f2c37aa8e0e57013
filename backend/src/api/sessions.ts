import type { FastifyPluginAsync } from 'fastify';
import type { Store } from '../store/index.js';
import type { TemplateCatalog } from './catalog.js';
import { searchQueryOf } from './search.js';

export interface RouteContext {
  readonly store: Store;
  readonly catalog: TemplateCatalog;
}

export const sessionRoutes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  app.get('/api/sessions', async (request) => {
    const page = await store.search(searchQueryOf(request.query as Record<string, unknown>));
    return { sessions: page.sessions, cursor: page.cursor };
  });
};
