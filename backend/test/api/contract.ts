import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.js';
import type { SessionDoc } from '../../src/engine/types.js';
import { openStore, type Store, type TemplateRecord } from '../../src/store/index.js';
import { parseTemplate, type CompiledTemplate } from '../../src/template/index.js';
import { rootSpanIdOf, traceIdOf } from '../../src/trace/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const weft = join(root, 'backend/bin/weft.js');
const PAYMENT = readFileSync(join(root, 'templates/payment.yaml'), 'utf8');
const TOKEN = 's3cret';
const auth = { authorization: `Bearer ${TOKEN}` };

// Official OTLP protobuf definitions (protobufjs classes generated from opentelemetry-proto).
const require = createRequire(import.meta.url);
const proto = require('otlp-proto-root/build/src/generated/root.js');
const protobuf = require('protobufjs/minimal.js');
const TracesData = proto.opentelemetry.proto.trace.v1.TracesData;

/** Tempo's TraceByIDResponse { Trace trace = 1 }: reads field 1 and decodes it as TracesData (wire-identical to tempopb.Trace). */
export function decodeTraceByIdResponse(body: Buffer): any {
  const reader = protobuf.Reader.create(body);
  let trace: any;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) trace = TracesData.decode(reader.bytes());
    else reader.skipType(tag & 7);
  }
  return trace;
}

export const spansOfTracesData = (t: any): any[] => t.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans));

