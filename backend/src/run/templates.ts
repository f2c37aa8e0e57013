/**
 * The templates a `weft run` instance uses. The store is the source of truth shared by every
 * instance: template files (a watched directory) are saved into it, `PUT /api/templates/:id`
 * saves into it, and every instance polls its revisions, so all of them pick up a change without a
 * restart. A template that does not compile is refused with its errors; the running one stays.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Store, TemplateRecord } from '../store/index.js';
import { parseTemplate, TemplateError, type CompiledTemplate } from '../template/index.js';

const TEMPLATE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export type TemplatesListener = (templates: readonly CompiledTemplate[]) => Promise<void>;

export class TemplateSet {
  private readonly compiled = new Map<string, { revision: number; template: CompiledTemplate }>();
  private readonly listeners: TemplatesListener[] = [];
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private changing: Promise<void> = Promise.resolve();

  private constructor(private readonly store: Store, private readonly log: Logger) {}

  /** Saves the directory's templates into the store (refusing the whole start on a bad one), then loads the store's. */
  static async open(store: Store, dir: string | undefined, log: Logger): Promise<TemplateSet> {
    const set = new TemplateSet(store, log);
    if (dir !== undefined) {
      for (const file of await templateFiles(dir)) {
        const text = await readFile(file, 'utf8');
        const template = parseTemplate(text, file);
        await store.saveTemplate(template.id, text);
      }
    }
    await set.refresh();
    return set;
  }

  get templates(): CompiledTemplate[] {
    return [...this.compiled.values()].map((c) => c.template).sort((a, b) => a.id.localeCompare(b.id));
  }

  revision(id: string): number | undefined {
    return this.compiled.get(id)?.revision;
  }

  onChange(listener: TemplatesListener): void {
    this.listeners.push(listener);
  }

  /** The API stored a template that compiled (its hook): apply it now; other instances poll. */
  async saved(record: TemplateRecord, template: CompiledTemplate): Promise<void> {
    await this.serial(async () => {
      const known = this.compiled.get(record.id);
      if (known && known.revision >= record.revision) return;
      this.compiled.set(record.id, { revision: record.revision, template });
      this.log.info({ template: record.id, revision: record.revision }, 'template updated (API)');
      await this.notify();
    });
  }

  /** Reads the store's templates and applies every revision this instance has not seen. */
  async refresh(): Promise<void> {
    await this.serial(async () => {
      const records = await this.store.listTemplates();
      let changed = false;
      for (const record of records) {
        const known = this.compiled.get(record.id);
        if (known && known.revision === record.revision) continue;
        try {
          this.compiled.set(record.id, { revision: record.revision, template: parseTemplate(record.text, `${record.id} (store revision ${record.revision})`) });
          changed = true;
          this.log.info({ template: record.id, revision: record.revision }, 'template loaded');
        } catch (error) {
          this.log.error({ template: record.id, revision: record.revision, err: describe(error) }, 'stored template does not compile; keeping the running one');
          // Not retried until its revision changes.
          if (known) this.compiled.set(record.id, { ...known, revision: record.revision });
        }
      }
      const ids = new Set(records.map((r) => r.id));
      for (const id of [...this.compiled.keys()]) {
        if (ids.has(id)) continue;
        this.compiled.delete(id);
        changed = true;
        this.log.info({ template: id }, 'template removed');
      }
      if (changed) await this.notify();
    });
  }

  /** Polls the store every `pollMs` and watches `dir`: a changed file is validated, then saved. */
  start(dir: string | undefined, pollMs: number): void {
    this.poller = setInterval(() => {
      this.refresh().catch((error) => this.log.warn({ err: describe(error) }, 'template poll failed'));
    }, pollMs);
    this.poller.unref();
    if (dir === undefined) return;
    const pending = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    this.watcher = watch(dir, (_event, name) => {
      if (!name || !TEMPLATE_EXTENSIONS.has(extname(name))) return;
      pending.add(join(dir, name.toString()));
      clearTimeout(timer);
      timer = setTimeout(() => {
        const files = [...pending];
        pending.clear();
        void this.loadFiles(files);
      }, 200);
    });
  }

  stop(): void {
    clearInterval(this.poller);
    this.watcher?.close();
  }

  private async loadFiles(files: readonly string[]): Promise<void> {
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // removed or renamed: templates are removed through the API, not by deleting files
      }
      try {
        const template = parseTemplate(text, file);
        await this.store.saveTemplate(template.id, text);
      } catch (error) {
        this.log.error({ file, err: describe(error) }, 'template file refused; the running template stays');
      }
    }
    await this.refresh().catch((error) => this.log.warn({ err: describe(error) }, 'template refresh failed'));
  }

  private serial(work: () => Promise<void>): Promise<void> {
    const next = this.changing.then(work, work);
    this.changing = next.catch(() => undefined);
    return next;
  }

  private async notify(): Promise<void> {
    const templates = this.templates;
    for (const listener of this.listeners) await listener(templates);
  }
}

async function templateFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => TEMPLATE_EXTENSIONS.has(extname(n))).sort().map((n) => join(dir, n));
}

function describe(error: unknown): string {
  return error instanceof TemplateError ? error.message : error instanceof Error ? error.message : String(error);
}
