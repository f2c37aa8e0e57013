import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { session } from '../store/harness.js';

describe('buildServer (first cut)', () => {
  let store: Store;
  let app: FastifyInstance;
  beforeAll(async () => {
    store = await openStore('sqlite::memory:', { log: () => undefined });
    await store.upsertSessions([session('a', { fields: { amount: 120 } }), session('b', { verdict: 'bad', severity: 'critical' })]);
    app = await buildServer({ store, token: 'secret' });
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  it('serves health without a token and the API only with one', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).json()).toMatchObject({ ready: true });
    expect((await app.inject('/api/sessions')).statusCode).toBe(401);
    const res = await app.inject({ url: '/api/sessions?verdict=bad', headers: { authorization: 'Bearer secret' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().sessions.map((s: { id: string }) => s.id)).toEqual(['b']);
    const q = await app.inject({ url: `/api/sessions?q=${encodeURIComponent('{ .amount > 100 }')}`, headers: { authorization: 'Bearer secret' } });
    expect(q.json().sessions.map((s: { id: string }) => s.id)).toEqual(['a']);
  });
});
