/**
 * `weft run` without Kafka (embedded): HTTP ingest (NDJSON, JSON arrays, bad lines with their line
 * numbers, 413, unknown sources), health and metrics, and template hot reload — over the API (a bad
 * template refused while the running one keeps working), across instances sharing a store, and
 * from a watched templates directory.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunService } from '../../src/run/index.js';
import { describeScore } from '../../src/workload/index.js';
import {
  eventually, flushRecords, freshDatabase, PAYMENT_YAML, paymentWorkload, PERFECT, quietLog, runConfig, scoreStore,
  TEMPLATES_DIR, verdictOf,
} from './harness.js';

let url: string;
let templatesDir: string;
let deadLetterFile: string;
let service: RunService;

beforeAll(async () => {
  url = await freshDatabase('weft_run_http');
  const dir = mkdtempSync(join(tmpdir(), 'weft-run-http-'));
  templatesDir = join(dir, 'templates');
  (await import('node:fs')).mkdirSync(templatesDir);
  copyFileSync(join(TEMPLATES_DIR, 'payment.yaml'), join(templatesDir, 'payment.yaml'));
  deadLetterFile = join(dir, 'dead.ndjson');
  service = await RunService.start(runConfig(undefined, url, {
    templates: templatesDir, deadLetterFile, http: { port: 0, host: '127.0.0.1', bodyLimit: 256 * 1024 }, templatesPollMs: 300,
  }), { logger: quietLog });
});

afterAll(async () => {
  await service?.stop();
});

async function post(path: string, body: string, type = 'application/x-ndjson'): Promise<{ status: number; body: any }> {
  const response = await fetch(service.address + path, { method: 'POST', headers: { 'content-type': type }, body });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

describe('weft run embedded: HTTP ingest', () => {
  it('a whole workload through POST /ingest/<source> gives its truth; bad lines are answered with line numbers and dead-lettered', async () => {
    const workload = paymentWorkload(150, 31);
    const records = [...workload.records, ...flushRecords(workload.lastTime)];
    const reported: Array<{ source: string; text: string }> = [];
    // Consecutive records of one source travel in one request, in arrival order.
    for (let i = 0; i < records.length;) {
      let j = i;
      while (j < records.length && records[j]!.source === records[i]!.source && j - i < 50) j++;
      const chunk = records.slice(i, j);
      const { status, body } = await post(`/ingest/${chunk[0]!.source}`, chunk.map((r) => r.text).join('\n') + '\n');
      const bad = chunk.flatMap((r, k) => (r.malformed ? [k + 1] : []));
      expect(status, JSON.stringify(body)).toBe(bad.length > 0 ? 400 : 200);
      expect(body.accepted).toBe(chunk.length - bad.length);
      expect(body.errors.map((e: { line: number }) => e.line)).toEqual(bad);
      for (const k of bad) reported.push({ source: chunk[0]!.source, text: chunk[k - 1]!.text });
      i = j;
    }
    const score = await eventually(() => scoreStore(url, workload.truth), (s) => JSON.stringify(verdictOf(s)) === JSON.stringify(PERFECT), 30_000, 500);
    expect(verdictOf(score), describeScore(score)).toEqual(PERFECT);
    expect(reported.length).toBe(workload.truth.malformed);
    const letters = readFileSync(deadLetterFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { raw: string; reason: string });
    expect(letters.map((l) => l.raw).sort()).toEqual(reported.map((r) => r.text).sort());
  });

  it('takes a JSON array; refuses oversize bodies (413) and unknown sources (404)', async () => {
    const t = Date.parse('2026-11-02T10:00:00Z');
    const array = await post('/ingest/billing', JSON.stringify([
      { ts: t, log_id: 'arr-1', action: 'create_order', order_id: 'arr-order', amount: 1, product_id: 'p', user_id: 'u' },
      { log_id: 'arr-2', action: 'create_order', order_id: 'arr-order-2' },
    ]), 'application/json');
    expect(array.status).toBe(400);
    expect(array.body).toMatchObject({ accepted: 1, rejected: 1, errors: [{ line: 2, reason: 'no time field "ts"' }] });

    const huge = JSON.stringify({ ts: t, log_id: 'big', action: 'x', pad: 'x'.repeat(300 * 1024) });
    expect((await post('/ingest/billing', huge)).status).toBe(413);
    const unknown = await post('/ingest/nowhere', '{"a":1}');
    expect(unknown.status).toBe(404);
  });

  it('serves /healthz, /readyz and contract-2 metrics', async () => {
    expect((await fetch(service.address + '/healthz')).status).toBe(200);
    const ready = await fetch(service.address + '/readyz');
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(service.address + '/metrics')).text();
    for (const name of ['weft_records_in_total', 'weft_records_out_total', 'weft_records_rejected_total', 'weft_dead_letters_total',
      'weft_sessions_fired_total', 'weft_late_reapplied_total', 'weft_orphans_total', 'weft_open_sessions', 'weft_store_write_seconds',
      'weft_watermark_lag_seconds', 'process_cpu_seconds_total']) {
      expect(metrics, name).toContain(name);
    }
    expect(metrics).toMatch(/weft_records_in_total\{source="billing"\} \d+/);
    expect(metrics).toMatch(/weft_sessions_fired_total\{template="payment",trigger="complete",verdict="ok"\} \d+/);
  });
});

describe('weft run embedded: template hot reload', () => {
  const t0 = Date.parse('2026-11-03T10:00:00Z');
  const order = (id: string, t: number) => JSON.stringify({ ts: t, log_id: `${id}-o`, action: 'create_order', order_id: id, amount: 9.99, product_id: 'gems', user_id: 'u1' });
  const verify = (id: string, t: number) => JSON.stringify({ ts: t, log_id: `${id}-v`, action: 'verify_ok', order_id: id, trans_id: `T-${id}`, amount: 9.99 });

  /** Noise on every source past `t`: the session there closes and fires final. */
  async function passWatermark(t: number): Promise<void> {
    for (const r of flushRecords(t)) expect((await post(`/ingest/${r.source}`, r.text)).status).toBe(200);
  }

  it('a bad template is refused over the API with its errors, and the running one keeps correlating', async () => {
    const bad = PAYMENT_YAML.replace('gap: 15m', 'gap: 15 minutes');
    const response = await fetch(`${service.address}/api/templates/payment`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: bad });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('session.gap');
    expect(service.templates.revision('payment')).toBe(1);

    await post('/ingest/billing', [order('hot-1', t0), verify('hot-1', t0 + 1000)].join('\n'));
    await passWatermark(t0 + 1000);
    const session = await eventually(async () => (await service.store.search({ key: 'hot-1' })).sessions[0], (s) => s !== undefined, 10_000, 200);
    expect(session).toMatchObject({ verdict: 'paid_not_delivered', explain: 'paid 9.99 but never delivered' });
  });

  it('a good template over the API applies at once here and, through the store, on another instance', async () => {
    const other = await RunService.start(runConfig(undefined, url, { templatesPollMs: 200, deadLetterFile }), { logger: quietLog, listen: false });
    try {
      const changed = PAYMENT_YAML.replace("explain: 'paid {{ fields.amount }} but never delivered'", "explain: 'v2: paid {{ fields.amount }}, nothing delivered'");
      expect(changed).not.toBe(PAYMENT_YAML);
      const response = await fetch(`${service.address}/api/templates/payment`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: changed });
      expect(response.status).toBe(200);
      expect(service.templates.revision('payment')).toBe(2);
      expect(await eventually(async () => other.templates.revision('payment'), (r) => r === 2, 10_000, 100)).toBe(2);

      await post('/ingest/billing', [order('hot-2', t0 + 4 * 3_600_000), verify('hot-2', t0 + 4 * 3_600_000 + 1000)].join('\n'));
      await passWatermark(t0 + 4 * 3_600_000 + 1000);
      const session = await eventually(async () => (await service.store.search({ key: 'hot-2' })).sessions[0], (s) => s !== undefined, 10_000, 200);
      expect(session?.explain).toBe('v2: paid 9.99, nothing delivered');
    } finally {
      await other.stop();
    }
  });

  it('a watched templates directory: a bad file is refused, a good one is loaded', async () => {
    writeFileSync(join(templatesDir, 'refund.yaml'), 'id: refund\nsources: {}\n');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(service.templates.templates.map((t) => t.id)).toEqual(['payment']);
    const refund = PAYMENT_YAML.replace('id: payment', 'id: refund').replace('title: In-app purchase', 'title: Refund');
    writeFileSync(join(templatesDir, 'refund.yaml'), refund);
    const ids = await eventually(async () => service.templates.templates.map((t) => t.id), (l) => l.includes('refund'), 10_000, 100);
    expect(ids).toEqual(['payment', 'refund']);
    expect((await service.store.getTemplate('refund'))?.text).toBe(refund);
  });
});
