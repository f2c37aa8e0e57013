import type { Store, TemplateRecord } from '../store/index.js';
import { parseTemplate, TemplateError, type CompiledTemplate } from '../template/index.js';

/**
 * Compiled templates by id, for traces (the behaviour tree) and tag names: those given at start
 * (`weft serve --template`, the runtime's set) first, else the stored text compiled once per
 * revision. A stored template that no longer compiles counts as unknown (traces fall back to time
 * order) rather than failing the request.
 */
/** How long a stored template's revision is trusted before the store is asked again. */
const RECHECK_MS = 5_000;

export class TemplateCatalog {
  private readonly fixed: Map<string, CompiledTemplate>;
  private readonly compiled = new Map<string, { readonly revision: number; readonly template: CompiledTemplate | undefined; readonly checkedAt: number }>();

  constructor(private readonly store: Store, templates: readonly CompiledTemplate[] = []) {
    this.fixed = new Map(templates.map((t) => [t.id, t]));
  }

  async get(id: string): Promise<CompiledTemplate | undefined> {
    const known = this.known(id);
    if (known) return known.template;
    const cached = this.compiled.get(id);
    const record = await this.store.getTemplate(id);
    if (!record) return undefined;
    if (cached && cached.revision === record.revision) {
      this.compiled.set(id, { ...cached, checkedAt: Date.now() });
      return cached.template;
    }
    return this.remember(record);
  }

  /**
   * The template when it is known without asking the store (given at start, or compiled and checked
   * within the last few seconds); undefined when `get` has to ask. Lets a trace request skip a
   * promise turn. `template` itself is undefined for a stored template that no longer compiles.
   */
  known(id: string): { readonly template: CompiledTemplate | undefined } | undefined {
    const fixed = this.fixed.get(id);
    if (fixed) return { template: fixed };
    const cached = this.compiled.get(id);
    // Trace requests come by the thousand per second: the stored revision is re-read at most every
    // few seconds (so several API processes pick up each other's saves), the compile only when it changed.
    if (cached && Date.now() - cached.checkedAt < RECHECK_MS) return cached;
    return undefined;
  }

  /** Every known template (given ones win over stored ones of the same id). */
  async all(): Promise<CompiledTemplate[]> {
    const out = new Map(this.fixed);
    for (const record of await this.store.listTemplates()) {
      if (out.has(record.id)) continue;
      const cached = this.compiled.get(record.id);
      const template = cached && cached.revision === record.revision ? cached.template : this.remember(record);
      if (template) out.set(record.id, template);
    }
    return [...out.values()];
  }

  /** Records a template just saved (already compiled by the caller). */
  saved(record: TemplateRecord, template: CompiledTemplate): void {
    this.compiled.set(record.id, { revision: record.revision, template, checkedAt: Date.now() });
  }

  private remember(record: TemplateRecord): CompiledTemplate | undefined {
    let template: CompiledTemplate | undefined;
    try {
      template = parseTemplate(record.text, `${record.id}.yaml`);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      template = undefined;
    }
    this.compiled.set(record.id, { revision: record.revision, template, checkedAt: Date.now() });
    return template;
  }
}
