/**
 * The in-app purchase workload for templates/payment.yaml: four systems, each with its own record
 * shape, time format, clock and delivery delay, many orders in flight at once, and the ground truth
 * of every session (truth.ts) computed from the scenario that produced it.
 *
 * Timing model. Every record has a true time (when it happened), an event time (what its system
 * wrote: the client's clock is skewed per device by up to ±20 s, the channel may write whole
 * seconds) and an arrival time (`at`, true time plus a delivery delay). Normal delays stay inside
 * the source's declared `disorder` once skews are accounted for:
 *
 * | source  | disorder | normal delay          | event-time error     |
 * | ------- | -------- | --------------------- | -------------------- |
 * | billing | 5 s      | 0–3 s                 | none                 |
 * | client  | 2 m      | 0–5 s, 20 % 5–60 s    | skew ±20 s           |
 * | channel | 1 m      | 0–40 s                | ≤ 1 s (whole seconds)|
 * | game    | 10 s     | 0–6 s                 | none                 |
 *
 * so a record is never behind its source's watermark unless it was deliberately made late
 * (`lateShare`: delayed 5 min – 3 h, inside the template's 24 h lateness). Every session keeps its
 * anchor records within ~8 min (gap: 15 m); a client crash reopens the pay screen 18–90 min after
 * the first piece (more than the gap, less than splitWithin: 2 h).
 *
 * Noise (records that match no step): billing heartbeats and order-status polls (these carry the
 * order id), client page views (some name a live order), game logins. About 6.8 lines per order:
 * 150k orders make about a million lines.
 */
import { Random } from './random.js';
import { ArrivalHeap, type Arrival } from './reorder.js';
import {
  emptyCounts, paymentVerdict, SCENARIOS,
  type PaymentStep, type PaymentTruth, type Scenario, type TruthFields, type TruthSession,
} from './truth.js';

export interface PaymentOptions {
  /** Orders to generate (a client-crash order yields two sessions). */
  sessions: number;
  seed: number;
  /** True time of the first order, epoch ms (default 1790000000000, 2026-09-21). */
  startMs?: number;
  /** Mean time between order starts (Poisson arrivals), ms; default 1500. */
  meanIntervalMs?: number;
  /** Relative weights of the scenarios; missing ones take the default weight. */
  mix?: Partial<Record<Scenario, number>>;
  /** Share of records delivered long after their source's disorder (default 0.01). */
  lateShare?: number;
  /** Share of records delivered a second time, identical (default 0.01). */
  redeliveryShare?: number;
  /** Mean background noise records (heartbeat, page_view, login) per order (default 0.5); paying orders add 0–2 status polls. */
  noisePerSession?: number;
  /** Mean orphan channel callbacks per order (default 0.03, ≈ 0.5 % of lines). */
  orphanPerSession?: number;
  /** Mean malformed lines per order (default 0.006, ≈ 0.1 % of lines). */
  malformedPerSession?: number;
}

export const DEFAULT_MIX: Readonly<Record<Scenario, number>> = {
  ok: 0.55,
  paid_not_delivered: 0.07,
  delivered_twice: 0.05,
  receipt_rejected: 0.08,
  abandoned: 0.12,
  callback_missing: 0.05,
  client_crash_split: 0.08,
};

export const DEFAULT_START_MS = 1_790_000_000_000;

/** Delivery delays and disorders per source (ms); see the table above. */
const DISORDER: Readonly<Record<Source, number>> = { billing: 5_000, client: 120_000, channel: 60_000, game: 10_000 };
const MAX_SKEW_MS = 20_000;
const LATE_MAX_MS = 3 * 3_600_000;

type Source = 'billing' | 'client' | 'channel' | 'game';

interface Pending extends Arrival {
  /** The complete output line except its line number bookkeeping. */
  readonly line: string;
  readonly malformed: boolean;
}

interface Device {
  readonly id: string;
  readonly os: 'ios' | 'android';
  readonly model: string;
  readonly app_version: string;
  /** Device clock minus true time, ms. */
  readonly skew: number;
}

interface Order {
  readonly orderId: string;
  readonly userId: string;
  readonly productId: string;
  readonly amount: number;
  readonly item: string;
  readonly device: Device;
}

