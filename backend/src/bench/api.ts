/**
 * API benchmark (issue 5): ≥ 1M sessions in MariaDB, the API server (`weft serve`) in its own
 * process, the load generator (wrk, else autocannon) in a second process at 50 connections; p50/p99
 * of trace-by-id (Grafana's Tempo call: v2, protobuf) and of a search (Tempo TraceQL search on a
 * field), and the total req/s of a mixed run.
 *
 *   npm run bench:api
 *
 * Environment:
 *   WEFT_BENCH_SESSIONS     sessions in the database (default 1 000 000)
 *   WEFT_BENCH_MYSQL        server URL without database (default mysql://root@127.0.0.1:3306)
 *   WEFT_BENCH_DATABASE     database kept across runs (default weft_bench_api): filled once, reused
 *                           while it holds enough sessions
 *   WEFT_BENCH_SECONDS      seconds per run (default 15)
 *   WEFT_BENCH_CLIENT       `wrk` or `autocannon` (default: wrk when installed or installable with
 *                           apt-get, else autocannon; the run says which). wrk is C and costs ~25 µs
 *                           of CPU per request where autocannon cost 56–95 µs, on the same 2 cores
 *                           as the server and MariaDB. Both send the same requests (random session
 *                           ids among N, random users) and report p50/p99 and req/s the same way.
 *   WEFT_BENCH_CONNECTIONS  concurrent connections (default 50)
 *   WEFT_BENCH_FILL_ONLY=1  fill the database and stop
 *   WEFT_BENCH_BUFFER_POOL  InnoDB buffer pool for the run (default 4G; restored afterwards): the
 *                           packaged 128 MiB holds a sliver of a million sessions, and any real
 *                           deployment sizes it to the working set. `keep` leaves it alone.
 *                           The tables are then read once (the warm pages of a server that has been
 *                           up a while); the run prints how many pages still came from disk.
 *   WEFT_BENCH_WORKERS      `weft serve --workers` (default 1: on this 2-core machine, shared with
 *                           the load generator and MariaDB, a second worker cost more CPU per
 *                           request and raised p99 in every alternated comparison, with autocannon
 *                           and with wrk — see README)
 *   WEFT_BENCH_POOL         MariaDB connections per server process (`?pool=` of the store URL, default 16)
 *   WEFT_BENCH_WEFT         the `weft` entry point to start (default this checkout's bin/weft.js),
 *                           e.g. another build for a before/after comparison in one session
 *   WEFT_BENCH_NODE_ARGS    extra node options for the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`
 *   WEFT_BENCH_RUNS         which runs, in order (default `trace,search,mixed`)
 *   WEFT_BENCH_ROUNDS       how many times to repeat them (default 1); with more, the verdict line
 *                           gives each figure's median over the rounds and its range, as bench:engine
 *                           does: on a shared machine one run's p99 moves with whatever else runs
 *   WEFT_BENCH_DB_PID       the database server's pid for CPU accounting (default: the server's own
 *                           @@pid_file, else the first mariadbd/mysqld found)
 *
 * Besides latency and throughput, each run reports CPU time per request of `weft serve` (primary
 * and workers), of MariaDB and of the load generator, from /proc: on a shared machine these vary far less
 * than req/s and p99, which move with whatever else is running.
 *
 * The server is the real CLI, `weft serve --log-level warn`, in its own process(es); this process
 * only fills, starts and reports, so it takes no CPU from the server while the load runs.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { hash64 } from '../engine/hash.js';
import type { EventDoc, SessionDoc } from '../engine/types.js';
import { openStore, type Store } from '../store/index.js';
import { traceIdOf } from '../trace/index.js';
import { cpuSecondsOf, databasePidOf } from './cpu.js';
import { freePort } from './ports.js';
import { median } from './stats.js';

const env = process.env;
const N = Number(env.WEFT_BENCH_SESSIONS ?? 1_000_000);
const SERVER = (env.WEFT_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '');
const DATABASE = env.WEFT_BENCH_DATABASE ?? 'weft_bench_api';
const SECONDS = Number(env.WEFT_BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(env.WEFT_BENCH_CONNECTIONS ?? 50);
const WORKERS = Number(env.WEFT_BENCH_WORKERS ?? 1);
const POOL = Number(env.WEFT_BENCH_POOL ?? 16);
const ROUNDS = Math.max(1, Number(env.WEFT_BENCH_ROUNDS ?? 1));
const TOKEN = 'bench-token';
const DAY = 86_400_000;
const BEGIN = Date.parse('2025-11-01T00:00:00Z');
const USERS = Math.max(1, Math.floor(N / 20));

/**
 * The time range Grafana's Tempo datasource sends with a trace by id (start/end in epoch seconds,
 * with its time shift; validated by the server): the bench asks the way Grafana asks.
 */
