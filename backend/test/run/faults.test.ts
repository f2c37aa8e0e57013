/**
 * No data loss under faults: `weft run` killed with SIGKILL mid-stream and restarted, and the
 * database's connections killed mid-stream, still end with exactly the workload's truth in the
 * store (nothing lost, nothing doubled).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RunService } from '../../src/run/index.js';
import { openStore } from '../../src/store/index.js';
import { describeScore } from '../../src/workload/index.js';
import {
  eventually, flushRecords, freshDatabase, kafkaFor, MYSQL_ADMIN, paymentWorkload, PERFECT, produce, quietLog,
  runConfig, scoreStore, sourceTopics, startMockKafka, TEMPLATES_DIR, verdictOf, type MockKafka,
} from './harness.js';

const WEFT = join(import.meta.dirname, '../../bin/weft.js');
let kafka: MockKafka;

beforeAll(async () => {
  kafka = await startMockKafka();
});

afterAll(async () => {
  await kafka?.stop();
});

const perfect = (s: Parameters<typeof verdictOf>[0]) => JSON.stringify(verdictOf(s)) === JSON.stringify(PERFECT);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function startChild(config: string): { child: ChildProcess; started: Promise<void>; exited: Promise<number | null>; address: () => string | undefined } {
  const child = spawn(process.execPath, [WEFT, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft run did not start:\n${out.slice(-2000)}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('weft run started')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft run exited (${code}):\n${out.slice(-2000)}`));
    });
  });
  started.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = () => /"address":"(http:[^"]+)"/.exec(out)?.[1];
  return { child, started, exited, address };
}

async function storedCount(url: string): Promise<number> {
  const store = await openStore(url, { migrate: false, log: () => undefined });
  try {
    return (await store.search({ limit: 1000 })).sessions.length;
  } finally {
    await store.close();
  }
}

describe('weft run under faults', () => {
  it('kill -9 mid-stream, restart: the same sessions as without the crash; SIGTERM then exits cleanly', async () => {
    const group = 'crash';
    const url = await freshDatabase('weft_run_crash');
    const workload = paymentWorkload(250, 21);
    const dir = mkdtempSync(join(tmpdir(), 'weft-run-'));
    const configFile = join(dir, 'weft.yaml');
    writeFileSync(configFile, stringify({
      templates: TEMPLATES_DIR,
      store: url,
      http: { port: 0, host: '127.0.0.1' },
      kafka: { brokers: kafka.brokers, group, sessionTimeoutMs: 10_000, topics: { anchor: `${group}-anchor`, join: `${group}-join`, deadLetters: `${group}-dead` } },
      sources: sourceTopics(`${group}-`),
      checkpoint: { intervalMs: 300 },
      log: { level: 'info' },
    }));
    const producer = kafkaFor(kafka.brokers).producer();
    await producer.connect();
    const records = [...workload.records, ...flushRecords(workload.lastTime)];
    const half = Math.floor(records.length / 2);

    const first = startChild(configFile);
    await first.started;
    // Paced, so the kill lands while records are being correlated, not between two quiet phases.
    for (let i = 0; i < half; i += 100) {
      await produce(producer, records.slice(i, Math.min(i + 100, half)), `${group}-`);
      await sleep(100);
    }
    await eventually(() => storedCount(url), (n) => n >= 20, 60_000, 200);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);

    await produce(producer, records.slice(half), `${group}-`);
    await producer.disconnect();
    const second = startChild(configFile);
    await second.started;
    const score = await eventually(() => scoreStore(url, workload.truth), perfect, 120_000, 1500);
    // The normalise stage's counts reach the instance's metrics.
    const metrics = await (await fetch(`${second.address()}/metrics`)).text();
    expect(Number(/weft_records_in_total\{source="billing"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(verdictOf(score), describeScore(score)).toEqual(PERFECT);
  });

  it('database connections killed mid-stream: the same sessions as without the fault', async () => {
    const group = 'dbkill';
    const db = 'weft_run_dbkill';
    const url = await freshDatabase(db);
    const workload = paymentWorkload(250, 22);
    const service = await RunService.start(runConfig(kafka.brokers, url, {
      kafka: { brokers: kafka.brokers, group, sessionTimeoutMs: 10_000, topics: { anchor: `${group}-anchor`, join: `${group}-join`, deadLetters: `${group}-dead` } },
      sources: sourceTopics(`${group}-`),
    }), { logger: quietLog, listen: false });
    const killer = await mysql.createConnection(MYSQL_ADMIN);
    let kills = 0;
    let busyKills = 0;
    let killing = true;
    // Every connection of this database, busy or idle: writes and checkpoints in flight die too. A
    // write takes ~1 ms on a fast machine, so until three were caught busy the loop polls every 5 ms
    // (at 50 ms a fast run could end with none caught).
    const killLoop = (async () => {
      while (killing) {
        const [rows] = await killer.query('SELECT ID, COMMAND FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()', [db]);
        for (const row of rows as Array<{ ID: number; COMMAND: string }>) {
          await killer.query(`KILL ${Number(row.ID)}`).then(() => {
            kills++;
            if (row.COMMAND !== 'Sleep') busyKills++;
          }, () => undefined);
        }
        await sleep(busyKills >= 3 ? 50 : 5);
      }
    })();
    try {
      const producer = kafkaFor(kafka.brokers).producer();
      await producer.connect();
      const records = [...workload.records, ...flushRecords(workload.lastTime)];
      for (let i = 0; i < records.length; i += 100) {
        await produce(producer, records.slice(i, i + 100), `${group}-`);
        await sleep(150);
      }
      await eventually(async () => busyKills, (n) => n >= 3, 30_000, 200);
      killing = false;
      await killLoop;
      await producer.disconnect();
      const score = await eventually(() => scoreStore(url, workload.truth), perfect, 120_000, 1500);
      expect(kills).toBeGreaterThan(0);
      expect(busyKills).toBeGreaterThanOrEqual(3);
      expect(service.store.counters().connectionErrors).toBeGreaterThan(0);
      expect(verdictOf(score), describeScore(score)).toEqual(PERFECT);
    } finally {
      killing = false;
      await killLoop;
      await killer.end();
      await service.stop();
    }
  });
});
