import { compileCel, type CelScope, type CompiledExpression } from './cel.js';
import { parseDuration } from './duration.js';
import { issueMessage, TemplateError, type TemplateIssue } from './errors.js';
import { templateSchema, type TemplateDocument } from './schema.js';
import {
  ENRICHMENT_ERROR_FIELD, ENRICHMENT_FIELD,
  type CompiledTemplate, type EnrichSpec, type ExplainPart, type FieldSpec, type SourceSpec, type StepSpec, type VerdictSpec,
} from './types.js';

/** Validates a parsed template document and compiles every expression; all problems are reported at once. */
export function compileTemplate(document: unknown, file: string): CompiledTemplate {
  const parsed = templateSchema.safeParse(document);
  if (!parsed.success) {
    throw new TemplateError(parsed.error.issues.map((issue) => ({
      file,
      path: issue.path.map(String).join('.'),
      message: issueMessage(issue, document),
    })));
  }
  const compiler = new Compiler(file);
  const template = compiler.compile(parsed.data, document);
  if (compiler.issues.length > 0) throw new TemplateError(compiler.issues);
  return template;
}

const ms = (text: string): number => parseDuration(text)!;

class Compiler {
  readonly issues: TemplateIssue[] = [];

  constructor(private readonly file: string) {}

  compile(doc: TemplateDocument, original: unknown): CompiledTemplate {
    const sources = this.sources(doc);
    const steps = this.steps(doc, sources);
    const stepNames = new Set(steps.map((s) => s.name));
    const fieldNames = new Set(Object.keys(doc.fields));
    const fields = this.fields(doc, stepNames);
    for (const step of steps) {
      if (step.kind === 'supplement' && !fieldNames.has(step.join.field)) {
        this.report(`steps.${step.name}.join.field`, `unknown field "${step.join.field}" (declare it under fields)`);
      }
    }
    const stepsByName = new Map(steps.map((s) => [s.name, s]));
    const complete = doc.session.complete.flatMap((name, i) => {
      const step = stepsByName.get(name);
      if (!step) this.report(`session.complete.${i}`, `unknown step "${name}"`);
      return step ? [step.index] : [];
    });
    const enrich = this.enrich(doc, stepNames, fieldNames);
    // Verdicts run after enrichment: they may read enriched fields and the enrichment state.
    const verdictFields = new Set([...fieldNames, ...enrich.flatMap((e) => [...e.fields.keys()])]);
    if (enrich.length > 0) [ENRICHMENT_FIELD, ENRICHMENT_ERROR_FIELD].forEach((f) => verdictFields.add(f));
    const verdicts = this.verdicts(doc, stepNames, verdictFields);
    const treeParent = this.tree(doc, steps);
    const joinFields = closure(fields, steps.flatMap((s) => (s.kind === 'supplement' ? [s.join.field] : [])));
    const stepsBySource = new Map<string, StepSpec[]>();
    for (const step of steps) stepsBySource.set(step.source, [...(stepsBySource.get(step.source) ?? []), step]);
    return {
      id: doc.id,
      title: doc.title ?? doc.id,
      sources,
      steps,
      stepsByName,
      stepsBySource,
      anchorSources: [...new Set(steps.filter((s) => s.kind === 'anchor').map((s) => s.source))],
      session: {
        gapMs: ms(doc.session.gap),
        maxSpanMs: ms(doc.session.maxSpan),
        complete,
        idleFireMs: doc.session.idleFire === undefined ? undefined : ms(doc.session.idleFire),
        latenessMs: ms(doc.session.lateness),
        splitWithinMs: ms(doc.session.splitWithin),
      },
      fields,
      joinFields,
      treeParent,
      verdicts,
      enrich,
      document: original,
    };
  }

  private report(path: string, message: string): void {
    this.issues.push({ file: this.file, path, message });
  }