const TRACE_RANGE = `?start=${Math.floor(BEGIN / 1000) - 3600}&end=${Math.floor((BEGIN + 366 * DAY) / 1000) + 3600}`;
const idOf = (i: number): string => hash64(`bench-api\u0000${i}`);
const userOf = (i: number): string => `u${(i * 7919) % USERS}`;

/** Deterministic session i of the payment template (templates/payment.yaml's steps and tree). */
function makeSession(i: number): SessionDoc {
  const start = BEGIN + Math.floor((i / N) * 365 * DAY);
  const order = `o${i}`;
  const trans = `T${i.toString(36)}`;
  const amount = ((i * 37) % 50_000) / 100;
  const noCallback = i % 50 === 0;
  const steps: [string, string][] = [
    ['order_placed', 'billing'], ['pay_ui_opened', 'client'], ['receipt_uploaded', 'client'], ['payment_completed', 'billing'],
    ...(noCallback ? [] : ([['channel_callback', 'channel'], ['delivered', 'game']] as [string, string][])),
  ];
  const events: EventDoc[] = steps.map(([step, source], k) => ({
    step, source, time: start + k * 1500,
    value: { ts: start + k * 1500, log_id: `${order}-${k}`, action: step, order_id: order, user_id: userOf(i), amount, trans_no: trans },
  }));
  return {
    id: idOf(i), template: 'payment', key: order, start, end: start + (steps.length - 1) * 1500, status: 'final', version: 1,
    verdict: noCallback ? 'paid_no_callback' : 'ok', severity: noCallback ? 'critical' : 'ok',
    explain: noCallback ? `paid ${amount} but the channel never called back` : null, splitOf: null, mergedInto: null,
    fields: { trans_id: trans, user_id: userOf(i), amount, pay_ms: 4500, product_id: `sku${i % 500}` },
    events,
  };
}

