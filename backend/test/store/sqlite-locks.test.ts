import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { openStore } from '../../src/store/index.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { T0, actualRollups, expectedRollups, session, sqliteHarness, type Harness } from './harness.js';

const require = createRequire(import.meta.url);

/** Another "process" (a thread with its own connection) holds SQLite's write lock for `ms`. */
function holdWriteLock(file: string, ms: number): Promise<void> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.module);
    const db = new Database(workerData.file);
    db.exec('BEGIN IMMEDIATE');
    parentPort.postMessage('locked');
    setTimeout(() => { db.exec('COMMIT'); db.close(); parentPort.postMessage('released'); }, workerData.ms);
  `;
  const worker = new Worker(code, { eval: true, workerData: { file, ms, module: require.resolve('better-sqlite3') } });
  return new Promise((resolve, reject) => {
    worker.on('message', (m) => m === 'locked' && resolve());
    worker.on('error', reject);
  });
}

describe('sqlite store with other writers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await sqliteHarness();
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('waits for a write lock held elsewhere, then writes', async () => {
    const file = h.url.slice('sqlite:'.length);
    const store = await h.open();
    await holdWriteLock(file, 1800);
    const started = Date.now();
    await store.upsertSessions([session('w1'), session('w2', { verdict: 'bad' })]);
    expect(Date.now() - started).toBeGreaterThan(500);
    expect((await store.getSession('w2'))?.verdict).toBe('bad');
    expect([...(await actualRollups(h)).entries()].sort()).toEqual([...(await expectedRollups(h)).entries()].sort());
  });

  it('migrates while another connection holds the write lock', async () => {
    const file = h.url.slice('sqlite:'.length);
    await holdWriteLock(file, 1200);
    const store = await openStore(h.url, { log: () => undefined });
    expect(store.info().schemaVersion).toBe(SCHEMA_VERSION);
    await store.upsertSessions([session('w3', { start: T0 })]);
    await store.close();
  });

  it('opens in memory', async () => {
    const store = await openStore('sqlite::memory:');
    await store.upsertSessions([session('m')]);
    expect((await store.getSession('m'))?.id).toBe('m');
    await store.close();
  });
});