/** Generates a payment workload and stores it with the built CLI: `weft generate`, then `weft replay --store`. */
export function fillWithReplay(storeUrl: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'weft-api-'));
  try {
    const input = join(dir, 'events.ndjson');
    const gen = spawnSync(process.execPath, [weft, 'generate', '--scenario', 'payment', '--sessions', '300', '--seed', '11', '--out', input], { cwd: root, encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    const rep = spawnSync(process.execPath, [weft, 'replay', '--template', 'templates/payment.yaml', '--input', input, '--store', storeUrl, '--quiet', '--show-errors', '0'], { cwd: root, encoding: 'utf8' });
    expect(rep.status, rep.stderr).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The API contract, against a store `weft replay` filled. */
export function apiContract(open: () => Promise<{ url: string; cleanup: () => Promise<void> }>): void {
  let store: Store;
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  const saved: { record: TemplateRecord; compiled: CompiledTemplate }[] = [];
  let live: SessionDoc[] = [];

  const get = async (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers: { ...auth, ...headers } });
  const ok = async (url: string) => {
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const bad = async (url: string, pattern: RegExp, status = 400) => {
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().message).toMatch(pattern);
  };

  beforeAll(async () => {
    const target = await open();
    cleanup = target.cleanup;
    fillWithReplay(target.url);
    store = await openStore(target.url, { log: () => undefined });
    // The template as `weft serve --template` gives it (merges re-evaluate with it; traces use its tree).
    app = await buildServer({ store, token: TOKEN, templates: [parseTemplate(PAYMENT, 'payment.yaml')], hooks: { templateSaved: (record, compiled) => void saved.push({ record, compiled }) } });
    const all: SessionDoc[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.search({ limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const s of page.sessions) all.push((await store.getSession(s.id))!);
      cursor = page.cursor;
    } while (cursor);
    live = all;
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await cleanup?.();
  });

  describe('auth and health', () => {
    it('serves health without a token and refuses the API without the right one', async () => {
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      expect((await app.inject('/readyz')).json()).toMatchObject({ ready: true });
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }]) {
        for (const url of ['/api/sessions', '/api/search', '/api/v2/traces/0123', '/api/openapi.json']) {
          const res = await app.inject({ url, headers });
          expect(res.statusCode).toBe(401);
        }
      }
    });

    it('documents every route it serves in its OpenAPI document', async () => {
      const doc = await ok('/api/openapi.json');
      const routes = app.printRoutes({ commonPrefix: false });
      for (const path of Object.keys(doc.paths)) {
        const fastifyPath = path.replace(/\{(\w+)\}/g, ':$1');
        const last = fastifyPath.split('/').filter(Boolean).pop()!;
        expect(routes, path).toContain(last);
      }
      expect(doc.paths['/api/v2/traces/{traceId}']).toBeDefined();
    });
  });

  describe('sessions', () => {
    it('the store holds what replay made', () => {
      expect(live.length).toBeGreaterThan(200);
      expect(new Set(live.map((s) => s.verdict)).size).toBeGreaterThan(1);
    });

    it('pages through every session with keyset cursors, newest first', async () => {
      const seen: string[] = [];
      let url = '/api/sessions?limit=37';
      for (;;) {
        const page = await ok(url);
        seen.push(...page.sessions.map((s: { id: string }) => s.id));
        if (!page.cursor) break;
        url = `/api/sessions?limit=37&cursor=${encodeURIComponent(page.cursor)}`;
      }
      expect(seen).toHaveLength(live.length);
      expect(new Set(seen)).toEqual(new Set(live.map((s) => s.id)));
    });

    it('filters by verdict, fields (equality, range) and TraceQL', async () => {
      const critical = live.filter((s) => s.severity === 'critical');
      const verdict = critical[0]!.verdict!;
      const byVerdict = await ok(`/api/sessions?verdict=${verdict}&limit=1000`);
      expect(byVerdict.sessions.map((s: { id: string }) => s.id).sort()).toEqual(live.filter((s) => s.verdict === verdict).map((s) => s.id).sort());
      const rich = live.filter((s) => typeof s.fields.amount === 'number' && (s.fields.amount as number) > 50);
      const byRange = await ok('/api/sessions?f.amount.gt=50&limit=1000');
      expect(byRange.sessions.map((s: { id: string }) => s.id).sort()).toEqual(rich.map((s) => s.id).sort());
      const one = live.find((s) => typeof s.fields.trans_id === 'string')!;
      const byField = await ok(`/api/sessions?f.trans_id=${encodeURIComponent(String(one.fields.trans_id))}`);
      expect(byField.sessions.map((s: { id: string }) => s.id)).toContain(one.id);
      const q = `{ .verdict = "${verdict}" && .amount > 50 }`;
      const byQ = await ok(`/api/sessions?limit=1000&q=${encodeURIComponent(q)}`);
      expect(byQ.sessions.map((s: { id: string }) => s.id).sort()).toEqual(rich.filter((s) => s.verdict === verdict).map((s) => s.id).sort());
    });

    it('answers bad input with 400s that name the problem', async () => {
      await bad('/api/sessions?limit=0', /limit/);
      await bad('/api/sessions?limit=abc', /limit/);
      await bad('/api/sessions?cursor=not-a-cursor', /cursor/);
      await bad('/api/sessions?severity=fatal', /severity/);
      await bad('/api/sessions?from=yesterday', /from.*not a time/);
      await bad('/api/sessions?colour=red', /unknown parameter.*colour/);
      await bad(`/api/sessions?q=${encodeURIComponent('{ .verdict = ')}`, /TraceQL/);
      await bad(`/api/sessions?q=${encodeURIComponent('{ .a = 1 } && { .b = 2 }')}`, /TraceQL: only one spanset/);
      await bad(`/api/sessions?q=${encodeURIComponent('{ .a !~ "x|y" }')}`, /TraceQL: !~ supports only prefix patterns/);
      await bad('/api/sessions?minDuration=5parsecs', /query\.minDuration: not a duration/);
      await bad('/api/sessions?minDuration=2s&maxDuration=1s', /query\.maxDuration: is less than minDuration/);
      await bad(`/api/sessions/${'x'.repeat(200)}`, /path\.id/);
      await bad('/api/sessions/ffffffffffffffff', /not found/, 404);
      await bad('/api/stats?from=0', /query\.to: missing \(required\)/);
      await bad('/api/stats?to=0', /query\.from: missing \(required\)/);
      await bad('/api/sessions?f.amount.between=1', /f\.amount\.between: "between" is not an operator.*gt, gte, lt, lte, prefix/);
      await bad('/api/fields/amount/values?limit=-1', /limit/);
      await bad('/api/sessions?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', /query\.to: is before from/);
      await bad('/api/orphans?from=2000&to=1000', /query\.to: is before from/);
      await bad('/api/stats?from=2000&to=1000', /query\.to: is before from/);
    });

    it('shows one session with its history, links and trace id; its trace has a span per record', async () => {
      const s = live.find((x) => x.events.length >= 3)!;
      const detail = await ok(`/api/sessions/${s.id}`);
      expect(detail).toMatchObject({ id: s.id, verdict: s.verdict, explain: s.explain, fields: s.fields, traceId: traceIdOf(s.id) });
      expect(detail.events).toEqual(s.events.map((e) => ({ step: e.step, source: e.source, time: e.time, value: e.value })));
      expect(detail.history.at(-1)).toMatchObject({ version: s.version, verdict: s.verdict });
      expect(detail.links).toEqual({ splitOf: s.splitOf, mergedInto: null, operatorMerged: [] });
      const trace = await ok(`/api/sessions/${s.id}/trace`);
      const spans = trace.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((ss: any) => ss.spans));
      expect(spans).toHaveLength(s.events.length + 1);
      for (const span of spans) expect(span.traceId).toBe(traceIdOf(s.id));
    });

    it('serves orphans, stats and field values', async () => {
      const orphans = await ok('/api/orphans?limit=5');
      expect(Array.isArray(orphans.orphans)).toBe(true);
      const from = Math.min(...live.map((s) => s.start));
      const to = Math.max(...live.map((s) => s.start)) + 1;
      const stats = await ok(`/api/stats?from=${from}&to=${new Date(to).toISOString()}&bucket=1d`);
      expect(stats.rows.reduce((n: number, r: { count: number }) => n + r.count, 0)).toBe(live.length);
      const values = await ok('/api/fields/user_id/values?limit=3');
      expect(values.values.length).toBeGreaterThan(0);
      const [top] = values.values;
      expect(top.count).toBe(live.filter((s) => s.fields.user_id === top.value).length);
    });

    it('merges on an operator decision (fields, verdict, rollups follow) and unmerges', async () => {
      const [a, b] = live.filter((s) => s.template === 'payment' && s.events.some((e) => e.step === 'order_placed')).slice(-2) as [SessionDoc, SessionDoc];
      const countAt = async () => (await ok(`/api/stats?from=0&to=${Date.now() + 86_400_000}&bucket=1d`)).rows.reduce((n: number, r: { count: number }) => n + r.count, 0);
      const before = await countAt();
      const res = await app.inject({ method: 'POST', url: `/api/sessions/${a.id}/merge`, headers: auth, payload: { with: b.id } });
      expect(res.statusCode, res.body).toBe(200);
      const merged = await ok(`/api/sessions/${a.id}`);
      expect(merged.events).toHaveLength(a.events.length + b.events.length);
      expect(merged.version).toBe(a.version + 1);
      expect(merged.links.operatorMerged.map((m: { id: string }) => m.id)).toEqual([b.id]);
      expect(merged.fields.delivered_count).toBe(a.events.concat(b.events).filter((e) => e.step === 'delivered').length);
      const gone = await ok(`/api/sessions/${b.id}`);
      expect(gone).toMatchObject({ status: 'merged', mergedInto: a.id, events: [] });
      expect(await countAt()).toBe(before - 1);
      const again = await app.inject({ method: 'POST', url: `/api/sessions/${a.id}/merge`, headers: auth, payload: { with: b.id } });
      expect(again.statusCode).toBe(409);
      const badBody = await app.inject({ method: 'POST', url: `/api/sessions/${a.id}/merge`, headers: auth, payload: { other: b.id } });
      expect(badBody.statusCode).toBe(400);
      expect(badBody.json().message).toMatch(/body\.with/);

      const un = await app.inject({ method: 'POST', url: `/api/sessions/${a.id}/unmerge`, headers: auth });
      expect(un.statusCode, un.body).toBe(200);
      const restoredA = await ok(`/api/sessions/${a.id}`);
      const restoredB = await ok(`/api/sessions/${b.id}`);
      expect(restoredA.events).toEqual(a.events);
      expect(restoredA.fields).toEqual(a.fields);
      expect(restoredA.verdict).toBe(a.verdict);
      expect(restoredB).toMatchObject({ status: b.status, mergedInto: null, verdict: b.verdict, events: b.events });
      expect(restoredB.history.map((v: { version: number }) => v.version)).toEqual([b.version, b.version + 1, b.version + 2]);
      expect(await countAt()).toBe(before);
      expect((await app.inject({ method: 'POST', url: `/api/sessions/${a.id}/unmerge`, headers: auth })).statusCode).toBe(409);
    });
  });

  describe('templates', () => {
    it('refuses a bad template with its issues and changes nothing; stores a good one and calls the hook', async () => {
      const broken = PAYMENT.replace("gap: 15m", "gap: 15 minutes");
      const res = await app.inject({ method: 'PUT', url: '/api/templates/payment', headers: { ...auth, 'content-type': 'application/yaml' }, payload: broken });
      expect(res.statusCode).toBe(400);
      expect(res.json().issues[0]).toMatchObject({ path: 'session.gap', line: expect.any(Number) });
      expect((await get('/api/templates/payment')).statusCode).toBe(404);
      const good = await app.inject({ method: 'PUT', url: '/api/templates/payment', headers: { ...auth, 'content-type': 'application/yaml' }, payload: PAYMENT });
      expect(good.statusCode, good.body).toBe(200);
      expect(saved.map((s) => [s.record.id, s.compiled.id])).toEqual([['payment', 'payment']]);
      expect((await ok('/api/templates')).templates.map((t: { id: string }) => t.id)).toEqual(['payment']);
      expect((await ok('/api/templates/payment')).text).toBe(PAYMENT);
      const wrongId = await app.inject({ method: 'PUT', url: '/api/templates/other', headers: { ...auth, 'content-type': 'application/yaml' }, payload: PAYMENT });
      expect(wrongId.statusCode).toBe(400);
      expect(wrongId.json().message).toMatch(/"payment".*"other"/);
    });

    it('validates and previews on sample records', async () => {
      const valid = await app.inject({ method: 'POST', url: '/api/templates/validate', headers: auth, payload: { text: PAYMENT } });
      expect(valid.json()).toMatchObject({ valid: true, id: 'payment' });
      const invalid = await app.inject({ method: 'POST', url: '/api/templates/validate', headers: auth, payload: { text: 'id: x\nsteps: 3' } });
      expect(invalid.json().valid).toBe(false);
      expect(invalid.json().issues.length).toBeGreaterThan(0);
      const empty = await app.inject({ method: 'POST', url: '/api/templates/validate', headers: auth, payload: {} });
      expect(empty.statusCode).toBe(400);
      expect(empty.json().message).toMatch(/body: .*YAML or JSON text.*\{"text"/);
      const t = 1_790_000_000_000;
      const records = [
        { source: 'billing', value: { ts: t, log_id: 'l1', action: 'create_order', order_id: 'A1', amount: 9, user_id: 'u', product_id: 'p' } },
        { source: 'billing', value: { ts: t + 1000, log_id: 'l2', action: 'verify_ok', order_id: 'A1', trans_id: 'T1', amount: 9 } },
        { source: 'nowhere', value: {} },
      ];
      const preview = await app.inject({ method: 'POST', url: '/api/templates/preview', headers: auth, payload: { template: PAYMENT, records } });
      expect(preview.statusCode, preview.body).toBe(200);
      const body = preview.json();
      expect(body.sessions).toHaveLength(1);
      expect(body.sessions[0]).toMatchObject({ key: 'A1', fields: { amount: 9, trans_id: 'T1' } });
      expect(body.errors).toEqual([{ record: 3, reason: expect.stringMatching(/unknown source/) }]);
      expect(body.tree.find((n: { step: string }) => n.step === 'delivered').parent).toBe('payment_completed');
    });
  });

  describe('Tempo-compatible API (request shapes of Grafana\'s Tempo datasource)', () => {
    const grafana = { 'user-agent': 'Grafana/12.1.0', 'x-grafana-org-id': '1' };

    it('answers echo and build info', async () => {
      const echo = await get('/api/echo', grafana);
      expect(echo.body).toBe('echo');
      expect((await ok('/api/status/buildinfo')).version).toMatch(/^2\.\d+\.\d+/);
    });

    it('opens a session by trace id: v2 and v1, protobuf (decoded with the OTLP definitions) and JSON', async () => {
      const s = live.find((x) => x.severity === 'critical') ?? live[0]!;
      const traceId = traceIdOf(s.id);
      const range = `start=${Math.floor(s.start / 1000) - 3600}&end=${Math.floor(s.end / 1000) + 3600}`;
      const v2 = await get(`/api/v2/traces/${traceId}?${range}`, { ...grafana, accept: 'application/protobuf' });
      expect(v2.statusCode).toBe(200);
      expect(v2.headers['content-type']).toMatch(/application\/protobuf/);
      const trace = decodeTraceByIdResponse(v2.rawPayload);
      const spans = spansOfTracesData(trace);
      expect(spans).toHaveLength(s.events.length + 1);
      for (const span of spans) expect(Buffer.from(span.traceId).toString('hex')).toBe(traceId);
      const root = spans.find((x: any) => !x.parentSpanId || x.parentSpanId.length === 0);
      expect(spans.filter((x: any) => x.parentSpanId?.length > 0)).toHaveLength(s.events.length);
      expect(root.status.code).toBe(s.severity === 'critical' ? 2 : s.severity === 'ok' ? 1 : 0);
      const v1 = await get(`/api/traces/${traceId}`, { accept: 'application/protobuf' });
      expect(spansOfTracesData(TracesData.decode(v1.rawPayload))).toHaveLength(s.events.length + 1);
      const v2json = await ok(`/api/v2/traces/${traceId}`);
      expect(v2json.trace.resourceSpans.length).toBeGreaterThan(0);
      const v1json = await ok(`/api/traces/${traceId.toUpperCase()}`);
      expect(v1json.batches).toEqual(v2json.trace.resourceSpans);
      await bad('/api/v2/traces/not-hex', /trace id/);
      await bad(`/api/v2/traces/${'0'.repeat(31)}1`, /not found/, 404);
    });

    it('searches with TraceQL like Grafana does, and refuses what it does not support', async () => {
      const verdict = live.find((x) => x.severity === 'critical')!.verdict!;
      const now = Math.floor(Date.now() / 1000);
      const q = encodeURIComponent(`{resource.service.name="payment" && span.verdict="${verdict}"}`);
      const res = await ok(`/api/search?q=${q}&limit=20&spss=3&start=0&end=${now + 86400 * 3650}`);
      const expected = live.filter((s) => s.verdict === verdict);
      expect(res.traces).toHaveLength(Math.min(20, expected.length));
      for (const t of res.traces) {
        const s = expected.find((x) => traceIdOf(x.id) === t.traceID)!;
        expect(s).toBeDefined();
        expect(t).toMatchObject({ rootServiceName: 'payment', durationMs: s.end - s.start, startTimeUnixNano: String(BigInt(s.start) * 1_000_000n) });
        expect(t.spanSets[0].spans[0].attributes).toContainEqual({ key: 'verdict', value: { stringValue: verdict } });
      }
      const errors = await ok(`/api/search?q=${encodeURIComponent('{ status = error }')}&limit=1000`);
      expect(errors.traces).toHaveLength(live.filter((s) => s.severity === 'critical').length);
      await bad(`/api/search?q=${encodeURIComponent('{ .verdict = "x" } | count() > 2')}`, /TraceQL/);
      await bad(`/api/search?q=${encodeURIComponent('{ duration > 5parsecs }')}`, /TraceQL: "5parsecs" at 14 is not a duration/);
      // TraceQL binds && tighter than ||: `a && b || c` is `(a && b) || c`, which is not "a and any of b, c".
      await bad(`/api/search?q=${encodeURIComponent(`{ .verdict = "${verdict}" && .platform = "ios" || .platform = "android" }`)}`, /TraceQL: .*parenthes/);
      await bad(`/api/search?q=${encodeURIComponent(`{ .platform = "ios" || .platform = "android" && .verdict = "${verdict}" }`)}`, /TraceQL: .*parenthes/);
      const grouped = await ok(`/api/search?q=${encodeURIComponent(`{ .verdict = "${verdict}" && (.platform = "ios" || .platform = "android") }`)}&limit=1000`);
      expect(grouped.traces).toHaveLength(live.filter((s) => s.verdict === verdict && ['ios', 'android'].includes(String(s.fields.platform))).length);
      await bad('/api/search?tags=service.name%3Dpayment', /not supported/);
    });

    it('searches with !=, !~ and durations (TraceQL, and the minDuration / maxDuration of Grafana\'s search form)', async () => {
      const traceIds = async (url: string): Promise<string[]> => {
        const res = await ok(url);
        return res.traces.map((t: { traceID: string }) => t.traceID).sort();
      };
      const search = (q: string, more = '') => traceIds(`/api/search?q=${encodeURIComponent(q)}&limit=1000${more}`);
      const expected = (holds: (s: SessionDoc) => boolean) => live.filter(holds).map((s) => traceIdOf(s.id)).sort();
      const lasts = (s: SessionDoc) => s.end - s.start;
      const durations = live.map(lasts).sort((a, b) => a - b);
      const median = durations[Math.floor(durations.length / 2)]!;
      const cases: [string, (s: SessionDoc) => boolean][] = [
        ['{ .verdict != "ok" }', (s) => s.verdict !== null && s.verdict !== 'ok'],
        ['{ resource.service.name = "payment" && span.platform != "ios" }', (s) => s.fields.platform !== undefined && s.fields.platform !== 'ios'],
        ['{ .platform !~ "and.*" && .severity != "critical" }', (s) => s.fields.platform !== undefined && !String(s.fields.platform).startsWith('and') && s.severity !== null && s.severity !== 'critical'],
        [`{ duration >= ${median}ms }`, (s) => lasts(s) >= median],
        [`{ traceDuration < ${median / 1000}s && .verdict != "ok" }`, (s) => lasts(s) < median && s.verdict !== null && s.verdict !== 'ok'],
      ];
      for (const [q, holds] of cases) {
        const want = expected(holds);
        expect(want.length, q).toBeGreaterThan(0);
        expect(want.length, q).toBeLessThan(live.length);
        expect(await search(q), q).toEqual(want);
      }
      // The search form: Go durations, whole milliseconds, inclusive; and-ed with q.
      const low = durations[Math.floor(durations.length / 4)]!;
      const high = durations[Math.floor((durations.length * 3) / 4)]!;
      expect(await traceIds(`/api/search?minDuration=${low}ms&maxDuration=${high / 1000}s&limit=1000`)).toEqual(expected((s) => lasts(s) >= low && lasts(s) <= high));
      expect(await search('{ .verdict != "ok" }', `&minDuration=${low}.9ms&maxDuration=`)).toEqual(expected((s) => s.verdict !== null && s.verdict !== 'ok' && lasts(s) >= low));
      const hit = (await ok(`/api/search?q=${encodeURIComponent(`{ duration = ${median}ms }`)}&limit=1`)).traces[0];
      expect(hit.durationMs).toBe(median);
      await bad('/api/search?minDuration=5parsecs', /minDuration: "5parsecs" is not a duration/);
      await bad('/api/search?minDuration=2s&maxDuration=1s', /maxDuration \(1s\) is less than minDuration \(2s\)/);
      // The JSON search takes the same (q, f.<field>.ne, minDuration / maxDuration).
      const ids = async (url: string) => (await ok(url)).sessions.map((s: { id: string }) => traceIdOf(s.id)).sort();
      expect(await ids(`/api/sessions?limit=1000&q=${encodeURIComponent('{ .verdict != "ok" }')}`)).toEqual(expected((s) => s.verdict !== null && s.verdict !== 'ok'));
      const notIos = expected((s) => s.fields.platform !== undefined && s.fields.platform !== 'ios');
      expect(notIos.length).toBeGreaterThan(0);
      expect(await ids('/api/sessions?limit=1000&f.platform.ne=ios')).toEqual(notIos);
      expect(await ids('/api/sessions?limit=1000&f.platform.ne=ios&f.platform.ne=android')).toEqual([]);
      expect(await ids(`/api/sessions?limit=1000&minDuration=${low}&maxDuration=${high / 1000}s`)).toEqual(expected((s) => lasts(s) >= low && lasts(s) <= high));
    });

    it('shows the fields a search names as typed attributes of the matched root span, the span set twice', async () => {
      // Fractional and whole amounts both: a double is a JSON number, an int a decimal string (OTLP/JSON).
      let checked = 0;
      for (const whole of [false, true]) {
        const s = live.find((x) => typeof x.fields.user_id === 'string' && typeof x.fields.amount === 'number' && Number.isInteger(x.fields.amount) === whole);
        if (s === undefined) continue;
        const amount = s.fields.amount as number;
        const q = encodeURIComponent(`{ .user_id = "${String(s.fields.user_id)}" && .amount = ${amount} }`);
        const res = await ok(`/api/search?q=${q}&limit=1000&spss=3`);
        const hit = res.traces.find((t: { traceID: string }) => t.traceID === traceIdOf(s.id));
        expect(hit).toBeDefined();
        expect(hit.spanSets).toEqual([hit.spanSet]);
        expect(hit.spanSet).toEqual({
          matched: 1,
          spans: [
            {
              spanID: rootSpanIdOf(s.id),
              name: 'payment',
              startTimeUnixNano: String(BigInt(s.start) * 1_000_000n),
              durationNanos: String(BigInt(s.end - s.start) * 1_000_000n),
              attributes: [
                ...(s.verdict !== null ? [{ key: 'verdict', value: { stringValue: s.verdict } }] : []),
                ...(s.severity !== null ? [{ key: 'severity', value: { stringValue: s.severity } }] : []),
                { key: 'key', value: { stringValue: s.key } },
                { key: 'user_id', value: { stringValue: s.fields.user_id } },
                { key: 'amount', value: whole ? { intValue: String(amount) } : { doubleValue: amount } },
              ],
            },
          ],
        });
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
    });

    it('lists tag names and values (v1 and v2)', async () => {
      const v2 = await ok('/api/v2/search/tags?scope=span');
      expect(v2.scopes).toHaveLength(1);
      expect(v2.scopes[0].tags).toEqual(expect.arrayContaining(['verdict', 'severity', 'amount', 'trans_id']));
      const all = await ok('/api/v2/search/tags');
      expect(all.scopes.map((s: { name: string }) => s.name)).toEqual(['resource', 'span', 'intrinsic']);
      expect((await ok('/api/search/tags')).tagNames).toEqual(expect.arrayContaining(['service.name', 'verdict', 'user_id']));
      const verdicts = await ok('/api/v2/search/tag/.verdict/values');
      expect(verdicts.tagValues).toContainEqual({ type: 'string', value: 'ok' });
      expect((await ok('/api/v2/search/tag/resource.service.name/values')).tagValues).toEqual([{ type: 'string', value: 'payment' }]);
      expect((await ok('/api/v2/search/tag/status/values')).tagValues.map((v: { value: string }) => v.value)).toEqual(['error', 'ok', 'unset']);
      const users = await ok('/api/search/tag/user_id/values?limit=5');
      expect(users.tagValues.length).toBeGreaterThan(0);
      expect(typeof users.tagValues[0]).toBe('string');
      const amounts = await ok('/api/v2/search/tag/span.amount/values?limit=5');
      expect(amounts.tagValues.every((v: { type: string }) => v.type === 'float' || v.type === 'int')).toBe(true);
      await bad('/api/v2/search/tags?scope=galaxy', /scope/);
    });
  });

  describe('limits', () => {
    it('refuses oversize bodies with 413 and keeps CORS off unless asked', async () => {
      const small = await buildServer({ store, token: TOKEN, bodyLimit: 1024 });
      const res = await small.inject({ method: 'POST', url: '/api/templates/validate', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ text: 'x'.repeat(4096) }) });
      expect(res.statusCode).toBe(413);
      expect(res.json().error).toBe('payload_too_large');
      const preflight = await small.inject({ method: 'OPTIONS', url: '/api/sessions', headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' } });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      await small.close();
      const withCors = await buildServer({ store, cors: ['http://grafana.local'] });
      const allowed = await withCors.inject({ method: 'GET', url: '/api/sessions?limit=1', headers: { origin: 'http://grafana.local' } });
      expect(allowed.headers['access-control-allow-origin']).toBe('http://grafana.local');
      // The template editor saves with PUT and removes with DELETE: the preflight must allow them.
      for (const method of ['PUT', 'DELETE']) {
        const pre = await withCors.inject({ method: 'OPTIONS', url: '/api/templates/payment', headers: { origin: 'http://grafana.local', 'access-control-request-method': method } });
        expect(pre.headers['access-control-allow-methods']).toContain(method);
      }
      await withCors.close();
    });
  });

  describe('hostile input (a 4xx that says what is wrong; the process and the store unharmed)', () => {
    const send = (method: 'POST' | 'PUT', url: string, payload: string, type = 'application/json') =>
      app.inject({ method, url, headers: { ...auth, 'content-type': type }, payload });
    const tombstones = async () => (await store.search({ status: 'merged', limit: 1000 })).sessions.map((s) => s.id).sort();

    it('answers a YAML alias bomb with a template issue, not a 500', async () => {
      const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
      const put = await send('PUT', '/api/templates/bomb', bomb, 'application/yaml');
      expect(put.statusCode, put.body).toBe(400);
      expect(put.json()).toMatchObject({ error: 'invalid_template', issues: [{ file: 'bomb.yaml', message: expect.stringMatching(/alias/i) }] });
      expect((await get('/api/templates/bomb')).statusCode).toBe(404);
      const validate = await send('POST', '/api/templates/validate', JSON.stringify({ text: bomb }));
      expect(validate.statusCode, validate.body).toBe(200);
      expect(validate.json()).toMatchObject({ valid: false, issues: [{ message: expect.stringMatching(/alias/i) }] });
    });

    it('refuses preview records nested too deep to re-encode, naming the record', async () => {
      const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const record = (value: string) => `{"source":"billing","value":${value}}`;
      const preview = (...values: string[]) => send('POST', '/api/templates/preview', `{"template":${JSON.stringify(PAYMENT)},"records":[${values.map(record).join(',')}]}`);
      const res = await preview('{"action":"create_order"}', deep(5000));
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().message).toMatch(/^body\.records\.1\.value: nested deeper than 64 levels/);
      // A record as deep as the limit is still previewed.
      expect((await preview(deep(64))).statusCode).toBe(200);
    });

    it('merges the same sessions one request at a time, and refuses to unmerge a tombstone', async () => {
      const merge = (target: SessionDoc, other: SessionDoc) => send('POST', `/api/sessions/${target.id}/merge`, JSON.stringify({ with: other.id }));
      const unmerge = (s: SessionDoc) => app.inject({ method: 'POST', url: `/api/sessions/${s.id}/unmerge`, headers: auth });
      const statuses = (responses: { statusCode: number }[]) => responses.map((r) => r.statusCode).sort();
      const five = live.filter((s) => s.template === 'payment' && s.status === 'final').slice(0, 5);
      const [a, b, c, d, e] = five as [SessionDoc, SessionDoc, SessionDoc, SessionDoc, SessionDoc];
      const now = async (s: SessionDoc) => (await store.getSession(s.id))!;
      const records = async () => (await Promise.all(five.map(now))).reduce((n, s) => n + s.events.length, 0);
      /** Every record in exactly one session; every operator merge record names a tombstone merged into its survivor. */
      const consistent = async () => {
        expect(await records()).toBe(five.reduce((n, s) => n + s.events.length, 0));
        for (const s of five) for (const m of await store.merges(s.id)) expect((await now(m.absorbed)).mergedInto, `${m.absorbed.id} absorbed by ${s.id}`).toBe(s.id);
      };
      const before = await tombstones();

      // Both directions at once: one wins, the other finds its target merged.
      expect(statuses(await Promise.all([merge(a, b), merge(b, a)]))).toEqual([200, 409]);
      // One session into two targets at once: it ends in one of them.
      expect(statuses(await Promise.all([merge(d, c), merge(e, c)]))).toEqual([200, 409]);
      await consistent();

      // x absorbed c, then y absorbed x: x's records (c's among them) live in y, so x cannot give c back.
      const [x, y] = (await now(c)).mergedInto === d.id ? [d, e] : [e, d];
      expect((await merge(y, x)).statusCode).toBe(200);
      const refused = await unmerge(x);
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.json().message).toBe(`session ${x.id} was merged into ${y.id}: unmerge ${y.id} first`);
      await consistent();

      // Undone from the outside in, everything is as it was.
      const ab = (await now(a)).status === 'merged' ? b : a;
      for (const s of [y, x, ab]) expect((await unmerge(s)).statusCode).toBe(200);
      await consistent();
      expect(await tombstones()).toEqual(before);
    });

    it('reads query parameters strictly: times in ISO-8601 only, a repeated parameter named, Tempo numbers as Tempo reads them', async () => {
      // Date.parse alone took V8's legacy forms: "1,2" was 2001-01-02, "%00" 2000-01-01.
      await bad('/api/sessions?from=1,2', /^query\.from: not a time \(epoch ms or ISO-8601\): "1,2"$/);
      await bad('/api/sessions?to=abc%201', /^query\.to: not a time/);
      await bad('/api/stats?from=%2500&to=1', /^query\.from: not a time/);
      expect((await ok('/api/sessions?from=2020-01-01&to=2100-01-01T00:00:00.000Z&limit=1000')).sessions).toHaveLength(live.length);
      // Given twice where one value is expected: zod said "Invalid input".
      await bad('/api/sessions?from=1&from=2', /^query\.from: given 2 times: give it once$/);
      await bad('/api/orphans?step=a&step=b&step=c', /^query\.step: given 3 times: give it once$/);
      await bad('/api/search?minDuration=1s&minDuration=2s', /^query\.minDuration: given 2 times: give it once$/);
      // Tempo takes an empty parameter as absent (z.coerce read end= as 0: a search ending in 1970) and only decimal digits.
      const unbounded = await ok('/api/search?limit=1000');
      expect(unbounded.traces).toHaveLength(live.length);
      expect(await ok('/api/search?start=&end=&limit=')).toEqual(await ok('/api/search'));
      expect(await ok('/api/search?start=0&end=&limit=1000')).toEqual(unbounded);
      await bad('/api/search?end=0x10', /^query\.end: expected a whole number \(decimal digits\)$/);
      await bad('/api/search?limit=1e3', /^query\.limit: expected a whole number/);
      await bad('/api/search/tags?limit=0', /^query\.limit: Too small/);
    });

    it('refuses a number beyond a double instead of comparing it as text or as Infinity', async () => {
      // As text, "4.99" > "1e400": every session with an amount matched amount > 1e400.
      await bad('/api/sessions?f.amount.gt=1e400', /^f\.amount\.gt: 1e400 is out of the range of numbers$/);
      for (const route of ['/api/sessions', '/api/search']) {
        await bad(`${route}?q=${encodeURIComponent('{ .amount = 1e400 }')}`, /^TraceQL: 1e400 at 13 is out of the range of numbers$/);
        await bad(`${route}?q=${encodeURIComponent('{ .amount > -1e400 }')}`, /^TraceQL: -1e400 at 13 is out of the range of numbers$/);
      }
    });

    it('answers a path the router refuses in the API\'s error shape', async () => {
      const badUrl = await get('/api/sessions/%FF');
      expect(badUrl.statusCode).toBe(400);
      expect(badUrl.json()).toEqual({ error: 'bad_request', message: "'/api/sessions/%FF' is not a valid url component" });
      const long = await get(`/api/sessions/${'x'.repeat(600)}`);
      expect(long.statusCode).toBe(414);
      expect(long.json()).toEqual({ error: 'uri_too_long', message: expect.stringMatching(/is exceeding the max param length$/) });
    });
  });
}