async function fill(store: Store, have: number): Promise<void> {
  const t0 = performance.now();
  const batch = 1000;
  let next = have;
  const writer = async () => {
    for (;;) {
      // Three writers share `next`: each keeps its own range, which `next` no longer shows after the await.
      const from = next;
      if (from >= N) return;
      const to = Math.min(N, from + batch);
      next = to;
      const docs: SessionDoc[] = [];
      for (let i = from; i < to; i++) docs.push(makeSession(i));
      await store.upsertSessions(docs);
      if (Math.floor(to / 50_000) !== Math.floor(from / 50_000)) {
        const rate = (to - have) / ((performance.now() - t0) / 1000);
        process.stderr.write(`  filled ${to.toLocaleString('en')} / ${N.toLocaleString('en')} (${Math.round(rate)} sessions/s)\n`);
      }
    }
  };
  await Promise.all([writer(), writer(), writer()]);
  console.log(`filled ${(N - have).toLocaleString('en')} sessions in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

interface Summary {
  readonly label: string;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
  /** InnoDB pages read from disk during the run (0 when the working set is in the buffer pool). */
  diskReads?: number;
  /** CPU seconds (user + system) spent during the run by the load generator (wrk or autocannon). */
  clientCpu?: number;
  /** CPU seconds spent during the run by `weft serve` (primary and workers) and by MariaDB. */
  serverCpu?: number;
  databaseCpu?: number;
}

/** The process and its children (the cluster workers of `weft serve --workers N`). */
function familyOf(pid: number): number[] {
  const out = [pid];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const sumCpu = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);

/** The load generator of this run: wrk when it is on the PATH (or apt-get can install it), else autocannon. */
type ClientKind = 'wrk' | 'autocannon';

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * wrk (C, epoll) costs a fraction of autocannon's CPU per request — ~60–95 µs of autocannon's on
 * the same 2 cores as the server and MariaDB, which is CPU the server then lacks. WEFT_BENCH_CLIENT
 * forces one; otherwise wrk, installed with apt-get when missing and possible, falling back to
 * autocannon.
 */
function chooseClient(): ClientKind {
  const wanted = env.WEFT_BENCH_CLIENT;
  if (wanted === 'autocannon') return 'autocannon';
  if (onPath('wrk')) return 'wrk';
  if (wanted !== 'wrk' && process.getuid?.() === 0 && onPath('apt-get')) {
    console.log('wrk not found: apt-get install -y wrk');
    const installed = spawnSync('apt-get', ['install', '-y', '-o', 'DPkg::Lock::Timeout=120', 'wrk'], { stdio: 'ignore', timeout: 300_000 });
    if (installed.status === 0 && onPath('wrk')) return 'wrk';
  }
  if (wanted === 'wrk') throw new Error('WEFT_BENCH_CLIENT=wrk but wrk is not installed');
  console.log('wrk unavailable: falling back to autocannon');
  return 'autocannon';
}

/** Runs one load (wrk or autocannon) in a second process and returns its summary. */
function runClient(tool: ClientKind, url: string, kind: string, seconds: number): Promise<Summary> {
  if (tool === 'wrk') return runWrk(url, kind, seconds);
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--client', url, kind, String(seconds)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve(m as Summary));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`client exited with ${code}`))));
  });
}

/**
 * The trace ids of sessions 0..N-1, one per fixed-width line (32 hex digits and a newline), for
 * wrk's script to pick from at random: Lua cannot derive them. Written once per N and reused.
 */
function traceIdFile(): string {
  const path = join(tmpdir(), `weft-bench-api-trace-ids-${N}.txt`);
  if (existsSync(path) && statSync(path).size === N * 33) return path;
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(traceIdOf(idOf(i)));
  writeFileSync(`${path}.tmp`, `${lines.join('\n')}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

/**
 * wrk's Lua side: the same requests as the autocannon client (trace by id of a random session
 * among N as Grafana asks for it, protobuf; a TraceQL search for a random user's ok sessions;
 * mixed alternates them), and a summary line of JSON with its own CPU time from /proc.
 */
const WRK_SCRIPT = `
local mode, ids, n, users, token, qprefix, qsuffix
local k = 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  mode, n, users, token, qprefix, qsuffix = args[1], tonumber(args[3]), tonumber(args[4]), args[5], args[6], args[7]
  local f = assert(io.open(args[2], "rb"))
  ids = f:read("*a")
  f:close()
  math.randomseed(os.time() * 1000 + (seed or 0))
end
local function pick()
  return math.random(0, n - 1)
end
local function trace()
  local i = pick()
  return wrk.format("GET", "/api/v2/traces/" .. string.sub(ids, i * 33 + 1, i * 33 + 32) .. "${TRACE_RANGE}",
    { ["accept"] = "application/protobuf", ["authorization"] = "Bearer " .. token })
end
local function search()
  local user = "u" .. string.format("%d", (pick() * 7919) % users)
  return wrk.format("GET", qprefix .. user .. qsuffix, { ["authorization"] = "Bearer " .. token })
end
function request()
  if mode == "trace" then return trace() end
  if mode == "search" then return search() end
  k = k + 1
  if k % 2 == 1 then return trace() end
  return search()
end
function done(summary, latency, requests)
  local f = io.open("/proc/self/stat", "r")
  local stat = f:read("*a")
  f:close()
  local fields = {}
  for word in string.gmatch(string.match(stat, "%) (.*)"), "%S+") do fields[#fields + 1] = word end
  local e = summary.errors
  io.write(string.format('WEFT_WRK {"requests":%d,"micros":%d,"p50":%d,"p99":%d,"errors":%d,"non2xx":%d,"ticks":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, tonumber(fields[12]) + tonumber(fields[13])))
end
`;

/** One wrk run (one thread: 50 connections on epoll need no more) and its summary. */
function runWrk(url: string, kind: string, seconds: number): Promise<Summary> {
  const script = join(tmpdir(), `weft-bench-api-${process.pid}.lua`);
  writeFileSync(script, WRK_SCRIPT);
  // The search URL around the user: `{ .user_id = "<user>" && .verdict = "ok" }`, encoded as the autocannon client does.
  const [before, after] = encodeURIComponent('{ .user_id = "\u0000" && .verdict = "ok" }').split('%00') as [string, string];
  const args = ['-t', '1', '-c', String(CONNECTIONS), '-d', `${seconds}s`, '--timeout', '10s', '-s', script, url, '--',
    kind, traceIdFile(), String(N), String(USERS), TOKEN, `/api/search?q=${before}`, `${after}&limit=20&spss=3`];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      rmSync(script, { force: true });
      const line = out.split('\n').find((l) => l.startsWith('WEFT_WRK '));
      if (code !== 0 || line === undefined) return reject(new Error(`wrk exited with ${code}: ${out}`));
      const r = JSON.parse(line.slice('WEFT_WRK '.length)) as { requests: number; micros: number; p50: number; p99: number; errors: number; non2xx: number; ticks: number };
      resolve({
        label: kind,
        requests: r.requests,
        rps: r.requests / (r.micros / 1e6),
        p50: r.p50 / 1000,
        p99: r.p99 / 1000,
        errors: r.errors,
        non2xx: r.non2xx,
        clientCpu: r.ticks / 100,
      });
    });
  });
}

