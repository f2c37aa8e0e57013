/**
 * The API's OpenAPI 3.1 description, served at `GET /api/openapi.json`. Kept by hand next to the
 * routes (the zod schemas validate; this documents), and checked against the routes in the tests.
 */
const q = (name: string, description: string, schema: object = { type: 'string' }, required = false) => ({ name, in: 'query', required, description, schema });
const p = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const json = (description: string, schema: object = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
const errors = {
  '400': json('Invalid input: `{ error, message, issues? }` says which parameter and why', { $ref: '#/components/schemas/Error' }),
  '401': json('Missing or wrong bearer token', { $ref: '#/components/schemas/Error' }),
};
const notFound = { '404': json('Not found', { $ref: '#/components/schemas/Error' }) };
const timeRange = [q('from', 'Start ≥ from (epoch ms or ISO-8601)'), q('to', 'Start < to (epoch ms or ISO-8601)')];
const tempoTime = [q('start', 'Unix epoch seconds', { type: 'integer' }), q('end', 'Unix epoch seconds', { type: 'integer' })];

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Weft correlator API',
    version: '1',
    description:
      'Business sessions stitched from traceless logs: search, detail, operator merges, orphans, stats, templates, ' +
      'and a Tempo-compatible query API (Tempo 2.x HTTP API) so Grafana\'s Tempo datasource opens sessions as traces. ' +
      'Every route but /healthz and /readyz needs `Authorization: Bearer <token>` when the server has a token.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: { type: 'object', required: ['error', 'message'], properties: { error: { type: 'string' }, message: { type: 'string' }, issues: { type: 'array', items: { type: 'object' } } } },
      Session: {
        type: 'object',
        properties: {
          id: { type: 'string' }, template: { type: 'string' }, key: { type: 'string' }, start: { type: 'integer' }, end: { type: 'integer' },
          status: { enum: ['open', 'final', 'merged'] }, version: { type: 'integer' }, verdict: { type: ['string', 'null'] },
          severity: { enum: ['critical', 'warning', 'info', 'ok', null] }, explain: { type: ['string', 'null'] },
          splitOf: { type: ['string', 'null'] }, mergedInto: { type: ['string', 'null'] }, fields: { type: 'object' },
          events: { type: 'array', items: { type: 'object', properties: { step: { type: 'string' }, source: { type: 'string' }, time: { type: 'integer' }, value: {} } } },
        },
      },
      OtlpTrace: { type: 'object', description: 'OTLP/JSON TracesData', properties: { resourceSpans: { type: 'array', items: { type: 'object' } } } },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': json('Alive') } } },
    '/readyz': { get: { summary: 'Readiness (store reachable, or the runtime\'s health)', security: [], responses: { '200': json('Ready'), '503': json('Not ready') } } },
    '/api/openapi.json': { get: { summary: 'This document', responses: { '200': json('OpenAPI 3.1') } } },
    '/api/sessions': {
      get: {
        summary: 'Search sessions, newest first, keyset-paginated',
        parameters: [
          q('template', 'Template id'), q('key', 'Anchor key'), q('verdict', 'Verdict id(s), comma-separated or repeated'),
          q('severity', 'critical, warning, info, ok (comma-separated or repeated)'), q('status', 'open, final, merged (default open,final)'),
          ...timeRange,
          q('minDuration', 'Session duration (end − start) ≥ this: milliseconds, or a duration such as 500ms, 1.5s, 2m, 1h'),
          q('maxDuration', 'Session duration (end − start) ≤ this: milliseconds, or a duration such as 500ms, 1.5s, 2m, 1h'),
          q('limit', '1–1000 (default 50)', { type: 'integer' }), q('cursor', 'The previous page\'s cursor'),
          q('q', 'TraceQL subset, e.g. { .verdict = "paid_no_callback" && .amount > 100 && duration > 5m }'),
          {
            name: 'f.{field}',
            in: 'query',
            description:
              'Field equals (repeat for any of); f.{field}.ne: has the field and no value equals (repeat for none of); ' +
              'f.{field}.gt|gte|lt|lte for ranges, f.{field}.prefix for prefixes',
            schema: { type: 'string' },
          },
        ],
        responses: { '200': json('A page', { type: 'object', properties: { sessions: { type: 'array', items: { $ref: '#/components/schemas/Session' } }, cursor: { type: ['string', 'null'] } } }), ...errors },
      },
    },
    '/api/sessions/{id}': {
      get: {
        summary: 'One session: records, fields, verdict, version history, split/merge links, trace id',
        parameters: [p('id', 'Session id')],
        responses: { '200': json('The session', { $ref: '#/components/schemas/Session' }), ...errors, ...notFound },
      },
    },
    '/api/sessions/{id}/trace': { get: { summary: 'The session as an OTLP/JSON trace', parameters: [p('id', 'Session id')], responses: { '200': json('Trace', { $ref: '#/components/schemas/OtlpTrace' }), ...errors, ...notFound } } },
    '/api/sessions/{id}/merge': {
      post: {
        summary: 'Operator merge: the session takes the records of `with` and is re-evaluated; `with` becomes mergedInto it',
        parameters: [p('id', 'Surviving session')],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['with'], properties: { with: { type: 'string' } } } } } },
        responses: { '200': json('{ session, absorbed }'), ...errors, ...notFound, '409': json('Already merged, a session still open (the correlator still fires it: merge once it is final), template unknown, or one of the sessions changed since this request read it (another merge or unmerge, from any server process, or a new version from the engine): nothing was changed, retry', { $ref: '#/components/schemas/Error' }) },
      },
    },
    '/api/sessions/{id}/unmerge': {
      post: { summary: 'Undo the operator merges into the session', parameters: [p('id', 'Session id')], responses: { '200': json('{ session, restored }'), ...errors, ...notFound, '409': json('Nothing to undo, the session was since merged into another (unmerge that one first), or a session changed since this request read it (another merge or unmerge, from any server process, or a new version from the engine): nothing was changed, retry', { $ref: '#/components/schemas/Error' }) } },
    },
    '/api/orphans': {
      get: {
        summary: 'Records that reached no session, newest first',
        parameters: [q('template', ''), q('step', ''), q('source', ''), q('reason', ''), q('joinField', ''), q('joinValue', ''), ...timeRange, q('limit', '1–1000', { type: 'integer' }), q('cursor', '')],
        responses: { '200': json('{ orphans, cursor }'), ...errors },
      },
    },
    '/api/stats': {
      get: {
        summary: 'Session counts per verdict per bucket (from the rollups)',
        parameters: [q('template', ''), q('from', 'epoch ms or ISO-8601', { type: 'string' }, true), q('to', 'epoch ms or ISO-8601', { type: 'string' }, true), q('bucket', '1m, 1h (default), 1d'), q('verdict', ''), q('severity', '')],
        responses: { '200': json('{ bucket, rows: [{ time, template, verdict, severity, count }] }'), ...errors },
      },
    },
    '/api/fields/{name}/values': {
      get: { summary: 'Most frequent values of a field', parameters: [p('name', 'Field'), q('template', ''), q('prefix', ''), q('limit', '1–1000', { type: 'integer' })], responses: { '200': json('{ values: [{ value, count }], complete }'), ...errors } },
    },
    '/api/templates': { get: { summary: 'Stored templates', responses: { '200': json('{ templates: [{ id, revision, updatedAt }] }') } } },
    '/api/templates/{id}': {
      get: { summary: 'A stored template (text as saved)', parameters: [p('id', 'Template id')], responses: { '200': json('{ id, text, revision, updatedAt }'), ...errors, ...notFound } },
      put: {
        summary: 'Validate, then store (hot update); a bad template changes nothing',
        parameters: [p('id', 'Template id (must equal the document\'s id)')],
        requestBody: { required: true, content: { 'application/yaml': { schema: { type: 'string' } }, 'text/plain': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object', properties: { text: { type: 'string' } } } } } },
        responses: { '200': json('{ id, revision, updatedAt }'), ...errors },
      },
      delete: { summary: 'Remove a stored template', parameters: [p('id', 'Template id')], responses: { '204': { description: 'Removed' }, ...errors, ...notFound } },
    },
    '/api/templates/validate': {
      post: { summary: 'Compile a template: { valid, issues[] (file, path, line, message), steps, fields, tree }', requestBody: { required: true, content: { 'application/yaml': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object', properties: { text: { type: 'string' } } } } } }, responses: { '200': json('Result'), ...errors } },
    },
    '/api/templates/preview': {
      post: {
        summary: 'Run the engine on sample records: the sessions, orphans, bad records and the behaviour tree',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['template', 'records'], properties: { template: { type: 'string' }, records: { type: 'array', maxItems: 10000, items: { type: 'object', properties: { source: { type: 'string' }, value: {}, at: { type: 'number' } } } } } } } } },
        responses: { '200': json('{ tree, sessions, orphans, errors, summary }'), ...errors },
      },
    },
    '/api/echo': { get: { summary: 'Tempo: echo', responses: { '200': { description: 'echo', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    '/api/status/buildinfo': { get: { summary: 'Tempo: build info (version of the Tempo API followed)', responses: { '200': json('{ version, revision, branch, … }') } } },
    '/api/traces/{traceId}': {
      get: { summary: 'Tempo v1 trace by id: OTLP JSON `{ batches }`, or protobuf (tempopb.Trace) with Accept: application/protobuf', parameters: [p('traceId', '32 hex digits'), ...tempoTime], responses: { '200': json('Trace'), ...errors, ...notFound } },
    },
    '/api/v2/traces/{traceId}': {
      get: { summary: 'Tempo v2 trace by id: `{ trace: { resourceSpans } }`, or protobuf TraceByIDResponse with Accept: application/protobuf', parameters: [p('traceId', '32 hex digits'), ...tempoTime], responses: { '200': json('Trace'), ...errors, ...notFound } },
    },
    '/api/search': {
      get: {
        summary: 'Tempo search (TraceQL subset over template, verdict, severity, key, fields, duration)',
        parameters: [
          q('q', 'TraceQL, e.g. { .verdict != "ok" && duration > 5m }'), q('limit', 'default 20', { type: 'integer' }), q('spss', 'spans per span set', { type: 'integer' }), ...tempoTime,
          q('minDuration', 'Tempo search form: session duration ≥ this (Go duration, e.g. 100ms, 1.5s; whole milliseconds, as Tempo)'),
          q('maxDuration', 'Tempo search form: session duration ≤ this (Go duration, e.g. 100ms, 1.5s; whole milliseconds, as Tempo)'),
        ],
        responses: { '200': json('{ traces: [{ traceID, rootServiceName, rootTraceName, startTimeUnixNano, durationMs, spanSets }], metrics }'), ...errors },
      },
    },
    '/api/search/tags': { get: { summary: 'Tempo tag names (v1)', parameters: [q('scope', 'resource, span, intrinsic')], responses: { '200': json('{ tagNames }'), ...errors } } },
    '/api/v2/search/tags': { get: { summary: 'Tempo tag names per scope (v2)', parameters: [q('scope', 'resource, span, intrinsic'), q('q', 'TraceQL (accepted, not used)')], responses: { '200': json('{ scopes: [{ name, tags }] }'), ...errors } } },
    '/api/search/tag/{tag}/values': { get: { summary: 'Tempo tag values (v1)', parameters: [p('tag', 'Tag name'), q('limit', '', { type: 'integer' })], responses: { '200': json('{ tagValues: string[] }'), ...errors } } },
    '/api/v2/search/tag/{tag}/values': { get: { summary: 'Tempo tag values with types (v2)', parameters: [p('tag', 'TraceQL identifier, e.g. .verdict'), q('limit', '', { type: 'integer' })], responses: { '200': json('{ tagValues: [{ type, value }] }'), ...errors } } },
  },
} as const;
