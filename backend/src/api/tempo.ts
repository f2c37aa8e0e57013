import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { DurationCondition, SessionBrief, Store } from '../store/index.js';
import { SEVERITIES } from '../template/index.js';
import { fieldAttributeName, rootSpanIdOf, traceIdOf } from '../trace/index.js';
import type { TemplateCatalog } from './catalog.js';
import { badRequest, notFound, parseInput } from './errors.js';
import { durationBounds, whole } from './params.js';
import { attributeOf, goDurationMs, parseTraceQL, traceQLToSearch, type Attribute, type TraceQLQuery } from './traceql.js';
import { storedOfTrace, type TraceResponses } from './traces.js';

/**
 * A Tempo-compatible query API, so Grafana's built-in Tempo datasource pointed at Weft opens a
 * session by trace id and finds sessions with TraceQL. It follows the Tempo HTTP API as documented
 * for Tempo 2.x (grafana/tempo docs/sources/tempo/api_docs, the 2.6–2.9 line): trace by id v1 and
 * v2, search, tag names v1/v2, tag values v1/v2, echo and build info. Sessions are the traces; the
 * root span carries what search matches (see traceql.ts for the subset).
 */
export const TEMPO_API_VERSION = '2.6.0';

const PROTOBUF = /application\/(x-)?protobuf/;

// Tempo reads its numeric parameters with Go's strconv (decimal digits only) and an empty one as
// absent: `whole` does the same.
const epochSeconds = whole(0);
const traceParams = z.object({ start: epochSeconds, end: epochSeconds }).loose();
const searchParams = z.object({
  q: z.string().max(4096).optional(),
  tags: z.string().max(4096).optional(),
  start: epochSeconds,
  end: epochSeconds,
  limit: whole(1, 1000),
  spss: whole(0),
  minDuration: z.string().optional(),
  maxDuration: z.string().optional(),
}).loose();
const tagParams = z.object({ scope: z.string().optional(), q: z.string().max(4096).optional(), limit: whole(1, 1000) }).loose();

interface Context {
  readonly store: Store;
  readonly catalog: TemplateCatalog;
  readonly traces: TraceResponses;
}

