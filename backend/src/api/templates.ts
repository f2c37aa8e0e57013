import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { replayLines } from '../engine/index.js';
import { plainEvent } from '../engine/types.js';
import type { Store, TemplateRecord } from '../store/index.js';
import { parseTemplate, TemplateError, type CompiledTemplate } from '../template/index.js';
import type { TemplateCatalog } from './catalog.js';
import { badRequest, notFound, parseInput } from './errors.js';
import type { ApiOptions } from './options.js';
import { templateId } from './params.js';

/** Sample records a preview runs at most (the body limit bounds their size). */
export const MAX_PREVIEW_RECORDS = 10_000;
/**
 * Deepest nesting of a sample record's value. A preview re-encodes each record and echoes it in
 * the sessions it answers; JSON.stringify recurses, and a record a few thousand levels deep (which
 * the body parser accepts) ran it out of stack: a 500 instead of a 400 naming the record.
 */
export const MAX_PREVIEW_DEPTH = 64;

/** Whether `value` nests deeper than `max` arrays and objects (iterative: the check itself must not run out of stack). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [v, depth] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
  return false;
}

const recordValue = z.unknown().refine((v) => !nestsDeeperThan(v, MAX_PREVIEW_DEPTH), `nested deeper than ${MAX_PREVIEW_DEPTH} levels of arrays and objects`);

const templateText = z.string().min(1, 'the template text is empty');
const sourceBody = z.union([templateText, z.object({ text: templateText }).strict()], {
  error: 'expected the template as YAML or JSON text, or {"text": "<template>"}',
});
const previewBody = z.object({
  template: templateText,
  records: z.array(z.object({ source: z.string().min(1), value: recordValue, at: z.number().finite().optional() }).strict()).max(MAX_PREVIEW_RECORDS),
}).strict();

interface Context {
  readonly store: Store;
  readonly catalog: TemplateCatalog;
  readonly hooks: ApiOptions['hooks'];
}

/** The behaviour tree as the editor draws it: steps in template order with their parents. */
function treeOf(t: CompiledTemplate) {
  return t.steps.map((s) => ({ step: s.name, source: s.source, kind: s.kind, parent: t.treeParent.get(s.name) ?? null }));
}

function summaryOf(record: TemplateRecord) {
  return { id: record.id, revision: record.revision, updatedAt: record.updatedAt };
}

/** Compiles or answers 400 with the template's issues (file, path, line, message). */
function compile(text: string, file: string): CompiledTemplate {
  return parseTemplate(text, file);
}

export const templateRoutes: FastifyPluginAsync<Context> = async (app, { store, catalog, hooks }) => {
  // Templates travel as YAML text as well as JSON.
  for (const type of ['text/plain', 'application/yaml', 'application/x-yaml', 'text/yaml']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  }

  app.get('/api/templates', async () => ({ templates: (await store.listTemplates()).map(summaryOf) }));

  app.get('/api/templates/:id', async (request) => {
    const { id } = parseInput(z.object({ id: templateId }), request.params, 'path');
    const record = await store.getTemplate(id);
    if (!record) throw notFound(`template ${id} not found`);
    return record;
  });

  app.put('/api/templates/:id', async (request) => {
    const { id } = parseInput(z.object({ id: templateId }), request.params, 'path');
    const body = parseInput(sourceBody, request.body, 'body');
    const text = typeof body === 'string' ? body : body.text;
    const compiled = compile(text, `${id}.yaml`);
    if (compiled.id !== id) throw badRequest(`the template's id is ${JSON.stringify(compiled.id)}, but it is saved as ${JSON.stringify(id)}`);
    const record = await store.saveTemplate(id, text);
    catalog.saved(record, compiled);
    await hooks?.templateSaved?.(record, compiled);
    return summaryOf(record);
  });

  app.delete('/api/templates/:id', async (request, reply) => {
    const { id } = parseInput(z.object({ id: templateId }), request.params, 'path');
    if (!(await store.deleteTemplate(id))) throw notFound(`template ${id} not found`);
    return reply.status(204).send();
  });

  app.post('/api/templates/validate', async (request) => {
    const body = parseInput(sourceBody, request.body, 'body');
    try {
      const t = compile(typeof body === 'string' ? body : body.text, 'template.yaml');
      return { valid: true, id: t.id, title: t.title, steps: t.steps.map((s) => s.name), fields: t.fields.map((f) => f.name), tree: treeOf(t), issues: [] };
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      return { valid: false, issues: error.issues };
    }
  });

  app.post('/api/templates/preview', async (request) => {
    const body = parseInput(previewBody, request.body, 'body');
    const template = compile(body.template, 'template.yaml');
    const result = replayLines([template], body.records.map((r) => JSON.stringify(r)));
    return {
      tree: treeOf(template),
      sessions: result.sessions.map((s) => ({ ...s, events: s.events.map(plainEvent) })),
      orphans: result.orphans,
      // Line numbers are positions in `records` (1-based).
      errors: result.errors.map((e) => ({ record: e.line, reason: e.reason })),
      summary: result.summary,
    };
  });
};
