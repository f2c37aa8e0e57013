/**
 * The store sink's coalescing (sink.ts): while a backlog is caught up, an open session's fire waits
 * for its final one so that one write serves both; a full flush (shutdown, a partition moving away)
 * still writes everything it holds, a checkpoint's flush leaves the open ones to the checkpoint. Against a real store (SQLite file).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Emission, Engine, SessionDoc } from '../../src/engine/index.js';
import { RunMetrics } from '../../src/run/metrics.js';
import { StoreSink } from '../../src/run/sink.js';
import type { Store } from '../../src/store/index.js';
import { session as storedSession, sqliteHarness, type Harness } from '../store/harness.js';

const engine = undefined as unknown as Engine; // fires need no engine (only late and adopt requests do)

/** The store harness's session at `version`; an open one has no verdict yet. */
function session(id: string, version: number, status: SessionDoc['status']): SessionDoc {
  const open = status === 'open';
  return storedSession(id, { version, status, verdict: open ? null : 'ok', severity: open ? null : 'ok' });
}

const fire = (s: SessionDoc, trigger: 'complete' | 'watermark'): Emission => ({ kind: 'fire', trigger, session: s });

describe('StoreSink', () => {
  let harness: Harness;
  let store: Store;
  let sink: StoreSink;
  const written: string[] = [];

  beforeEach(async () => {
    harness = await sqliteHarness();
    store = await harness.open();
    sink = new StoreSink(store, new RunMetrics());
    written.length = 0;
    sink.onWritten = (sessions) => written.push(...sessions.map((s) => `${s.id}@${s.version}`));
  });
  afterEach(async () => harness.destroy());

  it('behind: holds an open fire until its final one replaces it, then writes that once', async () => {
    await sink.drain(engine, [fire(session('a', 1, 'open'), 'complete')]);
    await sink.release(2, true);
    await sink.release(2, true);
    expect(await store.getSession('a')).toBeUndefined();
    expect(sink.pending).toBe(1);

    await sink.drain(engine, [fire(session('a', 2, 'final'), 'watermark')]);
    await sink.release(2, true);
    await sink.flush();
    expect(written).toEqual(['a@2']);
    expect((await store.history('a')).map((v) => v.version)).toEqual([2]);
    expect(store.counters().upsertBatches).toBe(1);
  });

  it('behind: a flush writes the open fires it holds (what a checkpoint covers is in the store)', async () => {
    await sink.drain(engine, [fire(session('b', 1, 'open'), 'complete')]);
    await sink.release(2, true);
    expect(await store.getSession('b')).toBeUndefined();
    await sink.flush();
    expect((await store.getSession('b'))?.version).toBe(1);
    expect(sink.pending).toBe(0);
  });

  it('not behind: an open fire is written at once (freshness)', async () => {
    await sink.drain(engine, [fire(session('c', 1, 'open'), 'complete')]);
    await sink.release(2, false);
    await sink.flush();
    expect(written).toEqual(['c@1']);
    await sink.drain(engine, [fire(session('c', 2, 'final'), 'watermark')]);
    await sink.release(2, false);
    await sink.flush();
    expect((await store.history('c')).map((v) => v.version)).toEqual([1, 2]);
  });

  it('behind: a flush for a checkpoint writes final fires but leaves open ones held, for the checkpoint to carry', async () => {
    await sink.drain(engine, [fire(session('e', 1, 'open'), 'complete'), fire(session('f', 3, 'final'), 'watermark')]);
    await sink.release(2, true);
    await sink.flush(false);
    expect(written).toEqual(['f@3']);
    expect(await store.getSession('e')).toBeUndefined();
    expect(sink.held().map((s) => `${s.id}@${s.version}`)).toEqual(['e@1']);

    // A restart from that checkpoint: another sink takes the held fire back; it is written when
    // its final fire replaces it, or at a full flush.
    const restarted = new StoreSink(store, new RunMetrics());
    restarted.onWritten = (sessions) => written.push(...sessions.map((s) => `${s.id}@${s.version}`));
    restarted.restoreHeld(sink.held());
    await restarted.release(2, true);
    expect(await store.getSession('e')).toBeUndefined();
    await restarted.flush();
    expect((await store.getSession('e'))?.version).toBe(1);
    expect(restarted.held()).toEqual([]);
  });

  it('keeps the higher version when fires arrive out of order', async () => {
    await sink.drain(engine, [fire(session('d', 2, 'final'), 'watermark'), fire(session('d', 1, 'open'), 'complete')]);
    await sink.flush();
    expect((await store.getSession('d'))?.version).toBe(2);
    expect((await store.history('d')).map((v) => v.version)).toEqual([2]);
  });
});