/** A record placed in a session piece, for the truth. */
interface Placed {
  readonly step: PaymentStep;
  readonly id: string;
  readonly eventTime: number;
  readonly value: Record<string, unknown>;
}

const PRODUCTS: readonly { id: string; amount: number; item: string }[] = [
  { id: 'gems_60', amount: 0.99, item: 'gem_pack_s' },
  { id: 'gems_300', amount: 4.99, item: 'gem_pack_m' },
  { id: 'gems_680', amount: 9.99, item: 'gem_pack_l' },
  { id: 'monthly_card', amount: 4.99, item: 'monthly_card' },
  { id: 'battle_pass', amount: 9.99, item: 'battle_pass_s7' },
  { id: 'gems_1980', amount: 29.99, item: 'gem_pack_xl' },
  { id: 'gems_6480', amount: 99.99, item: 'gem_pack_xxl' },
  { id: 'starter_bundle', amount: 1.99, item: 'starter_bundle' },
];
const IOS_MODELS = ['iPhone14,2', 'iPhone15,3', 'iPhone16,1', 'iPad13,4'];
const ANDROID_MODELS = ['SM-S918B', 'Pixel 8', 'M2102J20SG', 'CPH2451', 'V2227A'];
const APP_VERSIONS = ['3.14.0', '3.14.1', '3.15.0', '3.15.2'];
const PAGES = ['home', 'store', 'inventory', 'event_banner', 'settings', 'friends'];
const CHANNELS = ['apple_iap', 'google_play', 'alipay', 'wechat_pay'];
const BAD_TIMES: readonly unknown[] = ['n/a', '', null, 'yesterday', 'NaN', 'unknown'];

/**
 * A streaming generator: iterate `lines()` once; `truth` is complete when the iteration ends.
 * Memory is bounded by the records in flight (the reorder heap), not by the output size; the truth
 * itself grows with the number of sessions.
 */
export class PaymentWorkload {
  readonly truth: PaymentTruth;
  private readonly rng: Random;
  private readonly opts: Required<Omit<PaymentOptions, 'mix'>> & { mix: Record<Scenario, number> };
  private readonly heap = new ArrivalHeap<Pending>();
  private seq = 0;
  private counters = { log: 0, event: 0, notify: 0, game: 0, order: 0, trans: 0, user: 0 };
  private readonly recentOrders: string[] = [];
  private started = false;

  constructor(options: PaymentOptions) {
    if (!Number.isInteger(options.sessions) || options.sessions < 0) throw new Error('sessions must be a non-negative integer');
    this.opts = {
      sessions: options.sessions,
      seed: options.seed,
      startMs: options.startMs ?? DEFAULT_START_MS,
      meanIntervalMs: options.meanIntervalMs ?? 1_500,
      mix: { ...DEFAULT_MIX, ...options.mix },
      lateShare: options.lateShare ?? 0.01,
      redeliveryShare: options.redeliveryShare ?? 0.01,
      noisePerSession: options.noisePerSession ?? 0.5,
      orphanPerSession: options.orphanPerSession ?? 0.03,
      malformedPerSession: options.malformedPerSession ?? 0.006,
    };
    this.rng = new Random(options.seed);
    this.truth = {
      scenario: 'payment',
      template: 'payment',
      seed: options.seed,
      startMs: this.opts.startMs,
      lines: 0,
      sessions: [],
      orphans: [],
      malformed: 0,
      malformedLines: [],
      noise: 0,
      lateRecords: 0,
      redeliveries: 0,
      scenarios: Object.fromEntries(SCENARIOS.map((s) => [s, 0])) as Record<Scenario, number>,
    };
  }

  /** The NDJSON replay input, one line (without newline) per item, in arrival order. */
  *lines(): Generator<string, void, undefined> {
    if (this.started) throw new Error('a PaymentWorkload can be iterated once');
    this.started = true;
    const { sessions, startMs, meanIntervalMs } = this.opts;
    let start = startMs;
    for (let i = 0; i < sessions; i++) {
      yield* this.flush(start);
      const next = start + Math.max(1, Math.round(this.rng.exponential(meanIntervalMs)));
      this.order(start);
      this.background(start, next);
      start = next;
    }
    yield* this.flush(Infinity);
  }

