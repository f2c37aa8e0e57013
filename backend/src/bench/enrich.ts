/**
 * bench:enrich — engine throughput with and without one enrichment, in one process, on the same
 * generated lines: the enrichment reads a 1M-row dimension table in MariaDB (`users`), keyed so
 * that about 90 % of the cache reads hit (the rest are batched lookups). Both runs yield to the
 * event loop at the same cadence, as the service does, so lookups overlap with correlation.
 *
 *   WEFT_BENCH_RECORDS   lines to generate (default 1,000,000)
 *   WEFT_BENCH_MYSQL     server URL without database (default mysql://root@127.0.0.1:3306)
 */
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { parse as parseYaml } from 'yaml';
import { Enricher } from '../enrich/index.js';
import { Replay } from '../engine/index.js';
import { parseTemplate, type CompiledTemplate } from '../template/index.js';
import { streamPayment } from '../workload/index.js';

const RECORDS = Number(process.env.WEFT_BENCH_RECORDS ?? 1_000_000);
const SERVER = (process.env.WEFT_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306').replace(/\/$/, '');
const DATABASE = 'weft_bench_enrich';
const DIMENSION_ROWS = 1_000_000;
const YIELD_EVERY = 2_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en');

async function ensureDimensionTable(): Promise<void> {
  const u = new URL(SERVER);
  const admin = await mysql.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password) });
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  await admin.query(`CREATE TABLE IF NOT EXISTS ${DATABASE}.users (id VARCHAR(16) PRIMARY KEY, region VARCHAR(8) NOT NULL, age_days INT NOT NULL)`);
  const [[{ n }]] = (await admin.query(`SELECT COUNT(*) AS n FROM ${DATABASE}.users`)) as unknown as [[{ n: number }]];
  if (Number(n) !== DIMENSION_ROWS) {
    console.log(`filling ${DATABASE}.users with ${fmt(DIMENSION_ROWS)} rows …`);
    await admin.query(`TRUNCATE ${DATABASE}.users`);
    // MariaDB's sequence engine makes the rows server-side in seconds.
    await admin.query(
      `INSERT INTO ${DATABASE}.users SELECT CONCAT('u', seq), ELT(1 + seq % 5, 'eu', 'us', 'apac', 'latam', 'mea'), seq % 3650 FROM ${DATABASE}.seq_0_to_${DIMENSION_ROWS - 1}`,
    );
  }
  await admin.end();
}

function generate(): string[] {
  const lines: string[] = [];
  let seed = 42;
  while (lines.length < RECORDS) {
    for (const line of streamPayment({ sessions: 10_000, seed: seed++, startMs: 1_800_000_000_000 + seed * 1e9 }).lines) lines.push(line);
  }
  lines.length = RECORDS;
  return lines;
}

/**
 * The payment template with a `user_bucket` field (both runs evaluate it), and optionally the
 * enrichment keyed by it. `buckets` sets the key space and so the cache hit ratio.
 */
function templates(buckets: number): { plain: CompiledTemplate; enriched: CompiledTemplate } {
  const doc = parseYaml(readFileSync(new URL('../../../templates/payment.yaml', import.meta.url), 'utf8')) as Record<string, any>;
  doc.fields.user_bucket = `has(fields.user_id) ? "u" + string(int(fields.user_id.substring(1)) % ${buckets}) : ""`;
  const plain = parseTemplate(JSON.stringify(doc), 'payment.yaml');
  doc.enrich = {
    user: {
      key: 'fields.user_bucket',
      from: { table: 'users', database: `${SERVER}/${DATABASE}` },
      fields: { region: 'region', account_age_days: 'age_days' },
      cache: { ttl: '1h', size: 1_000_000 },
      batch: { size: 500, window: '20ms' },
      timeout: '5s',
    },
  };
  return { plain, enriched: parseTemplate(JSON.stringify(doc), 'payment.yaml') };
}

async function run(lines: readonly string[], template: CompiledTemplate): Promise<{ ms: number; sessions: number; enricher?: Enricher }> {
  const enricher = template.enrich.length > 0 ? new Enricher({ templates: [template], onResolved: (r) => replay.enriched(r) }) : undefined;
  const replay: Replay = new Replay([template], enricher ? { enrichment: { view: enricher, onEnrich: (r) => enricher.request(r) } } : {});
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    replay.line(lines[i]!);
    if (i % YIELD_EVERY === 0) await yieldToLoop();
  }
  replay.endInput();
  if (enricher) await enricher.settled();
  const result = replay.result();
  const ms = performance.now() - t0;
  if (enricher) {
    await enricher.close();
    const pending = result.sessions.filter((s) => s.fields.enrichment !== undefined).length;
    if (pending > 0) throw new Error(`${pending} sessions not enriched at the end`);
  }
  return { ms, sessions: result.summary.sessions, ...(enricher ? { enricher } : {}) };
}

console.log(`bench:enrich — node ${process.version}`);
await ensureDimensionTable();
const lines = generate();
// ~1.2 cache reads per session (fires); a key space of a twelfth of the sessions leaves ~90 % hits (lookups in flight count as misses).
const sessionsEstimate = Math.round(lines.length / 6.4);
const { plain, enriched } = templates(Math.max(1, Math.round(sessionsEstimate / 12)));
console.log(`generated ${fmt(lines.length)} lines; dimension table ${DATABASE}.users: ${fmt(DIMENSION_ROWS)} rows`);

await run(lines.slice(0, 50_000), plain);
await run(lines.slice(0, 50_000), enriched);
const without: number[] = [];
const withEnrich: number[] = [];
let last: Awaited<ReturnType<typeof run>> | undefined;
for (let i = 0; i < 2; i++) {
  without.push((await run(lines, plain)).ms);
  last = await run(lines, enriched);
  withEnrich.push(last.ms);
}
const rateWithout = (lines.length / Math.min(...without)) * 1000;
const rateWith = (lines.length / Math.min(...withEnrich)) * 1000;
const c = last!.enricher!.counters;
const reads = c.cacheHits + c.cacheMisses;
console.log(`(a) engine without enrichment   ${fmt(rateWithout)} records/s`);
console.log(`(b) engine with enrichment      ${fmt(rateWith)} records/s  (${fmt(last!.sessions)} sessions)`);
console.log(`ratio (b) / (a)                 ${(rateWith / rateWithout).toFixed(3)}  (target ≥ 0.80)`);
console.log(`cache hit ratio                 ${(c.cacheHits / reads).toFixed(3)}  (${fmt(c.cacheHits)} of ${fmt(reads)} reads)`);
console.log(`lookups                         ${fmt(c.lookups)} queries for ${fmt(c.keysLookedUp)} keys (mean batch ${(c.keysLookedUp / Math.max(1, c.lookups)).toFixed(1)}), ${c.failures} failures`);