async function client(url: string, kind: string, seconds: number): Promise<void> {
  const { default: autocannon } = await import('autocannon');
  const cpu0 = process.cpuUsage();
  let k = 0;
  const pick = () => Math.floor(Math.random() * N);
  const trace = () => ({ method: 'GET' as const, path: `/api/v2/traces/${traceIdOf(idOf(pick()))}${TRACE_RANGE}`, headers: { accept: 'application/protobuf', authorization: `Bearer ${TOKEN}` } });
  const search = () => {
    const q = `{ .user_id = "${userOf(pick())}" && .verdict = "ok" }`;
    return { method: 'GET' as const, path: `/api/search?q=${encodeURIComponent(q)}&limit=20&spss=3`, headers: { authorization: `Bearer ${TOKEN}` } };
  };
  const make = kind === 'trace' ? trace : kind === 'search' ? search : () => (k++ % 2 === 0 ? trace() : search());
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, ...make() }) }],
  });
  const summary: Summary = {
    label: kind,
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
  const cpu = process.cpuUsage(cpu0);
  summary.clientCpu = (cpu.user + cpu.system) / 1e6;
  process.send!(summary);
}

const SIZES: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** Sets the buffer pool for the run; returns how to restore it. */
async function sizeBufferPool(admin: mysql.Connection): Promise<() => Promise<void>> {
  const wanted = env.WEFT_BENCH_BUFFER_POOL ?? '4G';
  const match = /^(\d+)([KMG])$/i.exec(wanted);
  if (wanted === 'keep' || !match) return async () => undefined;
  const [rows] = await admin.query('SELECT @@innodb_buffer_pool_size AS size');
  const before = Number((rows as { size: number }[])[0]!.size);
  await admin.query(`SET GLOBAL innodb_buffer_pool_size = ${Number(match[1]) * SIZES[match[2]!.toUpperCase()]!}`);
  // The resize runs in the background; wait for it before reading pages in.
  for (let i = 0; i < 600; i++) {
    const [status] = await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'");
    const text = String((status as { Value?: string }[])[0]?.Value ?? '');
    if (text === '' || /completed/i.test(text)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return async () => {
    await admin.query(`SET GLOBAL innodb_buffer_pool_size = ${before}`);
  };
}

async function main(): Promise<void> {
  const admin = await mysql.createConnection({ uri: SERVER });
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const restore = await sizeBufferPool(admin);
  try {
    await run(admin);
  } finally {
    await restore();
    await admin.end();
  }
}

/** Reads every page of the tables the API reads, so the runs measure a warm server rather than the disk. */
async function warmBufferPool(admin: mysql.Connection): Promise<void> {
  const t0 = performance.now();
  await admin.query(`SELECT SUM(CHAR_LENGTH(fields_json)) AS n FROM ${DATABASE}.sessions FORCE INDEX (PRIMARY)`);
  for (const table of ['session_fields', 'session_numbers']) await admin.query(`SELECT COUNT(*) AS n FROM ${DATABASE}.${table} FORCE INDEX (PRIMARY)`);
  console.log(`buffer pool warmed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

async function diskReads(admin: mysql.Connection): Promise<number> {
  const [rows] = await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'");
  return Number((rows as { Value: string }[])[0]!.Value);
}


/** `weft serve` with `workers` processes; resolves once every worker listens. */
async function startServer(storeUrl: string, workers: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const weft = env.WEFT_BENCH_WEFT ?? fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
  const nodeArgs = (env.WEFT_BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const args = [...nodeArgs, weft, 'serve', '--store', storeUrl, '--port', String(port), '--token', TOKEN, '--workers', String(workers), '--log-level', 'warn'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let listening = 0;
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('weft serve did not start within 60 s')), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      listening += lines.filter((l) => l.includes('listening on')).length;
      if (listening >= workers) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft serve exited with ${code}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function run(admin: mysql.Connection): Promise<void> {
  const store = await openStore(`${SERVER}/${DATABASE}?pool=16`, { log: () => undefined });
  const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM ${DATABASE}.sessions`);
  const have = Number((rows as { n: number }[])[0]!.n);
  console.log(`database ${DATABASE}: ${have.toLocaleString('en')} sessions (want ${N.toLocaleString('en')})`);
  if (have < N) await fill(store, have);
  if (env.WEFT_BENCH_FILL_ONLY === '1') {
    await store.close();
    return;
  }
  const template = readFileSync(new URL('../../../templates/payment.yaml', import.meta.url), 'utf8');
  await store.saveTemplate('payment', template);
  await store.close();
  if (env.WEFT_BENCH_BUFFER_POOL !== 'keep') await warmBufferPool(admin);

  const tool = chooseClient();
  // Each worker's pool: enough connections for its share of the clients' concurrency.
  const { url, child } = await startServer(`${SERVER}/${DATABASE}?pool=${POOL}`, WORKERS);
  try {
    // Warm-up (discarded): the first figures should not pay for JIT and cold pages.
    console.log(`weft serve --workers ${WORKERS}; warming up 5 s; then ${SECONDS} s per run at ${CONNECTIONS} connections from a second process (${tool})`);
    await runClient(tool, url, 'mixed', 5);
    const results: Summary[] = [];
    const servers = familyOf(child.pid!);
    const database = Number(env.WEFT_BENCH_DB_PID) || (await databasePidOf((sql) => admin.query(sql)));
    const kinds = (env.WEFT_BENCH_RUNS ?? 'trace,search,mixed').split(',');
    for (const kind of Array.from({ length: ROUNDS }, () => kinds).flat()) {
      const before = await diskReads(admin);
      const server0 = sumCpu(servers);
      const database0 = database === undefined ? 0 : cpuSecondsOf(database);
      const result = await runClient(tool, url, kind, SECONDS);
      result.serverCpu = sumCpu(servers) - server0;
      result.databaseCpu = database === undefined ? 0 : cpuSecondsOf(database) - database0;
      result.diskReads = (await diskReads(admin)) - before;
      results.push(result);
    }
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`\n  load generator: ${tool}; load average at the end: ${load}; CPU µs per request: weft serve / MariaDB / ${tool}`);
    console.log('  run      requests     req/s    p50 ms   p99 ms   errors  non-2xx  disk reads   serve µs  mariadb µs  client µs');
    const perRequest = (seconds: number | undefined, r: Summary) => (r.requests === 0 ? '-' : (((seconds ?? 0) * 1e6) / r.requests).toFixed(0));
    for (const r of results) {
      console.log(
        `  ${r.label.padEnd(7)} ${String(r.requests).padStart(9)} ${r.rps.toFixed(0).padStart(9)} ${String(r.p50).padStart(9)} ${String(r.p99).padStart(8)} ` +
          `${String(r.errors).padStart(8)} ${String(r.non2xx).padStart(8)} ${String(r.diskReads).padStart(11)} ` +
          `${perRequest(r.serverCpu, r).padStart(10)} ${perRequest(r.databaseCpu, r).padStart(11)} ${perRequest(r.clientCpu, r).padStart(10)}`,
      );
    }
    const figure = (kind: string, of: (r: Summary) => number, unit: string, digits: number): string | undefined => {
      const values = results.filter((r) => r.label === kind).map(of);
      if (values.length === 0) return undefined;
      const middle = median(values).toFixed(digits);
      const range = `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
      return values.length === 1 ? `${middle} ${unit}` : `${middle} ${unit} (median of ${values.length} rounds; ${range})`;
    };
    const trace = figure('trace', (r) => r.p99, 'ms', 1);
    const search = figure('search', (r) => r.p99, 'ms', 1);
    const mixed = figure('mixed', (r) => r.rps, 'req/s', 0);
    if (!trace || !search || !mixed) return;
    console.log(`\n  trace-by-id p99 ${trace} (target ≤ 15)\n  search p99 ${search} (target ≤ 50)\n  mixed ${mixed} (target ≥ 2,000)`);
  } finally {
    await stopServer(child);
  }
}

if (process.argv[2] === '--client') {
  await client(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
} else {
  await main();
}
