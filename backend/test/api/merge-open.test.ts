import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.js';
import type { SessionDoc } from '../../src/engine/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { parseTemplate } from '../../src/template/index.js';
import { fillWithReplay } from './contract.js';

const root = new URL('../../../', import.meta.url).pathname;
const PAYMENT = readFileSync(join(root, 'templates/payment.yaml'), 'utf8');
const TOKEN = 'merge-open';
const auth = { authorization: `Bearer ${TOKEN}` };

/**
 * A session still open in the store is held by the correlator that fires it: its next fires come
 * from the engine's own copy, which would drop or replace an operator's merge. Such merges are refused.
 */
describe('operator merge of a session that is still open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-merge-open-'));
  let store: Store;
  let app: FastifyInstance;
  let final: SessionDoc;
  let open: SessionDoc;

  beforeAll(async () => {
    const url = `sqlite:${join(dir, 'weft.db')}`;
    fillWithReplay(url);
    store = await openStore(url, { log: () => undefined });
    app = await buildServer({ store, token: TOKEN, templates: [parseTemplate(PAYMENT, 'payment.yaml')] });
    const page = await store.search({ template: 'payment', limit: 2 });
    const [a, b] = await Promise.all(page.sessions.map((s) => store.getSession(s.id)));
    final = a!;
    // As `weft run` stores a session fired before its window closed (complete or idle trigger).
    open = { ...b!, status: 'open', version: b!.version + 1 };
    await store.upsertSessions([open]);
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a 409 that says why, either way round, and changes nothing', async () => {
    expect(final.status).toBe('final');
    const before = await Promise.all([final.id, open.id].map((id) => store.getSession(id)));
    for (const [target, other] of [[final, open], [open, final]] as const) {
      const res = await app.inject({ method: 'POST', url: `/api/sessions/${target.id}/merge`, headers: auth, payload: { with: other.id } });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().message).toBe(`session ${open.id} is still open (the correlator may still add records to it): merge it once its window has closed and it is final`);
    }
    expect(await Promise.all([final.id, open.id].map((id) => store.getSession(id)))).toEqual(before);
    expect(await store.merges(final.id)).toEqual([]);
    expect(await store.merges(open.id)).toEqual([]);
  });

  it('goes through once the session is final', async () => {
    await store.upsertSessions([{ ...open, status: 'final', version: open.version + 1 }]);
    const res = await app.inject({ method: 'POST', url: `/api/sessions/${final.id}/merge`, headers: auth, payload: { with: open.id } });
    expect(res.statusCode, res.body).toBe(200);
    expect((await store.getSession(open.id))).toMatchObject({ status: 'merged', mergedInto: final.id });
  });
});
