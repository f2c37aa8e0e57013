/**
 * Real services for `weft run` tests: one librdkafka mock cluster (from kcat) per test file, one
 * MariaDB database per test, a payment workload produced onto the templates' topics, and the
 * store's content read back for scoring against the workload's truth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { parseConfig, type RunConfig } from '../../src/run/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { generatePayment, scorePayment, type PaymentScore, type PaymentTruth } from '../../src/workload/index.js';

export const TEMPLATES_DIR = join(import.meta.dirname, '../../../templates');
export const PAYMENT_YAML = readFileSync(join(TEMPLATES_DIR, 'payment.yaml'), 'utf8');
export const TOPICS: Record<string, string> = { billing: 'billing-log', client: 'client-log', channel: 'channel-callback', game: 'game-log' };
const TIME_FIELDS: Record<string, string> = { billing: 'ts', client: '@timestamp', channel: 'notify_time', game: 'time' };
export const MYSQL_ADMIN = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

export interface MockKafka {
  readonly brokers: string[];
  stop(): Promise<void>;
}

/** librdkafka's mock cluster (3 brokers) through kcat; topics auto-create with 4 partitions. */
export async function startMockKafka(): Promise<MockKafka> {
  const child: ChildProcess = spawn('kcat', ['-b', 'localhost:1', '-X', 'test.mock.num.brokers=3', '-d', 'mock', '-C', '-t', 'weft-keepalive', '-o', 'end'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const brokers = await new Promise<string[]>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`mock cluster did not start: ${log.slice(0, 500)}`)), 15_000);
    child.on('error', (error) => reject(error));
    child.stderr!.on('data', (chunk: Buffer) => {
      if (log.length < 100_000) log += chunk.toString();
      const match = /bootstrap\.servers=(\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.split(','));
      }
    });
  });
  child.stderr!.resume();
  child.stderr!.removeAllListeners('data');
  child.stderr!.on('data', () => undefined);
  return {
    brokers,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A fresh (dropped and re-created) MariaDB database. */
export async function freshDatabase(name: string): Promise<string> {
  const conn = await mysql.createConnection(MYSQL_ADMIN);
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await conn.query(`CREATE DATABASE \`${name}\``);
  await conn.end();
  return `mysql://root@127.0.0.1:3306/${name}`;
}

export const quietLog = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

/** Per-source topics with a prefix, so several runs on one broker do not read each other's records. */
export function sourceTopics(prefix: string): Record<string, { topic: string }> {
  return Object.fromEntries(Object.entries(TOPICS).map(([source, topic]) => [source, { topic: prefix + topic }]));
}

export function runConfig(brokers: string[] | undefined, store: string, extra: Record<string, unknown> = {}): RunConfig {
  return parseConfig({
    templates: TEMPLATES_DIR,
    store,
    http: { port: 0, host: '127.0.0.1' },
    ...(brokers ? { kafka: { brokers, sessionTimeoutMs: 10000 } } : {}),
    checkpoint: { intervalMs: 500 },
    templatesPollMs: 500,
    ...extra,
  });
}

export interface Workload {
  readonly truth: PaymentTruth;
  /** Per line in arrival order: source, raw record text, arrival ms. */
  readonly records: Array<{ source: string; text: string; at: number; malformed: boolean }>;
  readonly lastTime: number;
}

/** A payment workload as raw records per source; malformed lines keep their source (torn JSON stays torn). */
export function paymentWorkload(sessions: number, seed: number): Workload {
  const { lines, truth } = generatePayment({ sessions, seed });
  const malformed = new Set(truth.malformedLines);
  let lastTime = 0;
  const records = lines.map((line, i) => {
    const head = /^\{"source":"([a-z]+)","value":/.exec(line)!;
    const source = head[1]!;
    const tail = /,"at":(\d+)\}$/.exec(line);
    const at = tail ? Number(tail[1]) : lastTime;
    const text = tail ? line.slice(head[0].length, line.length - tail[0].length) : line.slice(head[0].length);
    lastTime = Math.max(lastTime, at);
    return { source, text, at, malformed: malformed.has(i + 1) };
  });
  return { truth, records, lastTime };
}

export function kafkaFor(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'weft-test', brokers, logLevel: logLevel.NOTHING });
}

/**
 * Produces records in arrival order with their arrival time as the message timestamp. All of a
 * source's records go to partition 0 of its topic, so the arrival order the workload describes is
 * the order the correlator reads (several source partitions read at different speeds would add
 * disorder beyond what the template declares).
 */
