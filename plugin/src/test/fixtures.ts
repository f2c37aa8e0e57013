import type { OtlpTrace, SessionDetail, SessionSummary, StatsRow } from '../api/types';

export const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);

export function summary(overrides: Partial<SessionSummary> = {}): SessionSummary {
  return {
    id: 'payment:o-1:1',
    template: 'payment',
    key: 'o-1',
    start: T0,
    end: T0 + 90_000,
    status: 'final',
    version: 3,
    verdict: 'paid_no_callback',
    severity: 'critical',
    explain: 'paid but the channel never called back',
    splitOf: null,
    mergedInto: null,
    fields: { amount: 120.5, trans_id: 'T-1', channel: 'alipay' },
    eventCount: 4,
    ...overrides,
  };
}

export function detail(overrides: Partial<SessionDetail> = {}): SessionDetail {
  const { eventCount: _ignored, ...rest } = summary();
  return {
    ...rest,
    events: [
      { step: 'order_placed', source: 'billing', time: T0, value: { action: 'create_order', order_id: 'o-1', amount: 120.5 } },
      { step: 'pay_ui_opened', source: 'client', time: T0 + 5_000, value: { event: 'pay_ui_open', order: { id: 'o-1' } } },
      { step: 'receipt_uploaded', source: 'client', time: T0 + 30_000, value: { event: 'receipt_upload', trans_id: 'T-1' } },
      { step: 'payment_completed', source: 'billing', time: T0 + 90_000, value: { action: 'verify_ok', order_id: 'o-1' } },
    ],
    ...overrides,
  };
}

const ns = (ms: number) => `${ms}000000`;
const attr = (key: string, value: string | number) => ({ key, value: typeof value === 'string' ? { stringValue: value } : Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value } });

/** OTLP/JSON as `GET /api/sessions/:id/trace` answers: root span (service = template) and record spans by the tree. */
export const TRACE: OtlpTrace = {
  resourceSpans: [
    {
      resource: { attributes: [attr('service.name', 'payment')] },
      scopeSpans: [
        {
          scope: { name: 'weft', version: '0.1.0' },
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'aaaaaaaaaaaaaaaa',
              name: 'payment',
              kind: 1,
              startTimeUnixNano: ns(T0),
              endTimeUnixNano: ns(T0 + 90_000),
              attributes: [attr('verdict', 'paid_no_callback'), attr('severity', 'critical'), attr('amount', 120.5)],
              events: [{ timeUnixNano: ns(T0 + 90_000), name: 'missing_step', attributes: [attr('step', 'channel_callback')] }],
              status: { code: 2, message: 'paid but the channel never called back' },
            },
          ],
        },
      ],
    },
    {
      resource: { attributes: [attr('service.name', 'billing')] },
      scopeSpans: [
        {
          scope: { name: 'weft', version: '0.1.0' },
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'bbbbbbbbbbbbbbbb',
              parentSpanId: 'aaaaaaaaaaaaaaaa',
              name: 'order_placed',
              kind: 1,
              startTimeUnixNano: ns(T0),
              endTimeUnixNano: '1736935205000250000',
              attributes: [attr('step', 'order_placed'), attr('amount', 120.5)],
            },
          ],
        },
      ],
    },
    {
      resource: { attributes: [attr('service.name', 'client')] },
      scopeSpans: [
        {
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'cccccccccccccccc',
              parentSpanId: 'bbbbbbbbbbbbbbbb',
              name: 'pay_ui_opened',
              startTimeUnixNano: ns(T0 + 5_000),
              endTimeUnixNano: ns(T0 + 30_000),
              attributes: [attr('step', 'pay_ui_opened')],
            },
          ],
        },
      ],
    },
  ],
};

export const STATS: StatsRow[] = [
  { time: T0, template: 'payment', verdict: 'ok', severity: 'ok', count: 40 },
  { time: T0 + 60_000, template: 'payment', verdict: 'ok', severity: 'ok', count: 35 },
  { time: T0 + 60_000, template: 'payment', verdict: 'paid_no_callback', severity: 'critical', count: 2 },
  { time: T0 + 5 * 60_000, template: 'payment', verdict: 'paid_no_callback', severity: 'critical', count: 1 },
];
