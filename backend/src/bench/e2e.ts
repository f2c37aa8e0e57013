/**
 * bench:e2e — `weft run` end to end on librdkafka's mock cluster (kcat) and MariaDB, against its
 * two ceilings measured in the same run on the same records:
 *   (a) kafkajs consuming the source topics with empty handlers,
 *   (b) JSON.parse of the same records,
 *   (c) `weft run`: Kafka → normalise → join → engine → MariaDB, the sustained rate on a backlog,
 *   (d) freshness at a steady produce rate: last record of a complete session produced → the
 *       session readable in the store (p50 / p99).
 * Target: (c) ≥ 0.5 × 1/(1/a + 1/b); (d) p99 ≤ 1 s.
 *
 *   WEFT_BENCH_SESSIONS   orders in the backlog (default 6,000 ≈ 41k records: librdkafka's mock
 *                         cluster keeps only ~6 MB per partition and drops the oldest beyond that,
 *                         and each source is one partition here so arrival order is the workload's)
 *   WEFT_BENCH_RATE       records/s produced in the freshness phase (default 500)
 *   WEFT_BENCH_MYSQL      server URL without database (default mysql://root@127.0.0.1:3306)
 *   WEFT_BENCH_DATABASE   database the run drops and creates (default weft_bench_e2e; a private
 *                         name keeps concurrent runs on one server apart)
 *   WEFT_BENCH_DB_PID     the database server's pid for CPU accounting (default: the server's @@pid_file, else the first mariadbd/mysqld
 *                         found; set it when the bench has a server of its own beside a shared one)
 *   WEFT_BENCH_MARKS      print the monotonic clock (µs, the clock of --cpu-prof) where each phase
 *                         starts and ends, to cut a CPU profile of the run down to one phase
 *   WEFT_BENCH_HEAP_PROF  a file to write a sampling allocation profile of (c) to (.heapprofile, for
 *                         Chrome DevTools): every allocation sampled, collected or not, by stack
 */
import { spawn } from 'node:child_process';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import type { SessionDoc } from '../engine/index.js';
import { parseConfig, RunService } from '../run/index.js';
import { parseTemplate } from '../template/index.js';
import { recordId, streamPayment } from '../workload/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { producerOf } from '../sources/index.js';
import { cpuSecondsOf, databasePidOf, loadAverage, ownCpuSeconds, threadCpuSeconds } from './cpu.js';

const SESSIONS = Number(process.env.WEFT_BENCH_SESSIONS ?? 6_000);
const RATE = Number(process.env.WEFT_BENCH_RATE ?? 500);
const MYSQL = process.env.WEFT_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306';
const DATABASE = process.env.WEFT_BENCH_DATABASE ?? 'weft_bench_e2e';
const TEMPLATES = new URL('../../../templates', import.meta.url).pathname;
const template = parseTemplate(readFileSync(`${TEMPLATES}/payment.yaml`, 'utf8'), 'payment.yaml');
const TOPIC: Record<string, string> = Object.fromEntries([...template.sources.values()].map((s) => [s.name, s.topic]));
const COMPLETE = template.session.complete.map((i) => template.steps[i]!.name);

interface Rec {
  readonly source: string;
  readonly text: string;
  readonly at: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function records(sessions: number, seed: number, startMs?: number): Rec[] {
  const out: Rec[] = [];
  for (const line of streamPayment({ sessions, seed, ...(startMs ? { startMs } : {}) }).lines) {
    const head = /^\{"source":"([a-z]+)","value":/.exec(line);
    const tail = /,"at":(\d+)\}$/.exec(line);
    if (!head || !tail) continue; // torn lines: poison, measured by the tests, not here
    out.push({ source: head[1]!, text: line.slice(head[0].length, line.length - tail[0].length), at: Number(tail[1]) });
  }
  return out;
}

async function startMockKafka(): Promise<{ brokers: string[]; stop: () => void }> {
  const child = spawn('kcat', ['-b', 'localhost:1', '-X', 'test.mock.num.brokers=3', '-d', 'mock', '-C', '-t', 'weft-keepalive', '-o', 'end'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const brokers = await new Promise<string[]>((resolve, reject) => {
    let log = '';
    child.on('error', reject);
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const m = /bootstrap\.servers=(\S+)/.exec(log);
      if (m) resolve(m[1]!.split(','));
    });
  });
  child.stderr.removeAllListeners('data');
  child.stderr.resume();
  return { brokers, stop: () => child.kill('SIGKILL') };
}

async function produce(producer: Producer, recs: readonly Rec[], prefix: string, timestamp?: () => number, chunk = 2000): Promise<void> {
  for (let i = 0; i < recs.length; i += chunk) {
    const byTopic = new Map<string, Array<{ value: string; timestamp: string; partition: number }>>();
    for (const r of recs.slice(i, i + chunk)) {
      const topic = prefix + TOPIC[r.source]!;
      const list = byTopic.get(topic) ?? [];
      list.push({ value: r.text, timestamp: String(timestamp ? timestamp() : r.at), partition: 0 });
      byTopic.set(topic, list);
    }
    await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), acks: -1 });
  }
}

