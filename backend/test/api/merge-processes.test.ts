import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.js';
import type { EventDoc, SessionDoc } from '../../src/engine/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { parseTemplate } from '../../src/template/index.js';
import { privateMysqlDatabase, requireMysql } from '../store/harness.js';
import { fillWithReplay } from './contract.js';

/**
 * Operator merges from two API processes on one database: two servers, each with its own Store
 * (its own SQLite connection to the same file, its own MariaDB pool), as `weft serve --workers 2`
 * or two servers have. Each server's store is wrapped so that its first write of a request waits
 * until the other server's request reaches its write too: both have read the sessions before either
 * writes, the interleaving that across processes nothing else prevents (within one process the
 * merges are queued). Without the store's version check both were answered 200 and the records of
 * a session ended in two survivors, or an unmerge dropped a merge made in between.
 */
const root = new URL('../../../', import.meta.url).pathname;
const PAYMENT = readFileSync(join(root, 'templates/payment.yaml'), 'utf8');
const TOKEN = 'merge-processes';
const auth = { authorization: `Bearer ${TOKEN}` };
const WRITES = new Set<PropertyKey>(['replaceIfUnchanged', 'recordMerge', 'upsertSessions', 'deleteMerge']);

/** Both servers' requests meet here before writing (or go on after `ms`, so a broken case fails instead of hanging). */
class Rendezvous {
  private waiting: (() => void)[] = [];
  constructor(
    private readonly parties: number,
    private readonly ms = 5000,
  ) {}
  arrive(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length >= this.parties) for (const w of this.waiting.splice(0)) w();
      else setTimeout(resolve, this.ms);
    });
  }
}

/** A store whose first write after `arm()` waits at the round's rendezvous. */
function gated(store: Store): { store: Store; arm: (at: Rendezvous) => void } {
  let armed: Rendezvous | undefined;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (!WRITES.has(prop)) return value.bind(target);
      return async (...args: unknown[]) => {
        const at = armed;
        armed = undefined;
        if (at !== undefined) await at.arrive();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, arm: (at) => void (armed = at) };
}

const identity = (e: EventDoc): string => `${e.step}\u0000${e.time}\u0000${JSON.stringify(e.value)}`;

function mergeAcrossProcesses(open: () => Promise<{ url: string; cleanup: () => Promise<void> }>): void {
  let cleanup: () => Promise<void>;
  let servers: { app: FastifyInstance; store: Store; arm: (at: Rendezvous) => void }[] = [];
  let live: SessionDoc[] = [];
  let reader: Store;

  beforeAll(async () => {
    const target = await open();
    cleanup = target.cleanup;
    fillWithReplay(target.url);
    reader = await openStore(target.url, { log: () => undefined });
    for (let i = 0; i < 2; i++) {
      const own = gated(await openStore(target.url, { log: () => undefined }));
      const app = await buildServer({ store: own.store, token: TOKEN, templates: [parseTemplate(PAYMENT, 'payment.yaml')] });
      servers.push({ app, ...own });
    }
    const page = await reader.search({ template: 'payment', status: 'final', limit: 100 });
    live = (await Promise.all(page.sessions.filter((s) => s.eventCount > 0).map((s) => reader.getSession(s.id)))) as SessionDoc[];
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) {
      await s.app.close();
      await s.store.close();
    }
    servers = [];
    await reader?.close();
    await cleanup?.();
  });

  /** Runs `requests[i]` on server i, both reading before either writes; the status codes and bodies. */
  async function atOnce(...requests: { url: string; payload?: unknown }[]): Promise<{ status: number; message: string }[]> {
    const meet = new Rendezvous(requests.length);
    for (const s of servers) s.arm(meet);
    const responses = await Promise.all(
      requests.map((r, i) => servers[i]!.app.inject({ method: 'POST', url: r.url, headers: auth, ...(r.payload === undefined ? {} : { payload: r.payload as object }) })),
    );
    return responses.map((res) => ({ status: res.statusCode, message: res.statusCode === 200 ? '' : String(res.json().message) }));
  }
  const merge = (target: SessionDoc, other: SessionDoc) => ({ url: `/api/sessions/${target.id}/merge`, payload: { with: other.id } });
  const unmerge = (s: SessionDoc) => ({ url: `/api/sessions/${s.id}/unmerge` });

  /** One 200, one 409 that says the session changed meanwhile and to retry. */
  function oneApplied(outcomes: { status: number; message: string }[]): void {
    expect(outcomes.map((o) => o.status).sort(), JSON.stringify(outcomes)).toEqual([200, 409]);
    expect(outcomes.find((o) => o.status === 409)!.message).toMatch(/changed since this request read it .*: nothing was changed; retry$/);
  }

  /**
   * The records of `group` each in exactly one live session of it, tombstones empty and merged into a
   * live one of it, and every operator merge record naming a tombstone merged into its survivor.
   */
  async function recordsInOnePlace(group: readonly SessionDoc[]): Promise<void> {
    const now = await Promise.all(group.map(async (s) => (await reader.getSession(s.id))!));
    const held = now.filter((s) => s.status !== 'merged').flatMap((s) => s.events.map(identity)).sort();
    expect(held).toEqual(group.flatMap((s) => s.events.map(identity)).sort());
    for (const s of now.filter((x) => x.status === 'merged')) {
      expect(s.events).toEqual([]);
      expect(now.find((x) => x.id === s.mergedInto)?.status, `${s.id} merged into ${s.mergedInto}`).not.toBe('merged');
    }
    for (const s of now) {
      for (const m of await reader.merges(s.id)) expect(now.find((x) => x.id === m.absorbed.id)?.mergedInto, `${m.absorbed.id} absorbed by ${s.id}`).toBe(s.id);
    }
  }

  it('applies exactly one of two clashing merges from two processes; the other is a 409 to retry', async () => {
    expect(live.length).toBeGreaterThanOrEqual(8);
    const [a, b, c, d, e, f, g, h] = live as [SessionDoc, SessionDoc, SessionDoc, SessionDoc, SessionDoc, SessionDoc, SessionDoc, SessionDoc];

    // A pair in both directions.
    oneApplied(await atOnce(merge(a, b), merge(b, a)));
    await recordsInOnePlace([a, b]);
    // One session into two survivors: before, both survived with its records.
    oneApplied(await atOnce(merge(d, c), merge(e, c)));
    await recordsInOnePlace([c, d, e]);
    // The same merge twice.
    oneApplied(await atOnce(merge(f, g), merge(f, g)));
    await recordsInOnePlace([f, g]);
    expect((await reader.merges(f.id)).map((m) => m.absorbed.id)).toEqual([g.id]);

    // An unmerge and a merge into the same survivor: before, one of the two writes was lost.
    const survivor = (await reader.getSession(a.id))!.status === 'merged' ? b : a;
    const clash = [unmerge(survivor), merge(survivor, h)];
    const outcomes = await atOnce(...clash);
    oneApplied(outcomes);
    await recordsInOnePlace([a, b, h]);

    // The loser's retry, read again from what the winner left, applies.
    const retry = await atOnce(clash[outcomes.findIndex((o) => o.status === 409)]!);
    expect(retry[0]!.status, retry[0]!.message).toBe(200);
    await recordsInOnePlace([a, b, h]);
  }, 60_000);
}

describe('operator merges from two processes on one SQLite file', () => {
  mergeAcrossProcesses(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-merge-processes-'));
    return { url: `sqlite:${join(dir, 'weft.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  });
});

await requireMysql();

describe('operator merges from two processes on one MariaDB database', () => {
  mergeAcrossProcesses(() => privateMysqlDatabase('weft_merge_processes'));
});
