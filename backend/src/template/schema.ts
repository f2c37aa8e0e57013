/** The structural shape of a template document (DESIGN.md "Template contract"); semantics are checked in compile.ts. */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { SEVERITIES } from './types.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'not a duration (use 500ms, 30s, 15m, 2h, 1d)',
});
const positiveDuration = duration.refine((s) => (parseDuration(s) ?? 0) > 0, { message: 'must be greater than zero' });
const cel = z.string().min(1, 'expression is empty');
const name = z.string().regex(NAME, 'must be an identifier ([A-Za-z_][A-Za-z0-9_]*)');

const source = z.strictObject({
  topic: z.string().min(1).optional(),
  time: z.string().min(1),
  id: z.string().min(1).optional(),
  disorder: duration.default('0s'),
  idle: positiveDuration.optional(),
});

const join = z.strictObject({
  field: name,
  key: cel,
  within: z.tuple([duration, duration]),
});

const step = z
  .strictObject({
    source: z.string().min(1),
    when: cel,
    anchor: cel.optional(),
    join: join.optional(),
  })
  .refine((s) => (s.anchor === undefined) !== (s.join === undefined), {
    message: 'a step needs exactly one of `anchor` (anchor step) or `join` (supplement step)',
  });

const session = z.strictObject({
  gap: positiveDuration,
  maxSpan: positiveDuration,
  complete: z.array(z.string()).default([]),
  idleFire: positiveDuration.optional(),
  lateness: duration.default('0s'),
  splitWithin: duration.default('0s'),
});

const treeNode: z.ZodType<Record<string, unknown>> = z.lazy(() => z.record(z.string(), z.union([treeNode, z.null()])));

const verdict = z.strictObject({
  id: z.string().regex(/^[a-z0-9_-]+$/, 'must match [a-z0-9_-]+'),
  severity: z.enum(SEVERITIES),
  when: cel,
  explain: z.string().default(''),
});

/** SQL identifiers are spliced into queries (quoted), so only plain names are accepted. */
const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'must be a plain SQL name (letters, digits, _; optionally schema.table)');
const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** Where an enrichment looks keys up: a table (or view) over SQL, or an HTTP JSON endpoint. */
const lookup = z.union([
  z.strictObject({
    table: sqlName,
    key: sqlName.default('id'),
    /** Another database than the store's (mysql://…, sqlite:path); default: the store's database. */
    database: z.string().min(1).optional(),
  }),
  z.strictObject({
    /** POST {"keys": […]} → {"<key>": {"column": value, …}, …}; keys it leaves out are misses. */
    url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
  }),
]);

const enrichment = z.strictObject({
  /** CEL over the session (fields included): the lookup key; no value, no lookup. */
  key: cel,
  from: lookup,
  /** New field ← column of the looked-up row. */
  fields: z.record(name, sqlName).refine((f) => Object.keys(f).length > 0, { message: 'bring in at least one field' }),
  cache: z.strictObject({ ttl: positiveDuration.default('10m'), size: z.number().int().positive().default(100_000) }).default({ ttl: '10m', size: 100_000 }),
  timeout: positiveDuration.default('2s'),
  batch: z.strictObject({ size: z.number().int().positive().default(500), window: duration.default('20ms') }).default({ size: 500, window: '20ms' }),
  /** Lookups of one enrichment running at once. */
  concurrency: z.number().int().positive().default(4),
  retry: z.strictObject({ attempts: z.number().int().positive().default(5), backoff: positiveDuration.default('1s') }).default({ attempts: 5, backoff: '1s' }),
  /** On a miss: `absent` leaves the fields out (verdicts may test `has(fields.x)`), or default values per field. */
  onMiss: z.union([z.literal('absent'), z.record(name, scalar)]).default('absent'),
});

export const templateSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9_-]+$/, 'must match [a-z0-9_-]+'),
  title: z.string().optional(),
  sources: z.record(name, source).refine((s) => Object.keys(s).length > 0, { message: 'declare at least one source' }),
  steps: z.record(name, step).refine((s) => Object.keys(s).length > 0, { message: 'declare at least one step' }),
  session,
  fields: z.record(name, cel).default({}),
  tree: treeNode.optional(),
  verdicts: z.array(verdict).default([]),
  /** Data widening (an extension of the contract): dimension lookups whose columns become fields. */
  enrich: z.record(name, enrichment).default({}),
});

export type TemplateDocument = z.infer<typeof templateSchema>;
