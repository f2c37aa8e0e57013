import {
  dateTime,
  FieldType,
  type DataFrame,
  type DataQueryRequest,
  type DataSourceInstanceSettings,
  type TraceKeyValuePair,
  type TraceLog,
} from '@grafana/data';
import { beforeEach, describe, expect, test } from 'vitest';
import { fakeBackend, fakeTemplateSrv, routes, type Recorded } from '../test/grafana';
import { STATS, summary, T0, TRACE } from '../test/fixtures';
import { WeftDataSource } from './datasource';
import { bucketFor, hexId, nanosToMs } from './frames';
import type { WeftDataSourceOptions, WeftQuery } from './types';

const settings = {
  id: 1,
  uid: 'weft-uid',
  type: 'weft-sessions-datasource',
  name: 'Weft',
  url: '/api/datasources/proxy/uid/weft-uid',
  access: 'proxy',
  readOnly: false,
  jsonData: { url: 'http://weft:8787' },
  meta: { id: 'weft-sessions-datasource' },
} as unknown as DataSourceInstanceSettings<WeftDataSourceOptions>;

function request(targets: WeftQuery[], extra: Partial<DataQueryRequest<WeftQuery>> = {}): DataQueryRequest<WeftQuery> {
  const from = dateTime(T0);
  const to = dateTime(T0 + 10 * 60_000);
  return {
    requestId: 'r1',
    interval: '1m',
    intervalMs: 60_000,
    range: { from, to, raw: { from, to } },
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: Date.now(),
    ...extra,
  } as DataQueryRequest<WeftQuery>;
}

function field(frame: DataFrame, name: string) {
  const f = frame.fields.find((x) => x.name === name);
  if (!f) throw new Error(`no field ${name} in ${frame.fields.map((x) => x.name).join(', ')}`);
  return f;
}

let requests: Recorded[];
beforeEach(() => {
  fakeTemplateSrv({ tpl: 'payment', verdicts: ['paid_no_callback', 'refunded'], minAmount: '100', trans: ['T-1', 'T-2'], sid: 'payment:o-1:1' });
  ({ requests } = fakeBackend(
    routes({
      'GET /api/sessions': { body: { sessions: [summary(), summary({ id: 'payment:o-2:1', key: 'o-2', verdict: 'ok', severity: 'ok', fields: { amount: 8, channel: 'wechat', tags: ['a', 'b'] } })], cursor: null } },
      'GET /api/sessions/payment:o-1:1/trace': { body: TRACE },
      'GET /api/stats': { body: { rows: STATS } },
      'GET /api/fields/channel/values': { body: { values: [{ value: 'alipay', count: 7 }, { value: 'wechat', count: 3 }], complete: true } },
      'GET /api/templates': { body: { templates: [{ id: 'payment', text: 'id: payment', revision: 2, updatedAt: T0 }] } },
      'GET /readyz': { body: { ready: true } },
    }),
  ));
});