/**
 * (a): a consumer group over the source topics, handlers that do nothing, with the fetch settings
 * `weft run`'s own consumers use (bytes per partition, longest fetch wait) on the same broker.
 */
async function consumeOnly(kafka: Kafka, prefix: string, total: number, fetch: { maxBytesPerPartition: number; maxWaitTimeInMs: number }): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-consume-${Date.now()}`, ...fetch });
  await consumer.connect();
  await consumer.subscribe({ topics: Object.values(TOPIC).map((t) => prefix + t), fromBeginning: true });
  let n = 0;
  let first = 0;
  let last = 0;
  await consumer.run({
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now();
      n += batch.messages.length;
      last = performance.now();
    },
  });
  for (let waited = 0; n < total; waited += 20) {
    if (waited % 5000 === 0 && process.env.WEFT_BENCH_LOG) console.log(`    consume-only: ${n} of ${total}`);
    await sleep(20);
  }
  await consumer.disconnect();
  return n / ((last - first) / 1000);
}

/** (b): JSON.parse of every record text. */
function parseOnly(recs: readonly Rec[]): number {
  let keep = 0;
  const t0 = performance.now();
  for (let round = 0; round < 3; round++) for (const r of recs) keep += (JSON.parse(r.text) as object) ? 1 : 0;
  const ms = performance.now() - t0;
  if (keep === 0) throw new Error('nothing parsed');
  return (recs.length * 3) / (ms / 1000);
}

/**
 * Allocation sampling over one phase: objects the GC collected meanwhile are kept in the profile, so
 * it shows what a phase allocates (the scavenger's work), not what it retains.
 */
function allocationProfile(file: string | undefined): () => void {
  if (!file) return () => undefined;
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  return () =>
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(file, JSON.stringify((result as { profile: unknown }).profile));
      session.disconnect();
    });
}

/** Phase boundaries on the clock of `node --cpu-prof` profiles (µs). */
function mark(phase: string): void {
  if (process.env.WEFT_BENCH_MARKS) console.log(`    mark ${phase} ${process.hrtime.bigint() / 1000n}`);
}

/** Server counters that say what the store asked of it (statements, rows, bytes). */
const STATUS = ['Questions', 'Com_select', 'Com_insert', 'Com_delete', 'Com_commit', 'Handler_read_key', 'Handler_write', 'Handler_update', 'Handler_delete', 'Bytes_received', 'Innodb_os_log_written'];

async function serverStatus(): Promise<Map<string, number>> {
  const c = await mysql.createConnection(`${MYSQL}/`);
  try {
    const [rows] = (await c.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS.map((s) => `'${s}'`).join(', ')})`)) as unknown as [Array<{ Variable_name: string; Value: string }>];
    return new Map(rows.map((r) => [r.Variable_name, Number(r.Value)]));
  } finally {
    await c.end();
  }
}

/** The pid of the server at WEFT_BENCH_MYSQL (its own @@pid_file), for its CPU time. */
async function serverPid(): Promise<number | undefined> {
  const c = await mysql.createConnection(`${MYSQL}/`);
  try {
    return await databasePidOf((sql) => c.query(sql));
  } finally {
    await c.end();
  }
}

function statusDelta(before: Map<string, number>, after: Map<string, number>): string {
  return STATUS.map((s) => `${s} ${fmt((after.get(s) ?? 0) - (before.get(s) ?? 0))}`).join(', ');
}

/** Store writes per distinct session written, and how many of them wrote an open (provisional) state. */
function writesPerSession(written: ReadonlyArray<{ sessions: readonly SessionDoc[] }>): string {
  const per = new Map<string, number>();
  let open = 0;
  let writes = 0;
  for (const { sessions } of written) {
    for (const s of sessions) {
      per.set(s.id, (per.get(s.id) ?? 0) + 1);
      writes++;
      if (s.status === 'open') open++;
    }
  }
  const multi = [...per.values()].filter((n) => n > 1).length;
  return `${fmt(writes)} writes of ${fmt(per.size)} sessions (${(writes / Math.max(1, per.size)).toFixed(2)} per session; ${fmt(multi)} written more than once; ${fmt(open)} writes of open states)`;
}