export const tempoRoutes: FastifyPluginAsync<Context> = async (app, { store, catalog, traces }) => {
  app.get('/api/echo', async (_request, reply) => reply.type('text/plain').send('echo'));
  app.get('/api/status/buildinfo', async () => ({
    version: TEMPO_API_VERSION,
    revision: 'weft',
    branch: 'weft',
    buildUser: 'weft',
    buildDate: '',
    goVersion: '',
  }));

  const traceById = (v2: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    // Grafana sends start/end; a request without parameters has nothing to validate (the common case of other clients).
    if (hasParameters(request.query)) parseInput(traceParams, request.query, 'query');
    const { traceId } = request.params as { traceId: string };
    const stored = await storedOfTrace(store, traceId);
    if (!stored) throw notFound(`trace ${traceId} not found`);
    if (PROTOBUF.test(String(request.headers.accept ?? ''))) {
      // v1: tempopb.Trace (= OTLP TracesData on the wire); v2: TraceByIDResponse { trace = 1 }.
      const body = await traces.body(stored, v2 ? 'tempo-v2' : 'protobuf');
      return reply.type('application/protobuf').send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    }
    const resourceSpans = await traces.body(stored, 'json');
    return reply
      .type('application/json; charset=utf-8')
      .send(v2 ? `{"trace":{"resourceSpans":${resourceSpans}},"status":"COMPLETE"}` : `{"batches":${resourceSpans}}`);
  };
  app.get('/api/traces/:traceId', traceById(false));
  app.get('/api/v2/traces/:traceId', traceById(true));

  app.get('/api/search', async (request, reply) => {
    const p = parseInput(searchParams, request.query, 'query');
    if (p.tags !== undefined && p.tags.trim() !== '') throw badRequest('tag-based search (tags=) is not supported: use q with TraceQL, e.g. q={ .verdict = "paid_no_callback" }');
    const filter = parseTraceQL(p.q ?? '{}');
    const query = traceQLToSearch(filter);
    const durations = [...(query.duration ?? []), ...searchFormDurations(p.minDuration, p.maxDuration)];
    const page = await store.searchBriefs({
      ...query,
      ...(durations.length > 0 ? { duration: durations } : {}),
      ...(p.start !== undefined ? { from: p.start * 1000 } : {}),
      ...(p.end !== undefined ? { to: (p.end + 1) * 1000 } : {}),
      limit: p.limit ?? 20,
    });
    const shown = shownFields(filter);
    // One text, appended hit by hit (no array of hit texts to join): each hit's span set is encoded
    // once, though Tempo's answer carries it twice (`spanSet`, deprecated, and `spanSets`).
    let body = '{"traces":[';
    const hits = page.sessions;
    for (let i = 0; i < hits.length; i++) body += (i === 0 ? '' : ',') + searchHit(hits[i]!, shown);
    body += `],"metrics":{"inspectedTraces":${hits.length},"completedJobs":1,"totalJobs":1}}`;
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.get('/api/search/tags', async (request) => {
    const p = parseInput(tagParams, request.query, 'query');
    const scopes = await tagScopes(catalog, p.scope);
    return { tagNames: [...new Set(scopes.flatMap((s) => (s.name === 'intrinsic' ? [] : s.tags)))].sort() };
  });
  app.get('/api/v2/search/tags', async (request) => {
    const p = parseInput(tagParams, request.query, 'query');
    return { scopes: await tagScopes(catalog, p.scope) };
  });

  app.get('/api/search/tag/:tag/values', async (request) => {
    const p = parseInput(tagParams, request.query, 'query');
    const { tag } = request.params as { tag: string };
    const values = await tagValues(store, catalog, tagAttribute(tag, false), p.limit ?? 100);
    return { tagValues: values.map((v) => v.value) };
  });
  app.get('/api/v2/search/tag/:tag/values', async (request) => {
    const p = parseInput(tagParams, request.query, 'query');
    const { tag } = request.params as { tag: string };
    return { tagValues: await tagValues(store, catalog, tagAttribute(tag, true), p.limit ?? 100) };
  });
};

/**
 * Tempo's search-form bounds (`minDuration`, `maxDuration`: Go durations such as `100ms`, `1.5s`),
 * read as Tempo reads them: truncated to whole milliseconds, 0 or empty meaning no bound, both
 * inclusive; and-ed with `q` here.
 */
function searchFormDurations(min: string | undefined, max: string | undefined): DurationCondition[] {
  const minMs = searchFormDuration('minDuration', min);
  const maxMs = searchFormDuration('maxDuration', max);
  if (minMs > 0 && maxMs > 0 && minMs > maxMs) throw badRequest(`maxDuration (${max}) is less than minDuration (${min})`);
  return durationBounds(minMs > 0 ? minMs : undefined, maxMs > 0 ? maxMs : undefined);
}

function searchFormDuration(name: string, text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 0;
  const ms = goDurationMs(text.trim());
  if (ms === undefined || ms < 0) throw badRequest(`${name}: ${JSON.stringify(text)} is not a duration (e.g. 100ms, 1.5s, 2m, 1h)`);
  return Math.trunc(ms);
}

function hasParameters(query: unknown): boolean {
  if (query === null || typeof query !== 'object') return query !== undefined;
  for (const _ in query) return true;
  return false;
}

/** A v1 tag is a bare attribute name (`verdict`, `service.name`); v2 uses TraceQL identifiers (`.verdict`, `resource.service.name`, `status`). */
function tagAttribute(tag: string, v2: boolean): Attribute | { readonly kind: 'intrinsic'; readonly name: string } {
  if (tag === 'service.name' || tag === 'rootServiceName' || tag === 'rootName' || tag === 'name') return { kind: 'column', column: 'template' };
  if (tag === 'status') return { kind: 'status' };
  if (['duration', 'kind', 'statusMessage', 'traceDuration'].includes(tag)) return { kind: 'intrinsic', name: tag };
  return attributeOf(v2 || tag.startsWith('.') || /^(span|resource)\./.test(tag) ? tag : `.${tag}`);
}

interface Scope {
  readonly name: 'resource' | 'span' | 'intrinsic';
  readonly tags: string[];
}

async function tagScopes(catalog: TemplateCatalog, scope: string | undefined): Promise<Scope[]> {
  const fields = new Set<string>();
  for (const t of await catalog.all()) for (const f of t.fields) fields.add(fieldAttributeName(f.name));
  const all: Scope[] = [
    { name: 'resource', tags: ['service.name'] },
    { name: 'span', tags: ['key', 'severity', 'template', 'verdict', ...[...fields].sort()] },
    { name: 'intrinsic', tags: ['duration', 'name', 'rootName', 'rootServiceName', 'status', 'traceDuration'] },
  ];
  if (scope === undefined || scope === '' || scope === 'all') return all;
  const wanted = all.filter((s) => s.name === scope);
  if (wanted.length === 0 && !['event', 'link', 'instrumentation'].includes(scope)) {
    throw badRequest(`scope must be one of resource, span, intrinsic, event, link, instrumentation, all; got ${JSON.stringify(scope)}`);
  }
  return wanted;
}

interface TypedValue {
  readonly type: 'string' | 'int' | 'float' | 'bool' | 'keyword';
  readonly value: string;
}

async function tagValues(store: Store, catalog: TemplateCatalog, attribute: ReturnType<typeof tagAttribute>, limit: number): Promise<TypedValue[]> {
  const strings = (values: Iterable<string>) => [...new Set(values)].sort().slice(0, limit).map((value) => ({ type: 'string' as const, value }));
  switch (attribute.kind) {
    case 'intrinsic':
    case 'duration':
      return [];
    case 'status':
      return ['error', 'ok', 'unset'].map((value) => ({ type: 'keyword', value }));
    case 'column': {
      if (attribute.column === 'severity') return strings(SEVERITIES);
      // Anchor keys are unbounded (one per session): nothing to suggest.
      if (attribute.column === 'key') return [];
      const templates = await catalog.all();
      if (attribute.column === 'template') return strings(templates.map((t) => t.id));
      return strings(templates.flatMap((t) => t.verdicts.map((v) => v.id)));
    }
    case 'field': {
      const { values } = await store.fieldValues(attribute.name, { limit });
      return values.map(({ value }) => ({ type: typeOf(value), value }));
    }
  }
}

function typeOf(value: string): TypedValue['type'] {
  if (value === 'true' || value === 'false') return 'bool';
  if (/^-?\d+$/.test(value)) return 'int';
  if (value.trim() !== '' && Number.isFinite(Number(value))) return 'float';
  return 'string';
}

/** A field a search hit shows: its name in the brief and its attribute key as JSON text. */
interface ShownField {
  readonly name: string;
  readonly keyJson: string;
}

/** The fields a TraceQL filter names: a search hit shows their values as span attributes. */
function shownFields(filter: TraceQLQuery): ShownField[] {
  const out: ShownField[] = [];
  for (const alternatives of filter) {
    const a = alternatives[0]!.attribute;
    if (a.kind === 'field') out.push({ name: a.name, keyJson: JSON.stringify(fieldAttributeName(a.name)) });
  }
  return out;
}

/** Epoch ms as decimal nanoseconds (exact for integers: no floating point on the way). */
function nanos(ms: number): string {
  const whole = Math.round(ms);
  return whole === 0 ? '0' : Number.isSafeInteger(whole) ? `${whole}000000` : `${BigInt(whole) * 1_000_000n}`;
}

/**
 * An OTLP/JSON attribute (`{"key":…,"value":{…}}`) as text, after a comma unless it is the
 * first; empty for a null or missing value. `keyJson` is the key already encoded.
 */
function attributeJson(keyJson: string, v: unknown, first: boolean): string {
  if (v === undefined || v === null) return '';
  const head = `${first ? '' : ','}{"key":${keyJson},"value":{`;
  if (typeof v === 'string') return `${head}"stringValue":${JSON.stringify(v)}}}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `${head}"intValue":"${v}"}}` : `${head}"doubleValue":${JSON.stringify(v)}}}`;
  if (typeof v === 'boolean') return `${head}"boolValue":${v}}}`;
  return `${head}"stringValue":${JSON.stringify(Array.isArray(v) ? JSON.stringify(v) : String(v))}}}`;
}

const VERDICT_KEY = JSON.stringify('verdict');
const SEVERITY_KEY = JSON.stringify('severity');
const KEY_KEY = JSON.stringify('key');

/** Template ids as JSON text: a page of hits mostly shares one or two. */
let lastTemplate = '';
let lastTemplateJson = '""';

/**
 * A search hit as Tempo answers it, as JSON text: the trace summary and the matched (root) span.
 * Written out by hand, straight into one string, because a search answers 20 of them and generic
 * JSON.stringify of nested objects (or arrays of parts joined) cost more than the database read;
 * every value still goes through JSON.stringify, and the span set, which Tempo's answer carries
 * twice (`spanSet`, deprecated, and `spanSets`), is encoded once.
 */
function searchHit(s: SessionBrief, shown: readonly ShownField[]): string {
  const startNanos = nanos(s.start);
  const durationMs = Math.max(0, Math.round(s.end - s.start));
  if (s.template !== lastTemplate) {
    lastTemplate = s.template;
    lastTemplateJson = JSON.stringify(s.template);
  }
  const name = lastTemplateJson;
  let attributes = attributeJson(VERDICT_KEY, s.verdict, true);
  attributes += attributeJson(SEVERITY_KEY, s.severity, attributes === '');
  attributes += attributeJson(KEY_KEY, s.key, attributes === '');
  for (let i = 0; i < shown.length; i++) attributes += attributeJson(shown[i]!.keyJson, s.fields[shown[i]!.name], attributes === '');
  const spanSet =
    `{"spans":[{"spanID":"${rootSpanIdOf(s.id)}","name":${name},"startTimeUnixNano":"${startNanos}","durationNanos":"${nanos(durationMs)}",` +
    `"attributes":[${attributes}]}],"matched":1}`;
  return (
    `{"traceID":"${traceIdOf(s.id)}","rootServiceName":${name},"rootTraceName":${name},"startTimeUnixNano":"${startNanos}","durationMs":${durationMs},` +
    `"spanSet":${spanSet},"spanSets":[${spanSet}]}`
  );
}