describe('sessions query → table frame', () => {
  test('columns, types and values; session fields become typed columns; ids link to the session page', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'A', queryType: 'sessions' }]));
    expect(response.errors).toBeUndefined();
    const frame = response.data[0] as DataFrame;
    expect(frame.refId).toBe('A');
    expect(frame.length).toBe(2);
    const types = Object.fromEntries(frame.fields.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      id: FieldType.string,
      start: FieldType.time,
      end: FieldType.time,
      duration: FieldType.number,
      template: FieldType.string,
      key: FieldType.string,
      verdict: FieldType.string,
      severity: FieldType.string,
      status: FieldType.string,
      version: FieldType.number,
      events: FieldType.number,
      'fields.amount': FieldType.number,
      'fields.channel': FieldType.string,
      'fields.tags': FieldType.string,
      'fields.trans_id': FieldType.string,
    });
    expect(field(frame, 'start').values).toEqual([T0, T0]);
    expect(field(frame, 'duration').values).toEqual([90_000, 90_000]);
    expect(field(frame, 'verdict').values).toEqual(['paid_no_callback', 'ok']);
    expect(field(frame, 'fields.amount').values).toEqual([120.5, 8]);
    expect(field(frame, 'fields.trans_id').values).toEqual(['T-1', '']);
    expect(field(frame, 'fields.tags').values).toEqual(['', 'a, b']);
    expect(field(frame, 'id').config.links?.[0]?.url).toBe('/a/weft-sessions-app/session/${__value.raw}');
  });

  test('request: time range, template, verdicts, severities, key, field conditions and limit through the datasource proxy route', async () => {
    const ds = new WeftDataSource(settings);
    await ds.query(
      request([{ refId: 'A', queryType: 'sessions', template: 'payment', verdict: 'paid_no_callback, refunded', severity: ['critical', 'warning'], key: 'o-1', filter: 'amount > 100 and amount <= 500 and channel = alipay|wechat and trans_id ^= T-', limit: 20 }]),
    );
    expect(requests).toHaveLength(1);
    const r = requests[0]!;
    expect(r.url.startsWith('/api/datasources/proxy/uid/weft-uid/weft/api/sessions?')).toBe(true);
    expect(r.params.get('from')).toBe(String(T0));
    expect(r.params.get('to')).toBe(String(T0 + 600_000));
    expect(r.params.get('template')).toBe('payment');
    expect(r.params.getAll('verdict')).toEqual(['paid_no_callback', 'refunded']);
    expect(r.params.getAll('severity')).toEqual(['critical', 'warning']);
    expect(r.params.get('key')).toBe('o-1');
    expect(r.params.get('f.amount.gt')).toBe('100');
    expect(r.params.get('f.amount.lte')).toBe('500');
    expect(r.params.getAll('f.channel')).toEqual(['alipay', 'wechat']);
    expect(r.params.get('f.trans_id.prefix')).toBe('T-');
    expect(r.params.get('limit')).toBe('20');
  });

  test('template variables: single, multi-value (lists and any-of), scoped vars win', async () => {
    const ds = new WeftDataSource(settings);
    await ds.query(
      request([{ refId: 'A', queryType: 'sessions', template: '$tpl', verdict: '${verdicts}', filter: 'amount >= $minAmount and trans_id = $trans and channel = $channel' }], {
        scopedVars: { channel: { text: 'alipay', value: 'alipay' } },
      }),
    );
    const r = requests[0]!;
    expect(r.params.get('template')).toBe('payment');
    expect(r.params.getAll('verdict')).toEqual(['paid_no_callback', 'refunded']);
    expect(r.params.get('f.amount.gte')).toBe('100');
    expect(r.params.getAll('f.trans_id')).toEqual(['T-1', 'T-2']);
    expect(r.params.get('f.channel')).toBe('alipay');
  });

  test('ad-hoc filters: columns and fields applied, unsupported operators reported as a notice', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(
      request([{ refId: 'A', queryType: 'sessions' }], {
        filters: [
          { key: 'severity', operator: '=', value: 'critical' },
          { key: 'template', operator: '=', value: 'payment' },
          { key: 'channel', operator: '=|', value: 'alipay', values: ['alipay', 'wechat'] },
          { key: 'amount', operator: '>', value: '50' },
          { key: 'product_id', operator: '!=', value: 'p1' },
        ],
      }),
    );
    const r = requests[0]!;
    expect(r.params.getAll('severity')).toEqual(['critical']);
    expect(r.params.get('template')).toBe('payment');
    expect(r.params.getAll('f.channel')).toEqual(['alipay', 'wechat']);
    expect(r.params.get('f.amount.gt')).toBe('50');
    expect(r.params.has('f.product_id')).toBe(false);
    const notices = (response.data[0] as DataFrame).meta?.notices ?? [];
    expect(notices.map((n) => n.text).join()).toMatch(/product_id != p1.*not supported/);
  });

  test('a bad field condition is an error for that query, sent nowhere', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'B', queryType: 'sessions', filter: 'amount >' }]));
    expect(requests).toHaveLength(0);
    expect(response.errors?.[0]?.refId).toBe('B');
    expect(response.errors?.[0]?.message).toMatch(/not <field> <op> <value>/);
  });

  test('the correlator down: the error says what to do', async () => {
    fakeBackend(() => ({ status: 502, body: { message: 'Bad Gateway' } }));
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'A', queryType: 'sessions' }]));
    expect(response.data).toEqual([]);
    expect(response.errors?.[0]?.message).toMatch(/Bad Gateway.*cannot reach the Weft correlator/);
  });
});