  private expression(source: string, scope: CelScope, path: string): CompiledExpression | undefined {
    try {
      return compileCel(source, scope);
    } catch (error) {
      this.report(path, `CEL does not compile: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  /** Session expressions may only name declared steps and fields. */
  private sessionExpression(source: string, path: string, steps: Set<string>, fields: Set<string>) {
    const expr = this.expression(source, 'session', path);
    if (!expr) return undefined;
    for (const step of expr.stepRefs) if (!steps.has(step)) this.report(path, `unknown step "${step}"`);
    for (const field of expr.fieldRefs) if (!fields.has(field)) this.report(path, `unknown field "${field}"`);
    return expr;
  }

  private sources(doc: TemplateDocument): Map<string, SourceSpec> {
    return new Map(Object.entries(doc.sources).map(([name, s]) => [name, {
      name,
      topic: s.topic ?? name,
      time: s.time,
      id: s.id,
      disorderMs: ms(s.disorder),
      idleMs: s.idle === undefined ? undefined : ms(s.idle),
    }]));
  }

  private steps(doc: TemplateDocument, sources: Map<string, SourceSpec>): StepSpec[] {
    const steps: StepSpec[] = [];
    for (const [name, s] of Object.entries(doc.steps)) {
      const path = `steps.${name}`;
      if (!sources.has(s.source)) this.report(`${path}.source`, `unknown source "${s.source}"`);
      const when = this.expression(s.when, 'record', `${path}.when`);
      const index = steps.length;
      if (s.anchor !== undefined) {
        const anchor = this.expression(s.anchor, 'record', `${path}.anchor`);
        if (when && anchor) steps.push({ kind: 'anchor', name, index, source: s.source, when, anchor });
        continue;
      }
      const join = s.join!;
      const key = this.expression(join.key, 'record', `${path}.join.key`);
      const [lowMs, highMs] = [ms(join.within[0]), ms(join.within[1])];
      if (lowMs > highMs) this.report(`${path}.join.within`, `lower bound ${join.within[0]} is after upper bound ${join.within[1]}`);
      if (when && key) {
        steps.push({ kind: 'supplement', name, index, source: s.source, when, join: { field: join.field, key, lowMs, highMs } });
      }
    }
    if (steps.length > 0 && !steps.some((s) => s.kind === 'anchor') && this.issues.length === 0) {
      this.report('steps', 'declare at least one anchor step (a step with `anchor`)');
    }
    return steps;
  }

  private fields(doc: TemplateDocument, steps: Set<string>): FieldSpec[] {
    const names = new Set(Object.keys(doc.fields));
    const compiled = new Map<string, FieldSpec>();
    for (const [name, source] of Object.entries(doc.fields)) {
      const expr = this.sessionExpression(source, `fields.${name}`, steps, names);
      if (expr) compiled.set(name, { name, expr });
    }
    return this.ordered(compiled);
  }

  /** Dependencies first, declaration order otherwise; a cycle is reported with its members. */
  private ordered(fields: Map<string, FieldSpec>): FieldSpec[] {
    const order: FieldSpec[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, trail: string[]): void => {
      const field = fields.get(name);
      if (!field || state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        const cycle = [...trail.slice(trail.indexOf(name)), name];
        this.report(`fields.${name}`, `cycle in fields: ${cycle.join(' -> ')}`);
        return;
      }
      state.set(name, 'visiting');
      for (const dep of field.expr.fieldRefs) visit(dep, [...trail, name]);
      state.set(name, 'done');
      order.push(field);
    };
    for (const name of fields.keys()) visit(name, []);
    return order;
  }

  private verdicts(doc: TemplateDocument, steps: Set<string>, fields: Set<string>): VerdictSpec[] {
    const seen = new Set<string>();
    return doc.verdicts.flatMap((v, i) => {
      const path = `verdicts.${i}`;
      if (seen.has(v.id)) this.report(`${path}.id`, `duplicate verdict id "${v.id}"`);
      seen.add(v.id);
      const when = this.sessionExpression(v.when, `${path}.when`, steps, fields);
      const explain = this.explain(v.explain, `${path}.explain`, steps, fields);
      return when && explain ? [{ id: v.id, severity: v.severity, when, explain }] : [];
    });
  }

  private explain(text: string, path: string, steps: Set<string>, fields: Set<string>): ExplainPart[] | undefined {
    const parts: ExplainPart[] = [];
    let ok = true;
    let last = 0;
    for (const match of text.matchAll(/\{\{(.*?)\}\}/g)) {
      if (match.index! > last) parts.push(text.slice(last, match.index));
      const expr = this.sessionExpression(match[1]!.trim(), path, steps, fields);
      if (expr) parts.push(expr);
      else ok = false;
      last = match.index! + match[0].length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return ok ? parts : undefined;
  }

  private enrich(doc: TemplateDocument, steps: Set<string>, fields: Set<string>): EnrichSpec[] {
    const claimed = new Map<string, string>();
    return Object.entries(doc.enrich).flatMap(([name, e]): EnrichSpec[] => {
      const path = `enrich.${name}`;
      const key = this.sessionExpression(e.key, `${path}.key`, steps, fields);
      for (const field of Object.keys(e.fields)) {
        if (fields.has(field)) this.report(`${path}.fields.${field}`, `"${field}" is already a field of the template`);
        else if (field === ENRICHMENT_FIELD || field === ENRICHMENT_ERROR_FIELD) this.report(`${path}.fields.${field}`, `"${field}" is reserved for the enrichment state`);
        else if (claimed.has(field)) this.report(`${path}.fields.${field}`, `"${field}" is also brought in by enrich.${claimed.get(field)}`);
        claimed.set(field, name);
      }
      if (e.onMiss !== 'absent') {
        for (const field of Object.keys(e.onMiss)) {
          if (!(field in e.fields)) this.report(`${path}.onMiss.${field}`, `"${field}" is not one of this enrichment's fields`);
        }
      }
      if (!key) return [];
      const lookup = 'table' in e.from
        ? { kind: 'sql' as const, table: e.from.table, keyColumn: e.from.key, database: e.from.database }
        : { kind: 'http' as const, url: e.from.url };
      return [{
        name, key, lookup,
        fields: new Map(Object.entries(e.fields)),
        cacheTtlMs: ms(e.cache.ttl), cacheSize: e.cache.size,
        timeoutMs: ms(e.timeout),
        batchSize: e.batch.size, batchWindowMs: ms(e.batch.window),
        concurrency: e.concurrency,
        attempts: e.retry.attempts, backoffMs: ms(e.retry.backoff),
        onMiss: e.onMiss,
      }];
    });
  }

  private tree(doc: TemplateDocument, steps: StepSpec[]): Map<string, string | null> {
    const parent = new Map<string, string | null>();
    if (!doc.tree) {
      steps.forEach((s, i) => parent.set(s.name, i === 0 ? null : steps[i - 1]!.name));
      return parent;
    }
    const names = new Set(steps.map((s) => s.name));
    const walk = (node: Record<string, unknown> | null, up: string | null, path: string): void => {
      for (const [name, children] of Object.entries(node ?? {})) {
        const here = path ? `${path}.${name}` : `tree.${name}`;
        if (!names.has(name)) this.report(here, `unknown step "${name}"`);
        else if (parent.has(name)) this.report(here, `step "${name}" appears twice in the tree`);
        else parent.set(name, up);
        walk(children as Record<string, unknown> | null, name, here);
      }
    };
    walk(doc.tree, null, '');
    // Steps the tree leaves out hang under the root step, so every record still has a place.
    const root = [...parent].find(([, up]) => up === null)?.[0] ?? null;
    for (const step of steps) if (!parent.has(step.name)) parent.set(step.name, root);
    return parent;
  }
}

/** The named fields plus everything they read, in evaluation order. */
function closure(ordered: readonly FieldSpec[], names: readonly string[]): FieldSpec[] {
  const wanted = new Set(names);
  for (const field of [...ordered].reverse()) {
    if (wanted.has(field.name)) for (const dep of field.expr.fieldRefs) wanted.add(dep);
  }
  return ordered.filter((f) => wanted.has(f.name));
}