  private *flush(before: number): Generator<string, void, undefined> {
    for (let top = this.heap.peek(); top !== undefined && top.at < before; top = this.heap.peek()) {
      this.heap.pop();
      this.truth.lines++;
      if (top.malformed) this.truth.malformedLines.push(this.truth.lines);
      yield top.line;
    }
  }

  // ---- orders -------------------------------------------------------------------------------

  private order(start: number): void {
    const rng = this.rng;
    const scenario = rng.weighted(this.opts.mix);
    this.truth.scenarios[scenario]++;
    const product = rng.pick(PRODUCTS);
    const order: Order = {
      orderId: `o${100_000_000 + (this.counters.order += rng.int(1, 9))}`,
      userId: `u${rng.int(1_000_000, 9_999_999)}`,
      productId: product.id,
      amount: product.amount,
      item: product.item,
      device: this.device(),
    };
    this.recentOrders.push(order.orderId);
    if (this.recentOrders.length > 64) this.recentOrders.shift();

    const piece: Placed[] = [];
    const tOrder = start;
    const tUi = tOrder + rng.between(300, 5_000);
    piece.push(this.billing('create_order', tOrder, order, undefined, 'order_placed'));
    piece.push(this.client('pay_ui_open', tUi, order, undefined, 'pay_ui_opened'));

    switch (scenario) {
      case 'ok':
      case 'paid_not_delivered':
      case 'delivered_twice':
      case 'callback_missing':
        this.payment(piece, tUi, order, {
          callback: scenario !== 'callback_missing',
          deliveries: scenario === 'paid_not_delivered' ? 0 : scenario === 'delivered_twice' ? 2 : 1,
        });
        this.session(scenario, order.orderId, 0, piece);
        break;
      case 'receipt_rejected':
        this.payment(piece, tUi, order, { rejected: true, callback: rng.chance(0.5), deliveries: 0 });
        this.session(scenario, order.orderId, 0, piece);
        break;
      case 'abandoned':
        // Some users tap "pay" twice before leaving.
        if (rng.chance(0.2)) piece.push(this.client('pay_ui_open', tUi + rng.between(2_000, 30_000), order, undefined, 'pay_ui_opened'));
        this.session(scenario, order.orderId, 0, piece);
        break;
      case 'client_crash_split': {
        this.session(scenario, order.orderId, 0, piece);
        // The app crashed on the pay screen; the user comes back well after the gap and pays.
        const tReopen = tUi + rng.between(18 * 60_000, 90 * 60_000);
        const second: Placed[] = [this.client('pay_ui_open', tReopen, order, undefined, 'pay_ui_opened')];
        this.payment(second, tReopen, order, { callback: true, deliveries: rng.chance(0.8) ? 1 : 0 });
        this.session(scenario, order.orderId, 1, second, 0);
        break;
      }
    }
  }

  /** From the pay screen on: the user pays in the channel app, uploads the receipt, billing verifies. */
  private payment(
    piece: Placed[],
    tUi: number,
    order: Order,
    how: { rejected?: boolean; callback: boolean; deliveries: number },
  ): void {
    const rng = this.rng;
    const transId = `T${String(++this.counters.trans).padStart(12, '0')}${rng.int(10, 99)}`;
    const tPay = tUi + rng.between(10_000, 120_000);
    const tReceipt = tPay + rng.between(500, 10_000);
    const tVerify = tReceipt + rng.between(100, 3_000);
    piece.push(this.client('receipt_upload', tReceipt, order, transId, 'receipt_uploaded'));
    if (how.callback) {
      const status = how.rejected ? 'FAILED' : 'SUCCESS';
      piece.push(this.channel(tPay + rng.between(200, 30_000), transId, status, order.amount, 'channel_callback'));
    }
    piece.push(this.billing(how.rejected ? 'verify_fail' : 'verify_ok', tVerify, order, transId,
      how.rejected ? 'receipt_rejected' : 'payment_completed'));
    // The client polls the order status meanwhile: billing logs it with the order id, but it is no step.
    for (let n = rng.int(0, 2), t = tReceipt; n > 0; n--) {
      t += rng.between(300, 4_000);
      this.truth.noise++;
      const value = this.billingValue('query_order', t, order);
      value.status = t < tVerify ? 'PAYING' : how.rejected ? 'FAILED' : 'PAID';
      this.emit('billing', value, t);
    }
    let tDeliver = tVerify + rng.between(50, 5_000);
    for (let i = 0; i < how.deliveries; i++) {
      piece.push(this.game('deliver_item', tDeliver, order, 'delivered'));
      tDeliver += rng.between(1_000, 300_000);
    }
  }