describe('session trace query → trace frame', () => {
  test('the field names and types Grafana\'s trace view reads, one row per span, parents by span id', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'T', queryType: 'trace', sessionId: '$sid' }]));
    expect(requests[0]!.path).toBe('/api/sessions/payment:o-1:1/trace');
    const frame = response.data[0] as DataFrame;
    expect(frame.meta?.preferredVisualisationType).toBe('trace');
    const types = Object.fromEntries(frame.fields.map((f) => [f.name, f.type]));
    expect(types).toEqual({
      traceID: FieldType.string,
      spanID: FieldType.string,
      parentSpanID: FieldType.string,
      operationName: FieldType.string,
      serviceName: FieldType.string,
      serviceTags: FieldType.other,
      startTime: FieldType.number,
      duration: FieldType.number,
      logs: FieldType.other,
      tags: FieldType.other,
      kind: FieldType.string,
      statusCode: FieldType.number,
      statusMessage: FieldType.string,
      warnings: FieldType.other,
      instrumentationLibraryName: FieldType.string,
    });
    expect(frame.length).toBe(3);
    expect(field(frame, 'operationName').values).toEqual(['payment', 'order_placed', 'pay_ui_opened']);
    expect(field(frame, 'serviceName').values).toEqual(['payment', 'billing', 'client']);
    expect(field(frame, 'traceID').values).toEqual(Array(3).fill('5b8efff798038103d269b633813fc60c'));
    expect(field(frame, 'parentSpanID').values).toEqual([undefined, 'aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    expect(field(frame, 'startTime').values).toEqual([T0, T0, T0 + 5_000]);
    expect(field(frame, 'duration').values).toEqual([90_000, 5_000.25, 25_000]);
    expect(field(frame, 'statusCode').values[0]).toBe(2);
    expect(field(frame, 'kind').values[0]).toBe('internal');
    const rootTags = field(frame, 'tags').values[0] as TraceKeyValuePair[];
    expect(rootTags).toContainEqual({ key: 'verdict', value: 'paid_no_callback' });
    expect(rootTags).toContainEqual({ key: 'amount', value: 120.5 });
    const rootLogs = field(frame, 'logs').values[0] as TraceLog[];
    expect(rootLogs).toEqual([{ timestamp: T0 + 90_000, name: 'missing_step', fields: [{ key: 'step', value: 'channel_callback' }] }]);
    expect(field(frame, 'warnings').values[0]).toEqual(['missing_step']);
  });

  test('ids and times: base64 ids become hex, nanosecond strings keep sub-millisecond precision', () => {
    expect(hexId('W47/95gDgQPSabYzgT/GDA==')).toBe('5b8efff798038103d269b633813fc60c');
    expect(hexId('AAAAAAAAAAE=')).toBe('0000000000000001');
    expect(nanosToMs('1736935205000250000')).toBe(1736935205000.25);
    expect(nanosToMs(1_500_000)).toBe(1.5);
  });

  test('a trace query without a session id is not run', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'T', queryType: 'trace' }]));
    expect(requests).toHaveLength(0);
    expect(response.data).toEqual([]);
  });
});