export async function produce(producer: Producer, records: Workload['records'], prefix = '', chunk = 500): Promise<void> {
  for (let i = 0; i < records.length; i += chunk) {
    const slice = records.slice(i, i + chunk);
    const byTopic = new Map<string, { value: string; timestamp: string; partition: number }[]>();
    for (const r of slice) {
      const topic = prefix + TOPICS[r.source]!;
      const list = byTopic.get(topic) ?? [];
      list.push({ value: r.text, timestamp: String(r.at), partition: 0 });
      byTopic.set(topic, list);
    }
    await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), acks: -1 });
  }
}

/**
 * Noise past the workload on every source: every watermark passes every session and every wait of
 * a supplement (the stream's "end"), yet stays within the template's lateness (24 h), so a record
 * still on its way (a supplement forwarded by the join stage) is repaired in, not dropped.
 */
export function flushRecords(lastTime: number): Workload['records'] {
  const t = lastTime + 6 * 3_600_000;
  return Object.keys(TOPICS).map((source, i) => ({
    source,
    text: JSON.stringify({ [TIME_FIELDS[source]!]: source === 'client' ? new Date(t).toISOString() : source === 'channel' ? t / 1000 : source === 'game' ? String(t) : t, flush: i, action: 'heartbeat', event: 'heartbeat', op: 'heartbeat', status: '' }),
    at: lastTime + 1000,
    malformed: false,
  }));
}

/** Every stored session (merged ones included, so tombstones count) and orphan, with events. */
export async function storedOutput(store: Store): Promise<{ sessions: Awaited<ReturnType<Store['getSession']>>[]; orphans: Awaited<ReturnType<Store['orphans']>>['orphans'] }> {
  const sessions = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ status: ['open', 'final', 'merged'], limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const s of page.sessions) sessions.push(await store.getSession(s.id));
    cursor = page.cursor ?? undefined;
  } while (cursor);
  const orphans = [];
  cursor = undefined;
  do {
    const page = await store.orphans({ limit: 1000, ...(cursor ? { cursor } : {}) });
    orphans.push(...page.orphans);
    cursor = page.cursor ?? undefined;
  } while (cursor);
  return { sessions, orphans };
}

export async function scoreStore(storeUrl: string, truth: PaymentTruth): Promise<PaymentScore> {
  const store = await openStore(storeUrl, { migrate: false, log: () => undefined });
  try {
    const { sessions, orphans } = await storedOutput(store);
    return scorePayment(truth, { sessions: sessions.filter((s) => s !== undefined), orphans });
  } finally {
    await store.close();
  }
}

/** Everything the "same sessions as the truth" means, as one comparable object. */
export function verdictOf(score: PaymentScore) {
  return {
    lost: score.lost, duplicated: score.duplicated, extra: score.extra,
    fragmented: score.fragmented.map((f) => f.key), mixed: score.mixed.map((m) => m.key),
    verdicts: score.verdictMismatches.map((v) => `${v.key}: ${v.expected} ≠ ${v.actual}`),
    fields: score.fieldMismatches.map((f) => `${f.key}.${f.field}`),
    splits: score.splitMismatches.map((s) => s.key),
    orphansMissing: score.orphansMissing, wrongOrphans: score.wrongOrphans,
    sessions: score.engineSessions === score.truthSessions,
  };
}

export const PERFECT = {
  lost: [], duplicated: [], extra: [], fragmented: [], mixed: [], verdicts: [], fields: [], splits: [],
  orphansMissing: [], wrongOrphans: [], sessions: true,
};

/** Polls `probe` until `done` holds or `timeoutMs` passes; returns the last value either way. */
export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Dead letters on the topic, read from the beginning by a throwaway group. */
export async function readDeadLetters(brokers: string[], topic: string, expected: number, timeoutMs = 20_000): Promise<Array<{ reason: string; source: string; value: string }>> {
  const consumer = kafkaFor(brokers).consumer({ groupId: `dl-reader-${Date.now()}`, sessionTimeout: 6000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const letters: Array<{ reason: string; source: string; value: string }> = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      letters.push({ reason: String(message.headers?.reason ?? ''), source: String(message.headers?.source ?? ''), value: message.value?.toString() ?? '' });
    },
  });
  await eventually(async () => letters.length, (n) => n >= expected, timeoutMs, 250);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await consumer.disconnect();
  return letters;
}