/** Messages produced to the internal topics so far (all partitions). */
async function internalMessages(kafka: Kafka, topics: readonly string[]): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out: string[] = [];
    for (const t of topics) out.push(`${t} ${fmt((await admin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high), 0))}`);
    return out.join(', ');
  } finally {
    await admin.disconnect();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

async function main(): Promise<void> {
  console.log(`bench:e2e — template ${template.id}, node ${process.version}, ${SESSIONS} orders`);
  const admin = await mysql.createConnection(`${MYSQL}/`);
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const mock = await startMockKafka();
  const kafka = new Kafka({ clientId: 'bench', brokers: mock.brokers, logLevel: logLevel.NOTHING });
  const producer = producerOf(kafka);
  await producer.connect();
  const log = pino({ level: process.env.WEFT_BENCH_LOG ?? 'warn' });
  let service: RunService | undefined;
  try {
    const backlog = records(SESSIONS, 7);
    const bytes = backlog.reduce((n, r) => n + r.text.length, 0);
    console.log(`backlog: ${fmt(backlog.length)} records (${(bytes / 1e6).toFixed(1)} MB)`);
    await produce(producer, backlog, 'bench-');
    const admin = kafka.admin();
    await admin.connect();
    for (const t of Object.values(TOPIC)) {
      const dropped = (await admin.fetchTopicOffsets('bench-' + t)).reduce((n, p) => n + Number(p.low), 0);
      if (dropped > 0) throw new Error(`the broker dropped ${dropped} records of ${t} (mock cluster retention): lower WEFT_BENCH_SESSIONS`);
    }
    await admin.disconnect();

    const config = parseConfig({
      templates: TEMPLATES,
      store: `${MYSQL}/${DATABASE}`,
      kafka: { brokers: mock.brokers, group: 'bench', sessionTimeoutMs: 30_000 },
      sources: Object.fromEntries(Object.entries(TOPIC).map(([s, t]) => [s, { topic: `bench-${t}` }])),
      checkpoint: { intervalMs: 2_000 },
      log: { level: 'warn' },
    });
    mark('a');
    const a = await consumeOnly(kafka, 'bench-', backlog.length, { maxBytesPerPartition: config.backpressure.maxBatchBytes, maxWaitTimeInMs: config.kafka!.maxWaitMs });
    mark('b');
    const b = parseOnly(backlog);
    mark('b-end');
    const ceiling = 1 / (1 / a + 1 / b);
    console.log(`(a) kafkajs consume only        ${fmt(a)} records/s`);
    console.log(`(b) JSON.parse only             ${fmt(b)} records/s`);
    console.log(`    combined ceiling 1/(1/a+1/b) ${fmt(ceiling)} records/s`);

    // Found before weft run starts: the lookup opens a connection in the process (c) measures.
    const db = Number(process.env.WEFT_BENCH_DB_PID) || (await serverPid());
    service = await RunService.start(config, { logger: log, listen: false });
    const pipeline = service.kafka!;
    const written: Array<{ at: number; sessions: readonly SessionDoc[] }> = [];
    service.onSessionsWritten((sessions) => written.push({ at: performance.now(), sessions }));

    // One admin client polls for the end of (c): it runs in weft run's process, whose CPU (c)
    // counts, and a new client per poll (connections to every broker, metadata) is not weft run's work.
    const poller = kafka.admin();
    await poller.connect();
    // (c) the backlog: from the first record taken to the last one applied and written.
    const recordsIn = async () => (await service!.metrics.recordsIn.get()).values.reduce((n, v) => n + v.value, 0);
    while ((await recordsIn()) === 0) await sleep(5);
    const t0 = performance.now();
    const status0 = await serverStatus();
    const usage0 = process.cpuUsage();
    const threads0 = threadCpuSeconds();
    const cpu0 = { own: ownCpuSeconds(), db: db === undefined ? 0 : cpuSecondsOf(db), load: loadAverage(), written: service.store.counters().sessionsWritten };
    mark('c');
    const allocations = allocationProfile(process.env.WEFT_BENCH_HEAP_PROF);
    const consumed = async () => {
      const [anchorEnd, joinEnd] = await Promise.all([poller.fetchTopicOffsets(config.kafka!.topics.anchor), poller.fetchTopicOffsets(config.kafka!.topics.join)]);
      const p = pipeline.progress();
      return anchorEnd.every((e) => (p.anchor.get(e.partition) ?? 0) >= Number(e.high)) && joinEnd.every((e) => (p.join.get(e.partition) ?? 0) >= Number(e.high));
    };
    while (!((await recordsIn()) >= backlog.length && (await consumed()))) await sleep(50);
    await poller.disconnect();
    const c = backlog.length / ((performance.now() - t0) / 1000);
    mark('c-end');
    allocations();
    console.log(`(c) weft run Kafka→engine→MariaDB ${fmt(c)} records/s   = ${(c / ceiling).toFixed(3)} of the ceiling (target ≥ 0.5)`);
    // CPU moves far less with the machine's other load than rates do: compare these before/after.
    const writes = service.store.counters().sessionsWritten - cpu0.written;
    const ownCpu = ownCpuSeconds() - cpu0.own;
    const usage = process.cpuUsage(usage0);
    const threads = [...threadCpuSeconds()].map(([t, s]) => [t, s - (threads0.get(t) ?? 0)] as const).filter(([, s]) => s >= 0.05).sort((x, y) => y[1] - x[1]);
    const dbCpu = db === undefined ? NaN : cpuSecondsOf(db) - cpu0.db;
    console.log(
      `    CPU in (c): weft run ${ownCpu.toFixed(2)} s (${Math.round((ownCpu / backlog.length) * 1e6)} µs/record; user ${(usage.user / 1e6).toFixed(2)} s, system ${(usage.system / 1e6).toFixed(2)} s), MariaDB ${dbCpu.toFixed(2)} s ` +
        `(${Math.round((dbCpu / Math.max(1, writes)) * 1e6)} µs per session written); ${fmt(writes)} session writes; load ${cpu0.load} → ${loadAverage()}`,
    );
    console.log(`    threads in (c) (tid name: CPU s): ${threads.map(([t, s]) => `${t}: ${s.toFixed(2)}`).join(', ')}`);
    console.log(`    MariaDB in (c): ${statusDelta(status0, await serverStatus())}`);
    console.log(`    ${writesPerSession(written)}; internal topics: ${await internalMessages(kafka, [config.kafka!.topics.anchor, config.kafka!.topics.join])}`);
    const sum = async (m: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, by?: string) => {
      const out: Record<string, number> = {};
      for (const v of (await m.get()).values) out[String(by ? v.labels[by] : 'all')] = (out[String(by ? v.labels[by] : 'all')] ?? 0) + v.value;
      return JSON.stringify(out);
    };
    const hist = (await service.metrics.storeWrite.get()).values.filter((v) => String(v.metricName).endsWith('_sum') || String(v.metricName).endsWith('_count')).map((v) => `${v.metricName?.replace('weft_store_write_seconds', '')}{${v.labels.op}}=${v.value.toFixed(2)}`);
    console.log('    store writes', hist.join(' '));
    console.log(`    fires by trigger ${await sum(service.metrics.fired, 'trigger')}, late re-applied ${await sum(service.metrics.lateReapplied)}, store ${JSON.stringify(service.store.counters())}`);

    // (d) freshness at a steady rate, on records continuing after the backlog.
    const lastBacklog = Math.max(...backlog.map((r) => r.at));
    const live = records(Math.ceil((RATE * 20) / 6.8), 8, lastBacklog + 600_000);
    const producedAt = new Map<string, number>();
    written.length = 0;
    const chunk = Math.max(1, Math.round(RATE / 20));
    const start = performance.now();
    for (let i = 0; i < live.length; i += chunk) {
      const slice = live.slice(i, i + chunk);
      await produce(producer, slice, 'bench-', () => Date.now(), chunk);
      const now = performance.now();
      for (const r of slice) {
        const id = recordId(r.source, JSON.parse(r.text));
        if (id !== undefined && !producedAt.has(id)) producedAt.set(id, now);
      }
      const due = start + ((i + chunk) / RATE) * 1000;
      if (due > now) await sleep(due - now);
    }
    await sleep(3000);
    const freshness: number[] = [];
    const seen = new Set<string>();
    for (const { at, sessions } of written) {
      for (const s of sessions) {
        if (seen.has(s.id) || s.status === 'merged') continue;
        const steps = new Set(s.events.map((e) => e.step));
        if (!COMPLETE.every((step) => steps.has(step))) continue;
        const times = s.events.map((e) => producedAt.get(recordId(e.source, e.value) ?? '') ?? NaN);
        if (times.some((t) => Number.isNaN(t))) continue;
        seen.add(s.id);
        freshness.push(at - Math.max(...times));
      }
    }
    freshness.sort((x, y) => x - y);
    console.log(`    after (d): fires by trigger ${await sum(service.metrics.fired, 'trigger')}, late re-applied ${await sum(service.metrics.lateReapplied)}`);
    console.log(`(d) freshness at ${fmt(RATE)} records/s, ${fmt(freshness.length)} complete sessions: p50 ${percentile(freshness, 0.5).toFixed(0)} ms, p99 ${percentile(freshness, 0.99).toFixed(0)} ms (target p99 ≤ 1000 ms)`);
  } finally {
    await service?.stop();
    await producer.disconnect();
    mock.stop();
  }
}

await main();
