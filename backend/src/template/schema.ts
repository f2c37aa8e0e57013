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

export const templateSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9_-]+$/, 'must match [a-z0-9_-]+'),
  title: z.string().optional(),
  sources: z.record(name, source).refine((s) => Object.keys(s).length > 0, { message: 'declare at least one source' }),
  steps: z.record(name, step).refine((s) => Object.keys(s).length > 0, { message: 'declare at least one step' }),
  session,
  fields: z.record(name, cel).default({}),
  tree: treeNode.optional(),
  verdicts: z.array(verdict).default([]),
});

export type TemplateDocument = z.infer<typeof templateSchema>;