  /** Records the truth of one session piece from the records placed in it. */
  private session(scenario: Scenario, key: string, piece: number, records: Placed[], splitOfPiece?: number): void {
    const steps = emptyCounts();
    const first = new Map<PaymentStep, Placed>();
    for (const r of records) {
      steps[r.step]++;
      const seen = first.get(r.step);
      if (!seen || r.eventTime < seen.eventTime) first.set(r.step, r);
    }
    const { verdict, severity } = paymentVerdict(steps);
    const v = (step: PaymentStep, name: string): unknown => first.get(step)?.value[name];
    const pick = (name: string, ...order: PaymentStep[]): unknown => {
      for (const step of order) if (first.has(step)) return v(step, name);
      return undefined;
    };
    const fields: TruthFields = { delivered_count: steps.delivered };
    const transId = pick('trans_id', 'receipt_uploaded', 'payment_completed', 'receipt_rejected');
    if (typeof transId === 'string') fields.trans_id = transId;
    const amount = pick('amount', 'order_placed', 'payment_completed', 'receipt_rejected');
    if (typeof amount === 'number') fields.amount = amount;
    const productId = pick('product_id', 'order_placed', 'payment_completed', 'receipt_rejected');
    if (typeof productId === 'string') fields.product_id = productId;
    const userId = pick('user_id', 'order_placed', 'payment_completed', 'receipt_rejected');
    if (typeof userId === 'string') fields.user_id = userId;
    const paid = first.get('payment_completed');
    const placed = first.get('order_placed');
    if (paid && placed) fields.pay_ms = paid.eventTime - placed.eventTime;
    const status = v('channel_callback', 'status');
    if (typeof status === 'string') fields.channel_status = status;
    const device = v('pay_ui_opened', 'device') as { os?: string } | undefined;
    if (device?.os !== undefined) fields.platform = device.os;
    const truth: TruthSession = {
      key, piece, scenario, recordIds: records.map((r) => r.id), steps, verdict, severity, fields,
    };
    if (splitOfPiece !== undefined) truth.splitOfPiece = splitOfPiece;
    this.truth.sessions.push(truth);
  }

  // ---- background: noise, orphan callbacks, malformed lines -----------------------------------

  private background(from: number, to: number): void {
    const rng = this.rng;
    const at = (): number => rng.between(from, to);
    for (let n = rng.poisson(this.opts.noisePerSession); n > 0; n--) this.noise(at());
    for (let n = rng.poisson(this.opts.orphanPerSession); n > 0; n--) {
      const trans = `T${String(++this.counters.trans).padStart(12, '0')}${rng.int(10, 99)}`;
      const placed = this.channel(at(), trans, rng.chance(0.8) ? 'SUCCESS' : 'FAILED', rng.pick(PRODUCTS).amount);
      this.truth.orphans.push(placed.id);
    }
    for (let n = rng.poisson(this.opts.malformedPerSession); n > 0; n--) this.malformed(at());
  }

  private noise(t: number): void {
    const rng = this.rng;
    this.truth.noise++;
    const kind = rng.weighted({ heartbeat: 0.4, page_view: 0.4, login: 0.2 });
    if (kind === 'heartbeat') {
      const id = this.logId();
      this.emit('billing', {
        ts: Math.round(t), log_id: id, action: 'heartbeat', host: `billing-${rng.int(1, 6)}`, qps: rng.int(50, 900),
      }, t);
    } else if (kind === 'page_view') {
      const device = this.device();
      const id = this.eventId();
      const value: Record<string, unknown> = {
        '@timestamp': new Date(Math.round(t + device.skew)).toISOString(),
        event_id: id,
        event: 'page_view',
        page: rng.pick(PAGES),
      };
      // Some page views name a live order: they still match no step.
      const recent = this.recentOrders;
      if (recent.length > 0 && rng.chance(0.3)) value.order = { id: rng.pick(recent) };
      value.device = deviceDoc(device);
      this.emit('client', value, t);
    } else {
      const seq = this.gameSeq();
      this.emit('game', {
        time: String(Math.round(t)), seq, op: 'login', user_id: `u${rng.int(1_000_000, 9_999_999)}`, server: `gs-${rng.int(1, 40)}`,
      }, t);
    }
  }