describe('verdict counts → time series', () => {
  test('one series per verdict at the panel interval, zero-filled', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'V', queryType: 'verdictCounts', template: '$tpl' }], { intervalMs: 5 * 60_000, interval: '5m' }));
    const r = requests[0]!;
    expect(r.path).toBe('/api/stats');
    expect(r.params.get('bucket')).toBe('1m');
    expect(r.params.get('template')).toBe('payment');
    expect(r.params.get('from')).toBe(String(T0));
    const frames = response.data as DataFrame[];
    expect(frames.map((f) => f.name)).toEqual(['ok', 'paid_no_callback']);
    for (const frame of frames) {
      expect(field(frame, 'time').type).toBe(FieldType.time);
      expect(field(frame, 'count').type).toBe(FieldType.number);
      expect(field(frame, 'time').values).toEqual([T0, T0 + 300_000]);
    }
    expect(field(frames[0]!, 'count').values).toEqual([75, 0]);
    expect(field(frames[1]!, 'count').values).toEqual([2, 1]);
    expect(field(frames[1]!, 'count').labels).toEqual({ verdict: 'paid_no_callback' });
    expect(field(frames[1]!, 'count').config.color).toBeUndefined();
  });

  test('series by severity, coloured by severity', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'V', queryType: 'verdictCounts', seriesBy: 'severity' }], { intervalMs: 60_000 }));
    const frames = response.data as DataFrame[];
    expect(frames.map((f) => f.name)).toEqual(['critical', 'ok']);
    expect(field(frames[0]!, 'count').config.color).toEqual({ mode: 'fixed', fixedColor: 'red' });
    expect(field(frames[0]!, 'count').values.slice(0, 6)).toEqual([0, 2, 0, 0, 0, 1]);
  });

  test('coarse intervals ask for hour and day rollups', async () => {
    expect(bucketFor(30_000).bucket).toBe('1m');
    expect(bucketFor(2 * 3_600_000).bucket).toBe('1h');
    expect(bucketFor(86_400_000).bucket).toBe('1d');
    const ds = new WeftDataSource(settings);
    await ds.query(request([{ refId: 'V', queryType: 'verdictCounts', seriesBy: 'severity' }], { intervalMs: 3_600_000 }));
    expect(requests[0]!.params.get('bucket')).toBe('1h');
  });
});

describe('field values', () => {
  test('table frame of value/count', async () => {
    const ds = new WeftDataSource(settings);
    const response = await ds.query(request([{ refId: 'F', queryType: 'fieldValues', field: 'channel', template: 'payment' }]));
    expect(requests[0]!.path).toBe('/api/fields/channel/values');
    expect(requests[0]!.params.get('template')).toBe('payment');
    const frame = response.data[0] as DataFrame;
    expect(frame.fields.map((f) => [f.name, f.type])).toEqual([
      ['value', FieldType.string],
      ['count', FieldType.number],
    ]);
    expect(field(frame, 'value').values).toEqual(['alipay', 'wechat']);
    expect(field(frame, 'count').values).toEqual([7, 3]);
  });

  test('metricFindQuery for dashboard variables: field values (optionally of one template) and template ids', async () => {
    const ds = new WeftDataSource(settings);
    expect(await ds.metricFindQuery('channel where template=$tpl')).toEqual([
      { text: 'alipay', value: 'alipay' },
      { text: 'wechat', value: 'wechat' },
    ]);
    expect(requests[0]!.params.get('template')).toBe('payment');
    expect(await ds.metricFindQuery('templates()')).toEqual([{ text: 'payment', value: 'payment' }]);
    await expect(ds.metricFindQuery('a b c')).rejects.toThrow(/is not "<field>"/);
  });

  test('ad-hoc filter keys and values', async () => {
    const ds = new WeftDataSource(settings);
    const keys = (await ds.getTagKeys()).map((k) => k.text);
    expect(keys).toEqual(['template', 'verdict', 'severity', 'key', 'amount', 'channel', 'tags', 'trans_id']);
    expect((await ds.getTagValues({ key: 'severity' })).map((v) => v.text)).toEqual(['critical', 'warning', 'info', 'ok']);
    expect((await ds.getTagValues({ key: 'verdict' })).map((v) => v.text)).toEqual(['ok', 'paid_no_callback']);
    expect((await ds.getTagValues({ key: 'channel' })).map((v) => v.text)).toEqual(['alipay', 'wechat']);
  });
});

describe('testDatasource', () => {
  test('ready and token accepted → success', async () => {
    const ds = new WeftDataSource(settings);
    expect(await ds.testDatasource()).toMatchObject({ status: 'success' });
    expect(requests.map((r) => r.path)).toEqual(['/readyz', '/api/sessions']);
  });

  test('wrong token → an error naming the token', async () => {
    fakeBackend(routes({ 'GET /readyz': { body: { ready: true } }, 'GET /api/sessions': { status: 401, body: { error: 'unauthorized', message: 'wrong bearer token' } } }));
    const ds = new WeftDataSource(settings);
    const result = await ds.testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toMatch(/wrong bearer token.*token/);
  });
});
