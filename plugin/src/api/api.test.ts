import { describe, expect, test } from 'vitest';
import { classify, toQueryString, WeftApiError } from './client';
import { filterParams, parseFieldFilter } from './filters';
import { max, parsePrometheus, sum } from './prometheus';

describe('field filter syntax', () => {
  test('conditions joined by and / && / comma become the API\'s f.<field> parameters', () => {
    const { filters, errors } = parseFieldFilter('amount > 100 and amount <= 500.5 && trans_id = "T 1" , channel = alipay|wechat and sku ^= gem-');
    expect(errors).toEqual([]);
    expect(filterParams(filters)).toEqual({
      'f.amount.gt': ['100'],
      'f.amount.lte': ['500.5'],
      'f.trans_id': ['T 1'],
      'f.channel': ['alipay', 'wechat'],
      'f.sku.prefix': ['gem-'],
    });
    expect(toQueryString(filterParams(filters))).toBe('?f.amount.gt=100&f.amount.lte=500.5&f.trans_id=T+1&f.channel=alipay&f.channel=wechat&f.sku.prefix=gem-');
  });

  test('each bad condition is reported with its position; good ones are kept', () => {
    const { filters, errors } = parseFieldFilter('amount > 100 and price and amount >> 3 and x < 1e');
    expect(filters).toEqual([{ field: 'amount', op: '>', values: ['100'] }]);
    expect(errors.map((e) => [e.condition, e.text])).toEqual([
      [2, 'price'],
      [3, 'amount >> 3'],
      [4, 'x < 1e'],
    ]);
    expect(errors[2]!.message).toMatch(/not a number/);
  });

  test('empty text is no condition', () => {
    expect(parseFieldFilter('  ')).toEqual({ filters: [], errors: [] });
  });
});

describe('errors through Grafana\'s proxy', () => {
  test('status and body → kind, message and advice', () => {
    expect(classify(502, { message: 'Bad Gateway' }, 'x')).toMatchObject({ kind: 'unreachable', message: 'Bad Gateway' });
    expect(classify(0, undefined, 'network down')).toMatchObject({ kind: 'unreachable', message: 'network down' });
    expect(classify(401, { error: 'unauthorized', message: 'missing bearer token' }, 'x').advice).toMatch(/token/);
    const bad = classify(400, { error: 'bad_request', message: 'query.limit: too big', issues: [{ path: 'query.limit', message: 'too big' }] }, 'x');
    expect(bad).toBeInstanceOf(WeftApiError);
    expect(bad.kind).toBe('bad_request');
    expect(bad.issues).toHaveLength(1);
    expect(classify(404, {}, 'Not Found').kind).toBe('not_found');
    expect(classify(500, { error: 'internal', message: 'internal error' }, 'x').kind).toBe('server');
  });
});

describe('Prometheus text format', () => {
  const text = [
    '# HELP weft_consumer_lag messages behind',
    '# TYPE weft_consumer_lag gauge',
    'weft_consumer_lag{topic="billing-log",partition="0"} 12',
    'weft_consumer_lag{topic="billing-log",partition="1"} 30',
    'weft_watermark_lag_seconds{template="payment",source="client"} 4.5',
    'weft_watermark_lag_seconds{template="payment",source="channel"} 61.25',
    'weft_late_dropped_total{template="payment"} 0 1700000000000',
    'weft_note{text="a \\"quoted\\" value"} +Inf',
    'garbage line',
  ].join('\n');

  test('samples, labels (escapes), sums and maxima', () => {
    const samples = parsePrometheus(text);
    expect(samples).toHaveLength(6);
    expect(sum(samples, 'weft_consumer_lag')).toBe(42);
    expect(max(samples, 'weft_watermark_lag_seconds')).toEqual({ name: 'weft_watermark_lag_seconds', labels: { template: 'payment', source: 'channel' }, value: 61.25 });
    expect(sum(samples, 'weft_late_dropped_total')).toBe(0);
    expect(samples.at(-1)).toEqual({ name: 'weft_note', labels: { text: 'a "quoted" value' }, value: Infinity });
    expect(sum(samples, 'weft_open_sessions')).toBeUndefined();
  });
});
