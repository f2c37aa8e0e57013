import { readFileSync } from 'node:fs';
import { Replay, type ReplayResult } from '../src/engine/index.js';
import type { SessionDoc, Trigger } from '../src/engine/types.js';
import { parseTemplate, type CompiledTemplate } from '../src/template/index.js';

export const MINI_YAML = readFileSync(new URL('./fixtures/mini.yaml', import.meta.url), 'utf8');
export const T0 = Date.parse('2026-11-01T10:00:00Z');
export const sec = (s: number) => T0 + s * 1000;
export const min = (m: number) => T0 + m * 60_000;

/** The mini template (DESIGN.md's example), optionally edited as a plain document first. */
export function miniTemplate(edit?: (doc: Record<string, any>) => void): CompiledTemplate {
  const doc = JSON.parse(JSON.stringify(parseTemplate(MINI_YAML, 'mini.yaml').document));
  edit?.(doc);
  return parseTemplate(JSON.stringify(doc), 'mini.yaml');
}

let seq = 0;
export const rec = {
  order: (order: string, t: number, extra: object = {}) => ['billing', { ts: t, log_id: `b${++seq}`, action: 'create_order', order_id: order, amount: 4.99, ...extra }] as const,
  verify: (order: string, t: number) => ['billing', { ts: t, log_id: `b${++seq}`, action: 'verify_ok', order_id: order }] as const,
  payUi: (order: string, t: number) => ['client', { '@timestamp': new Date(t).toISOString(), event: 'pay_ui_open', order: { id: order }, n: ++seq }] as const,
  receipt: (order: string, t: number, trans: string) => ['client', { '@timestamp': new Date(t).toISOString(), event: 'receipt_upload', order: { id: order }, trans_id: trans }] as const,
  callback: (trans: string, t: number) => ['channel', { notify_time: t / 1000, trans_no: trans, status: 'SUCCESS', n: ++seq }] as const,
};

export interface FireRecord {
  trigger: Trigger;
  session: SessionDoc;
}

/** Drives a Replay record by record and remembers every fire. */
export class Harness {
  readonly fires: FireRecord[] = [];
  readonly replay: Replay;

  constructor(templates: CompiledTemplate[] | CompiledTemplate = miniTemplate()) {
    this.replay = new Replay(Array.isArray(templates) ? templates : [templates], {
      onFire: (session, trigger) => this.fires.push({ trigger, session }),
    });
  }

  push(record: readonly [string, object], at?: number): this {
    this.replay.line(JSON.stringify({ source: record[0], value: record[1], ...(at === undefined ? {} : { at }) }));
    return this;
  }

  all(records: ReadonlyArray<readonly [string, object]>): this {
    for (const r of records) this.push(r);
    return this;
  }

  advance(now: number): this {
    this.replay.advance(now);
    return this;
  }

  /** Moves every anchor source's watermark to `t` (+ disorder) with noise records that match no step. */
  watermarkTo(t: number): this {
    this.push(['billing', { ts: t + 5_000, log_id: `hb${++seq}`, action: 'heartbeat' }]);
    this.push(['client', { '@timestamp': new Date(t + 30_000).toISOString(), event: 'page_view', n: ++seq }]);
    return this;
  }

  end(): ReplayResult {
    return this.replay.end();
  }

  firesOf(key: string): FireRecord[] {
    return this.fires.filter((f) => f.session.key === key);
  }
}

export function live(result: ReplayResult): SessionDoc[] {
  return result.sessions.filter((s) => s.status !== 'merged');
}

export function steps(session: SessionDoc): string[] {
  return session.events.map((e) => e.step);
}
