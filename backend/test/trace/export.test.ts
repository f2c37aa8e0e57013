import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionTraceExporter, traceIdOf } from '../../src/trace/index.js';
import { Harness, live, miniTemplate, rec, sec } from '../helpers.js';

// The official OTLP protobuf definitions, as protobufjs classes generated from opentelemetry-proto.
const require = createRequire(import.meta.url);
const proto = require('otlp-proto-root/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(b: Uint8Array): any; toObject(m: any, o: object): any } } } } } };
};
const Request = proto.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

interface Received {
  readonly contentType: string;
  readonly body: Buffer;
}

const template = miniTemplate();

describe('OTLP/HTTP export of fired sessions', () => {
  let server: Server;
  let url: string;
  const received: Received[] = [];
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ contentType: String(req.headers['content-type']), body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends protobuf that the official definitions decode, and re-exports updates under the same trace id', async () => {
    const h = new Harness(template).all([rec.order('x-1', sec(0)), rec.payUi('x-1', sec(5)), rec.receipt('x-1', sec(9), 'T-x-1'), rec.verify('x-1', sec(12))]);
    const first = live(h.end())[0]!;
    const exporter = new SessionTraceExporter({ url, templates: (id) => (id === template.id ? template : undefined) });
    received.length = 0;
    await exporter.export([first]);
    const late = { ...first, version: first.version + 1, events: [...first.events, { step: 'channel_callback', source: 'channel', time: sec(20), value: { trans_no: 'T-x-1', status: 'OK' } }], verdict: 'ok', severity: 'ok' as const, explain: null };
    await exporter.export([late]);
    await exporter.shutdown();
    expect(received).toHaveLength(2);
    expect(received[0]!.contentType).toBe('application/x-protobuf');
    const decoded = received.map((r) => Request.toObject(Request.decode(r.body), { longs: String, bytes: String, enums: String }));
    const spansOf = (d: any) => d.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => ({ ...s, service: rs.resource.attributes.find((a: any) => a.key === 'service.name').value.stringValue }))));
    const [a, b] = [spansOf(decoded[0]), spansOf(decoded[1])];
    const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');
    expect(a).toHaveLength(5);
    expect(b).toHaveLength(6);
    for (const s of [...a, ...b]) expect(hex(s.traceId)).toBe(traceIdOf(first.id));
    // Records present in both fires keep their span ids.
    const ids = (spans: any[]) => new Map(spans.map((s) => [s.name, hex(s.spanId)]));
    const [ia, ib] = [ids(a), ids(b)];
    for (const [name, id] of ia) expect(ib.get(name)).toBe(id);
    const rootA = a.find((s: any) => s.parentSpanId === undefined || s.parentSpanId === '');
    expect(rootA.service).toBe('mini');
    expect(rootA.status.code).toBe('STATUS_CODE_ERROR');
    const attr = (span: any, key: string) => span.attributes.find((x: any) => x.key === key)?.value;
    expect(attr(rootA, 'verdict')).toEqual({ stringValue: 'paid_no_callback' });
    expect(rootA.events.map((e: any) => attr(e, 'step'))).toEqual([{ stringValue: 'channel_callback' }]);
    const rootB = b.find((s: any) => hex(s.spanId) === hex(rootA.spanId));
    expect(rootB.status.code).toBe('STATUS_CODE_OK');
    expect(attr(rootB, 'version')).toEqual({ intValue: String(late.version) });
    const callback = b.find((s: any) => s.name === 'channel_callback');
    expect(hex(callback.parentSpanId)).toBe(ib.get('receipt_uploaded'));
    expect(callback.service).toBe('channel');
  });

  it('sends OTLP/JSON when asked, and reports a collector failure', async () => {
    const s = live(new Harness(template).all([rec.order('x-2', sec(0))]).end())[0]!;
    received.length = 0;
    const exporter = new SessionTraceExporter({ url, encoding: 'json' });
    await exporter.export([s]);
    expect(received[0]!.contentType).toBe('application/json');
    const body = JSON.parse(received[0]!.body.toString('utf8'));
    expect(body.resourceSpans.flatMap((r: any) => r.scopeSpans[0].spans).map((x: any) => x.traceId)).toEqual([traceIdOf(s.id), traceIdOf(s.id)]);
    expect(exporter.counters).toMatchObject({ sessions: 1, spans: 2, batches: 1, failures: 0 });
    await exporter.shutdown();

    const dead = new SessionTraceExporter({ url: 'http://127.0.0.1:9/v1/traces', timeoutMs: 1000 });
    await expect(dead.export([s])).rejects.toBeTruthy();
    expect(dead.counters.failures).toBe(1);
    await dead.shutdown();
  });
});