  /** A line that is not JSON, or a record whose time field is missing or unparsable; ids are fresh. */
  private malformed(t: number): void {
    const rng = this.rng;
    this.truth.malformed++;
    const order: Order = {
      orderId: `o${100_000_000 + (this.counters.order += rng.int(1, 9))}`,
      userId: `u${rng.int(1_000_000, 9_999_999)}`,
      productId: 'gems_300',
      amount: 4.99,
      item: 'gem_pack_m',
      device: this.device(),
    };
    const source = rng.pick<Source>(['billing', 'client', 'channel', 'game']);
    const timeField = { billing: 'ts', client: '@timestamp', channel: 'notify_time', game: 'time' }[source];
    let value: Record<string, unknown>;
    if (source === 'billing') value = this.billingValue('create_order', t, order);
    else if (source === 'client') value = this.clientValue('pay_ui_open', t, order);
    else if (source === 'channel') value = this.channelValue(t, `T${String(++this.counters.trans).padStart(12, '0')}00`, 'SUCCESS', 4.99);
    else value = this.gameValue('deliver_item', t, order);
    const kind = rng.weighted({ truncated: 0.4, missing: 0.3, unparsable: 0.3 });
    const at = Math.round(t + this.delay(source));
    let line: string;
    if (kind === 'truncated') {
      // A torn write: any strict prefix of a JSON object is not JSON.
      const whole = envelope(source, JSON.stringify(value), at);
      line = whole.slice(0, rng.int(5, whole.length - 2));
    } else {
      if (kind === 'missing') delete value[timeField];
      else value[timeField] = rng.pick(BAD_TIMES);
      line = envelope(source, JSON.stringify(value), at);
    }
    this.heap.push({ at, seq: this.seq++, line, malformed: true });
  }

  // ---- records ------------------------------------------------------------------------------

  private billing(action: string, t: number, order: Order, transId: string | undefined, step: PaymentStep): Placed {
    const value = this.billingValue(action, t, order, transId);
    this.emit('billing', value, t);
    return { step, id: value.log_id as string, eventTime: value.ts as number, value };
  }

  private billingValue(action: string, t: number, order: Order, transId?: string): Record<string, unknown> {
    const value: Record<string, unknown> = {
      ts: Math.round(t),
      log_id: this.logId(),
      action,
      order_id: order.orderId,
      user_id: order.userId,
      product_id: order.productId,
      amount: order.amount,
    };
    if (transId !== undefined) value.trans_id = transId;
    if (action === 'verify_ok' || action === 'verify_fail') value.verify_ms = this.rng.int(40, 900);
    return value;
  }

  private client(event: string, t: number, order: Order, transId: string | undefined, step: PaymentStep): Placed {
    const value = this.clientValue(event, t, order, transId);
    this.emit('client', value, t);
    return { step, id: value.event_id as string, eventTime: Date.parse(value['@timestamp'] as string), value };
  }

  private clientValue(event: string, t: number, order: Order, transId?: string): Record<string, unknown> {
    const value: Record<string, unknown> = {
      '@timestamp': new Date(Math.round(t + order.device.skew)).toISOString(),
      event_id: this.eventId(),
      event,
      order: { id: order.orderId, product: order.productId },
    };
    if (transId !== undefined) value.trans_id = transId;
    value.user = { id: order.userId };
    value.device = deviceDoc(order.device);
    return value;
  }

  private channel(t: number, transId: string, status: string, amount: number, step: PaymentStep = 'channel_callback'): Placed {
    const value = this.channelValue(t, transId, status, amount);
    this.emit('channel', value, t);
    return { step, id: value.notify_id as string, eventTime: Math.round((value.notify_time as number) * 1000), value };
  }

