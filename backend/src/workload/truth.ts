/**
 * Ground truth for generated workloads, and the verdict rules of templates/payment.yaml written out
 * again in plain TypeScript (deliberately *not* by running the engine), so the engine can be scored.
 *
 * Truth file format (`<out>.truth.json`), one JSON document:
 *
 * ```jsonc
 * {
 *   "scenario": "payment", "template": "payment", "seed": 7, "startMs": 1790000000000,
 *   "lines": 12345,                 // lines written (every kind below included)
 *   "sessions": [                   // one entry per expected session (a split order has two)
 *     {
 *       "key": "o100000123",        // anchor key: the order id
 *       "piece": 0,                 // 0, or 1 for the piece the client reopened after a crash
 *       "splitOfPiece": 0,          // only on a split's later piece: which piece it splits off
 *       "scenario": "ok",           // how it was generated (see SCENARIOS)
 *       "recordIds": ["b-0000002a", "…"],   // per-source unique ids (log_id / event_id / notify_id / seq),
 *                                           // anchors and joined supplements, each once
 *       "steps": { "order_placed": 1, … },  // records per step (redeliveries not counted)
 *       "verdict": "ok", "severity": "ok",  // the template's first matching rule
 *       "fields": { "trans_id": "T…", "amount": 4.99, "delivered_count": 1, … }  // expected field values
 *     }
 *   ],
 *   "orphans": ["N…"],              // notify_ids of channel callbacks whose trans_no joins nothing
 *   "malformed": 3,                 // lines that are not JSON, or whose record lacks a parsable time
 *   "malformedLines": [17, 944, …], // their 1-based line numbers
 *   "noise": 812,                   // distinct records that match no step (heartbeat, query_order, page_view, login)
 *   "lateRecords": 97,              // distinct records delivered long after their source's disorder
 *   "redeliveries": 101,            // extra lines repeating an earlier record exactly
 *   "scenarios": { "ok": 1100, … }  // orders per scenario
 * }
 * ```
 *
 * Record ids of different sources never collide: log_id `b-…`, event_id a UUID, notify_id `N…`,
 * seq a decimal number. `recordId(source, value)` extracts the id from a record.
 */

export const SCENARIOS = [
  'ok',
  'paid_not_delivered',
  'delivered_twice',
  'receipt_rejected',
  'abandoned',
  'callback_missing',
  'client_crash_split',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const PAYMENT_STEPS = [
  'order_placed',
  'pay_ui_opened',
  'receipt_uploaded',
  'payment_completed',
  'receipt_rejected',
  'channel_callback',
  'delivered',
] as const;
export type PaymentStep = (typeof PAYMENT_STEPS)[number];

export type StepCounts = Record<PaymentStep, number>;

export type TruthSeverity = 'critical' | 'warning' | 'info' | 'ok';

export interface TruthFields {
  trans_id?: string;
  amount?: number;
  product_id?: string;
  user_id?: string;
  pay_ms?: number;
  delivered_count: number;
  channel_status?: string;
  platform?: string;
}

export interface TruthSession {
  key: string;
  piece: number;
  splitOfPiece?: number;
  scenario: Scenario;
  recordIds: string[];
  steps: StepCounts;
  verdict: string;
  severity: TruthSeverity;
  fields: TruthFields;
}

export interface PaymentTruth {
  scenario: 'payment';
  template: 'payment';
  seed: number;
  startMs: number;
  lines: number;
  sessions: TruthSession[];
  orphans: string[];
  malformed: number;
  malformedLines: number[];
  noise: number;
  lateRecords: number;
  redeliveries: number;
  scenarios: Record<Scenario, number>;
}

/** The id field of each source of the payment workload. */
export const ID_FIELDS: Readonly<Record<string, string>> = {
  billing: 'log_id',
  client: 'event_id',
  channel: 'notify_id',
  game: 'seq',
};

/** The per-source unique id of a record, as a string; undefined when it has none. */
export function recordId(source: string, value: unknown): string | undefined {
  const field = ID_FIELDS[source];
  if (field === undefined || !value || typeof value !== 'object') return undefined;
  const id = (value as Record<string, unknown>)[field];
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

export function emptyCounts(): StepCounts {
  return {
    order_placed: 0,
    pay_ui_opened: 0,
    receipt_uploaded: 0,
    payment_completed: 0,
    receipt_rejected: 0,
    channel_callback: 0,
    delivered: 0,
  };
}

/**
 * The verdict rules of templates/payment.yaml, first match wins. Kept in step with the YAML by hand;
 * the workload test checks both agree on every combination of step counts the generator produces.
 */
export function paymentVerdict(c: StepCounts): { verdict: string; severity: TruthSeverity } {
  if (c.delivered > 1) return { verdict: 'delivered_twice', severity: 'critical' };
  if (c.delivered > 0 && c.payment_completed === 0) return { verdict: 'delivered_unpaid', severity: 'critical' };
  if (c.payment_completed > 0 && c.delivered === 0) return { verdict: 'paid_not_delivered', severity: 'critical' };
  if (c.payment_completed > 0 && c.channel_callback === 0) return { verdict: 'paid_no_callback', severity: 'critical' };
  if (c.receipt_rejected > 0 && c.payment_completed === 0) return { verdict: 'receipt_rejected', severity: 'warning' };
  if (c.pay_ui_opened > 0 && c.receipt_uploaded === 0 && c.payment_completed === 0 && c.receipt_rejected === 0) {
    return { verdict: 'abandoned_at_pay_screen', severity: 'info' };
  }
  if (c.payment_completed > 0 && c.delivered === 1 && c.channel_callback > 0) return { verdict: 'ok', severity: 'ok' };
  return { verdict: 'incomplete', severity: 'info' };
}
