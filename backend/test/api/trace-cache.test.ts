import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.js';
import type { SessionDoc } from '../../src/engine/types.js';
import type { Store } from '../../src/store/index.js';
import { traceIdOf } from '../../src/trace/index.js';
import { mysqlHarness, requireMysql, type Harness } from '../store/harness.js';
import { decodeTraceByIdResponse, spansOfTracesData } from './contract.js';

const root = new URL('../../../', import.meta.url).pathname;
const PAYMENT = readFileSync(join(root, 'templates/payment.yaml'), 'utf8');

/** Tempo's TraceByIDResponse → the spans of its TracesData. */
const spansOfV2 = (body: Buffer): any[] => spansOfTracesData(decodeTraceByIdResponse(body));

const attr = (span: any, key: string) => span.attributes.find((a: any) => a.key === key)?.value;
const T0 = Date.parse('2026-11-01T10:00:00Z');
const ID = '0123456789abcdef';

function payment(version: number, over: Partial<SessionDoc> = {}): SessionDoc {
  const steps = [['order_placed', 'billing'], ['pay_ui_opened', 'client'], ['receipt_uploaded', 'client'], ['payment_completed', 'billing']];
  return {
    id: ID,
    template: 'payment',
    key: 'o1',
    start: T0,
    end: T0 + 4500,
    status: 'final',
    version,
    verdict: 'paid_no_callback',
    severity: 'critical',
    explain: 'no callback',
    splitOf: null,
    mergedInto: null,
    fields: { amount: 10, user_id: 'u1' },
    events: steps.map(([step, source], k) => ({ step: step!, source: source!, time: T0 + k * 1500, value: { order_id: 'o1', k } })),
    ...over,
  };
}

await requireMysql();

describe('trace response cache', () => {
  let h: Harness;
  let store: Store;
  let app: FastifyInstance;
  const trace = async (accept = 'application/protobuf') => {
    const res = await app.inject({ url: `/api/v2/traces/${traceIdOf(ID)}`, headers: { accept } });
    expect(res.statusCode, res.body).toBe(200);
    return res;
  };
  const counters = () => (app as unknown as { traceResponses: { counters(): { hits: number; misses: number } } }).traceResponses.counters();

  beforeAll(async () => {
    h = await mysqlHarness();
    store = await h.open();
    await store.saveTemplate('payment', PAYMENT);
    await store.upsertSessions([payment(1)]);
    app = await buildServer({ store });
  });
  afterAll(async () => {
    await app?.close();
    await h?.destroy();
  });

  it('caches a trace on its second request and serves the next ones from the cache, byte for byte', async () => {
    const first = await trace();
    const second = await trace();
    expect(counters()).toEqual({ hits: 0, misses: 2 });
    const third = await trace();
    expect(counters()).toEqual({ hits: 1, misses: 2 });
    expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(third.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(spansOfV2(first.rawPayload)).toHaveLength(5);
  });

  it('serves the new content once the session has a new version', async () => {
    expect(attr(spansOfV2((await trace()).rawPayload)[0], 'verdict')).toEqual({ stringValue: 'paid_no_callback' });
    const hits = counters().hits;
    await trace();
    expect(counters().hits).toBe(hits + 1);
    const paid = payment(2, { verdict: 'ok', severity: 'ok', explain: null, end: T0 + 6000 });
    const late: SessionDoc = { ...paid, events: [...paid.events, { step: 'channel_callback', source: 'channel', time: T0 + 6000, value: { trans_no: 'T1' } }] };
    await store.upsertSessions([late]);
    const spans = spansOfV2((await trace()).rawPayload);
    expect(spans).toHaveLength(6);
    expect(attr(spans[0], 'verdict')).toEqual({ stringValue: 'ok' });
    expect(attr(spans[0], 'version')).toEqual({ intValue: expect.anything() });
    expect(Number(attr(spans[0], 'version').intValue)).toBe(2);
    // JSON (another format, same version) follows too.
    const json = (await trace('application/json')).json();
    expect(json.trace.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))).toHaveLength(6);
    const own = await app.inject({ url: `/api/sessions/${ID}/trace` });
    expect(own.json()).toEqual({ resourceSpans: json.trace.resourceSpans });
  });

  it('does not mistake a rewritten row with the same version for the cached one', async () => {
    await trace();
    await trace();
    const hits = counters().hits;
    await trace();
    expect(counters().hits).toBe(hits + 1);
    await h.sql('DELETE FROM sessions WHERE id = ?', [ID]);
    await h.sql('DELETE FROM session_fields WHERE session_id = ?', [ID]);
    await h.sql('DELETE FROM session_numbers WHERE session_id = ?', [ID]);
    await new Promise((r) => setTimeout(r, 5));
    await store.upsertSessions([payment(2, { verdict: 'rewritten', severity: 'warning' })]);
    expect(attr(spansOfV2((await trace()).rawPayload)[0], 'verdict')).toEqual({ stringValue: 'rewritten' });
  });

  it('places spans by the new tree once the template changes', async () => {
    const parentOf = (spans: any[], step: string) => {
      const span = spans.find((s) => s.name === step);
      return spans.find((s) => Buffer.from(s.spanId).equals(Buffer.from(span.parentSpanId)))?.name;
    };
    expect(parentOf(spansOfV2((await trace()).rawPayload), 'payment_completed')).toBe('receipt_uploaded');
    await trace();
    const hits = counters().hits;
    expect(parentOf(spansOfV2((await trace()).rawPayload), 'payment_completed')).toBe('receipt_uploaded');
    expect(counters().hits).toBe(hits + 1);
    // The same session, a flat tree: every step under the root.
    const flat = PAYMENT.replace(/^tree:[\s\S]*?\n\n/m, 'tree:\n  order_placed: {}\n  pay_ui_opened: {}\n  receipt_uploaded: {}\n  payment_completed: {}\n  receipt_rejected: {}\n  channel_callback: {}\n  delivered: {}\n\n');
    expect(flat).not.toBe(PAYMENT);
    const saved = await app.inject({ method: 'PUT', url: '/api/templates/payment', headers: { 'content-type': 'application/yaml' }, payload: flat });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(parentOf(spansOfV2((await trace()).rawPayload), 'payment_completed')).toBe('payment');
  });

  it('can be turned off', async () => {
    const off = await buildServer({ store, traceCacheBytes: 0 });
    const a = await off.inject({ url: `/api/v2/traces/${traceIdOf(ID)}`, headers: { accept: 'application/protobuf' } });
    const b = await off.inject({ url: `/api/v2/traces/${traceIdOf(ID)}`, headers: { accept: 'application/protobuf' } });
    const c = await off.inject({ url: `/api/v2/traces/${traceIdOf(ID)}`, headers: { accept: 'application/protobuf' } });
    expect(b.rawPayload.equals(a.rawPayload)).toBe(true);
    expect(c.rawPayload.equals(a.rawPayload)).toBe(true);
    expect((off as unknown as { traceResponses: { counters(): { hits: number } } }).traceResponses.counters().hits).toBe(0);
    await off.close();
  });
});