  private channelValue(t: number, transId: string, status: string, amount: number): Record<string, unknown> {
    const rng = this.rng;
    // Half the channels write whole seconds, the others milliseconds as a fraction.
    const notifyTime = rng.chance(0.5) ? Math.floor(t / 1000) : Math.round(t) / 1000;
    return {
      notify_time: notifyTime,
      notify_id: `N${String(++this.counters.notify).padStart(14, '0')}`,
      trans_no: transId,
      status,
      amount_cents: Math.round(amount * 100),
      currency: 'USD',
      channel: rng.pick(CHANNELS),
    };
  }

  private game(op: string, t: number, order: Order, step: PaymentStep): Placed {
    const value = this.gameValue(op, t, order);
    const id = String(value.seq);
    this.emit('game', value, t);
    return { step, id, eventTime: Number(value.time), value };
  }

  private gameValue(op: string, t: number, order: Order): Record<string, unknown> {
    return {
      time: String(Math.round(t)),
      seq: this.gameSeq(),
      op,
      order: order.orderId,
      item: order.item,
      user_id: order.userId,
      server: `gs-${this.rng.int(1, 40)}`,
    };
  }

  /** Queues a record for arrival: normally inside its source's disorder, sometimes late, sometimes twice. */
  private emit(source: Source, value: Record<string, unknown>, t: number): void {
    const rng = this.rng;
    let delay: number;
    if (rng.chance(this.opts.lateShare)) {
      this.truth.lateRecords++;
      delay = rng.between(Math.max(3 * DISORDER[source], 5 * 60_000), LATE_MAX_MS);
    } else {
      delay = this.delay(source);
    }
    const at = Math.round(t + delay);
    const json = JSON.stringify(value);
    this.heap.push({ at, seq: this.seq++, line: envelope(source, json, at), malformed: false });
    if (rng.chance(this.opts.redeliveryShare)) {
      this.truth.redeliveries++;
      const again = at + Math.round(rng.chance(0.7) ? rng.between(200, 20_000) : rng.between(20_000, 30 * 60_000));
      this.heap.push({ at: again, seq: this.seq++, line: envelope(source, json, again), malformed: false });
    }
  }

  /** A normal delivery delay: stays within the source's disorder, clock skews included. */
  private delay(source: Source): number {
    const rng = this.rng;
    switch (source) {
      case 'billing': return rng.between(0, 3_000);
      case 'client': return rng.chance(0.8) ? rng.between(0, 5_000) : rng.between(5_000, 60_000);
      case 'channel': return rng.between(0, 40_000);
      case 'game': return rng.between(0, 6_000);
    }
  }

  private device(): Device {
    const rng = this.rng;
    const os = rng.chance(0.45) ? 'ios' : 'android';
    return {
      id: `d-${rng.hex(12)}`,
      os,
      model: rng.pick(os === 'ios' ? IOS_MODELS : ANDROID_MODELS),
      app_version: rng.pick(APP_VERSIONS),
      skew: Math.round(rng.between(-MAX_SKEW_MS, MAX_SKEW_MS)),
    };
  }

  private logId(): string {
    return `b-${(++this.counters.log).toString(16).padStart(8, '0')}`;
  }

  /** A UUID-shaped id whose first group is a counter, so ids never collide. */
  private eventId(): string {
    const rng = this.rng;
    return `${(++this.counters.event).toString(16).padStart(8, '0')}-${rng.hex(4)}-4${rng.hex(3)}-${rng.pick(['8', '9', 'a', 'b'])}${rng.hex(3)}-${rng.hex(12)}`;
  }

  private gameSeq(): number {
    return 7_000_000_000 + ++this.counters.game;
  }
}

function deviceDoc(d: Device): Record<string, unknown> {
  return { id: d.id, os: d.os, model: d.model, app_version: d.app_version };
}

function envelope(source: string, valueJson: string, at: number): string {
  return `{"source":"${source}","value":${valueJson},"at":${at}}`;
}

/** Streams a payment workload: iterate `lines` once; `truth` is complete after the last line. */
export function streamPayment(options: PaymentOptions): { lines: Generator<string, void, undefined>; truth: PaymentTruth } {
  const workload = new PaymentWorkload(options);
  return { lines: workload.lines(), truth: workload.truth };
}

/** Generates a whole payment workload in memory (tests, small runs). */
export function generatePayment(options: PaymentOptions): { lines: string[]; truth: PaymentTruth } {
  const { lines, truth } = streamPayment(options);
  return { lines: [...lines], truth };
}
