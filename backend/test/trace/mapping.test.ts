import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { SessionDoc } from '../../src/engine/types.js';
import { flattenRecord, MISSING_STEP_EVENT, otlpJson, rootSpanIdOf, sessionSpans, traceIdOf } from '../../src/trace/index.js';
import { Harness, live, miniTemplate, rec, sec } from '../helpers.js';

const template = miniTemplate();

/** A full session of the mini template, made by the engine (not written by hand). */
function paidSession(order: string, withCallback: boolean): SessionDoc {
  const h = new Harness(template).all([
    rec.order(order, sec(0), { buyer: { id: 'u1', tags: ['vip', 'new'] } }),
    rec.payUi(order, sec(10)),
    rec.receipt(order, sec(20), `T-${order}`),
    rec.verify(order, sec(30)),
    ...(withCallback ? [rec.callback(`T-${order}`, sec(40))] : []),
  ]);
  const [session] = live(h.end()).filter((s) => s.key === order);
  return session!;
}

const spanOf = (spans: ReturnType<typeof sessionSpans>, step: string) => spans.find((s) => s.name === step)!;

describe('session → trace mapping', () => {
  it('derives a 16-byte trace id from the session id, stable across versions and distinct per session', () => {
    const s = paidSession('o-1', false);
    const a = sessionSpans(s, template);
    const b = sessionSpans({ ...s, version: s.version + 3, verdict: 'other' }, template);
    expect(a[0]!.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a[0]!.spanContext().traceId).toBe(traceIdOf(s.id));
    expect(b.map((x) => x.spanContext().traceId)).toEqual(a.map((x) => x.spanContext().traceId));
    expect(b.map((x) => x.spanContext().spanId)).toEqual(a.map((x) => x.spanContext().spanId));
    expect(traceIdOf(s.id)).not.toBe(traceIdOf(`${s.id}x`));
    expect(new Set(a.map((x) => x.spanContext().spanId)).size).toBe(a.length);
  });

  it('places record spans by the behaviour tree, the root span above them', () => {
    const s = paidSession('o-2', true);
    const spans = sessionSpans(s, template);
    const root = spans[0]!;
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.spanContext().spanId).toBe(rootSpanIdOf(s.id));
    const parentName = (step: string) => {
      const parent = spanOf(spans, step).parentSpanContext!.spanId;
      return spans.find((x) => x.spanContext().spanId === parent)!.name;
    };
    // tree: order_placed { pay_ui_opened { receipt_uploaded { channel_callback, payment_completed } } }
    expect(parentName('order_placed')).toBe('mini');
    expect(parentName('pay_ui_opened')).toBe('order_placed');
    expect(parentName('receipt_uploaded')).toBe('pay_ui_opened');
    expect(parentName('payment_completed')).toBe('receipt_uploaded');
    expect(parentName('channel_callback')).toBe('receipt_uploaded');
    expect(spanOf(spans, 'channel_callback').resource.attributes['service.name']).toBe('channel');
    expect(root.resource.attributes['service.name']).toBe('mini');
  });

  it('skips a missing parent step to the nearest present ancestor and marks missing steps on the root', () => {
    const h = new Harness(template).all([rec.order('o-3', sec(0)), rec.receipt('o-3', sec(20), 'T-o-3'), rec.verify('o-3', sec(30))]);
    const s = live(h.end())[0]!;
    const spans = sessionSpans(s, template);
    const receipt = spanOf(spans, 'receipt_uploaded');
    expect(receipt.parentSpanContext!.spanId).toBe(spanOf(spans, 'order_placed').spanContext().spanId);
    const missing = spans[0]!.events.filter((e) => e.name === MISSING_STEP_EVENT).map((e) => e.attributes!.step);
    expect(missing.sort()).toEqual(['channel_callback', 'pay_ui_opened']);
  });

  it('without the template, records hang under the root in time order', () => {
    const s = paidSession('o-4', true);
    const spans = sessionSpans(s);
    for (const span of spans.slice(1)) expect(span.parentSpanContext!.spanId).toBe(spans[0]!.spanContext().spanId);
    expect(spans.slice(1).map((x) => x.name)).toEqual(['order_placed', 'pay_ui_opened', 'receipt_uploaded', 'payment_completed', 'channel_callback']);
    expect(spans[0]!.events).toEqual([]);
  });

  it('puts the verdict on the root span: attributes, ERROR for critical, OK for ok', () => {
    const bad = paidSession('o-5', false);
    const root = sessionSpans(bad, template)[0]!;
    expect(bad.verdict).toBe('paid_no_callback');
    expect(root.status).toEqual({ code: SpanStatusCode.ERROR, message: bad.explain });
    expect(root.attributes).toMatchObject({
      template: 'mini', key: 'o-5', verdict: 'paid_no_callback', severity: 'critical', explain: bad.explain,
      'session.id': bad.id, amount: 4.99, trans_id: 'T-o-5',
    });
    const good = sessionSpans(paidSession('o-6', true), template)[0]!;
    expect(good.status.code).toBe(SpanStatusCode.OK);
    expect(good.attributes.verdict).toBe('ok');
  });

  it('flattens the record into attributes and times spans until the next step', () => {
    const s = paidSession('o-7', true);
    const spans = sessionSpans(s, template);
    const order = spanOf(spans, 'order_placed');
    expect(order.attributes).toMatchObject({ step: 'order_placed', source: 'billing', order_id: 'o-7', amount: 4.99, 'buyer.id': 'u1', 'buyer.tags': ['vip', 'new'] });
    expect(order.startTime).toEqual([Math.floor(sec(0) / 1000), 0]);
    expect(order.duration).toEqual([10, 0]); // until pay_ui_opened at +10 s
    expect(spanOf(spans, 'channel_callback').duration).toEqual([0, 0]); // last record: instant
    const { attributes, dropped } = flattenRecord({ a: { b: [1, 'x'] }, n: null, many: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])) });
    expect(attributes['a.b']).toBe('[1,"x"]');
    expect('n' in attributes).toBe(false);
    expect(Object.keys(attributes)).toHaveLength(128);
    expect(dropped).toBe(73);
  });

  it('serialises to OTLP JSON with hex ids through the OpenTelemetry serialiser', () => {
    const s = paidSession('o-8', true);
    const json = otlpJson(sessionSpans(s, template)) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] }; scopeSpans: { spans: { traceId: string; name: string }[] }[] }[] };
    const services = json.resourceSpans.map((r) => r.resource.attributes.find((a) => a.key === 'service.name')!.value.stringValue).sort();
    expect(services).toEqual(['billing', 'channel', 'client', 'mini']);
    const all = json.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans));
    expect(all).toHaveLength(6);
    for (const span of all) expect(span.traceId).toBe(traceIdOf(s.id));
  });
});
