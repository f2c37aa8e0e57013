import { joinValues } from './evaluate.js';
import type { Lookup, OrphanDoc, SessionDoc } from './types.js';

/**
 * A synchronous in-memory session store for replay: keeps the highest version of every session
 * and answers the late path's lookups by anchor key and by field value.
 *
 * A session is found through its anchor key, not through a map by id: a replay fires every
 * session once or twice and looks one up rarely, and on hundreds of thousands of sessions each
 * lookup in a large map is a few cache misses. Going through the key index costs one lookup per
 * fire; a map by id is built only if something asks for a session by id.
 *
 * A replay keeps every session to the end. A final session's records that were read as text come
 * as TextEvents (the engine fires them so): parsed records are trees of objects that young-generation
 * GCs copy to keep (1.15M lines: 305 MiB promoted with trees, 184 MiB with text). Output writes the
 * text as read; the few final sessions read again (late repairs) parse their records on demand.
 */
export class MemorySessions {
  /** By orphan id: a re-delivered orphan is stored once. */
  readonly orphans = new Map<string, OrphanDoc>();
  private readonly orphansByJoin = new Map<string, Set<string>>();
  /** Every session, in the order first stored. */
  private readonly entries: Entry[] = [];
  /** Per template: its indexes (maps keyed by short strings, not by concatenations). */
  private readonly indexes = new Map<string, TemplateIndex>();
  private byId: Map<string, Entry> | undefined;
  /** The index last used: a replay usually runs one template. */
  private last: { readonly template: string; readonly index: TemplateIndex } | undefined;

  /** `indexed`: per template, the fields lookups may ask for (the join fields); only those are indexed. */
  constructor(indexed: ReadonlyMap<string, readonly string[]>) {
    for (const [template, fields] of indexed) {
      this.indexes.set(template, { byKey: new Map(), fields, byField: fields.map(() => new Map()) });
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** The stored version of session `id`. */
  get(id: string): SessionDoc | undefined {
    if (!this.byId) {
      this.byId = new Map();
      for (const entry of this.entries) this.byId.set(entry.doc.id, entry);
    }
    return this.byId.get(id)?.doc;
  }

  /** Every stored session (latest versions), in the order first stored. */
  all(): SessionDoc[] {
    return this.entries.map((entry) => entry.doc);
  }

  upsert(doc: SessionDoc): void {
    const index = this.indexOf(doc.template);
    const ofKey = index.byKey.get(doc.key);
    let entry = find(ofKey, doc.id);
    const old = entry?.doc;
    if (old && old.version >= doc.version) return;
    if (entry) entry.doc = doc;
    else {
      entry = { doc };
      this.entries.push(entry);
      if (ofKey === undefined) index.byKey.set(doc.key, entry);
      else indexKey(index.byKey, doc.key, entry);
      this.byId?.set(doc.id, entry);
    }
    for (let f = 0; f < index.fields.length; f++) {
      const name = index.fields[f]!;
      // Most new versions offer the same value as the last (a scalar field that did not change).
      if (old && old.fields[name] === doc.fields[name]) continue;
      const values = joinValues(doc.fields, name);
      const before = old ? joinValues(old.fields, name) : NO_VALUES;
      const byValue = index.byField[f]!;
      for (let i = 0; i < before.length; i++) if (!values.includes(before[i]!)) unindexKey(byValue, before[i]!, entry);
      for (let i = 0; i < values.length; i++) if (!before.includes(values[i]!)) indexKey(byValue, values[i]!, entry);
    }
  }

  recordOrphan(orphan: OrphanDoc): void {
    this.orphans.set(orphan.id, orphan);
    if (orphan.joinField !== undefined && orphan.joinValue !== undefined) {
      addTo(this.orphansByJoin, fieldKey(orphan.template, orphan.joinField, orphan.joinValue), orphan.id);
    }
  }

  /** Removes and returns the orphans that waited on `field` = `value`. */
  takeOrphans(template: string, field: string, value: string): OrphanDoc[] {
    const key = fieldKey(template, field, value);
    const ids = this.orphansByJoin.get(key);
    if (!ids) return [];
    this.orphansByJoin.delete(key);
    return [...ids].flatMap((id) => {
      const orphan = this.orphans.get(id);
      this.orphans.delete(id);
      return orphan ? [orphan] : [];
    });
  }

  lookup(lookup: Lookup): SessionDoc[] {
    const index = this.indexes.get(lookup.template);
    const found = lookup.by === 'key' ? index?.byKey.get(lookup.key) : index?.byField[index.fields.indexOf(lookup.field)]?.get(lookup.value);
    if (found === undefined) return [];
    return Array.isArray(found) ? found.map((entry) => entry.doc) : [found.doc];
  }

  private indexOf(template: string): TemplateIndex {
    if (this.last !== undefined && this.last.template === template) return this.last.index;
    let index = this.indexes.get(template);
    if (!index) this.indexes.set(template, (index = { byKey: new Map(), fields: [], byField: [] }));
    this.last = { template, index };
    return index;
  }
}

/** A stored session: indexes point at the entry, so a new version replaces the document in one place. */
interface Entry {
  doc: SessionDoc;
}

/** One entry, or several when sessions share the key or value (no collection per entry). */
type Entries = Entry | Entry[];

interface TemplateIndex {
  /** Anchor key → its sessions. */
  readonly byKey: Map<string, Entries>;
  /** The indexed (join) fields, and by position in it: value → sessions. */
  readonly fields: readonly string[];
  readonly byField: ReadonlyArray<Map<string, Entries>>;
}

function find(found: Entries | undefined, id: string): Entry | undefined {
  if (found === undefined) return undefined;
  if (!Array.isArray(found)) return found.doc.id === id ? found : undefined;
  for (let i = 0; i < found.length; i++) if (found[i]!.doc.id === id) return found[i];
  return undefined;
}

function indexKey(index: Map<string, Entries>, key: string, entry: Entry): void {
  const found = index.get(key);
  if (found === undefined) index.set(key, entry);
  else if (!Array.isArray(found)) {
    if (found !== entry) index.set(key, [found, entry]);
  } else if (!found.includes(entry)) found.push(entry);
}

function unindexKey(index: Map<string, Entries>, key: string, entry: Entry): void {
  const found = index.get(key);
  if (found === entry) index.delete(key);
  else if (Array.isArray(found)) {
    const rest = found.filter((other) => other !== entry);
    if (rest.length === 0) index.delete(key);
    else index.set(key, rest.length === 1 ? rest[0]! : rest);
  }
}

const NO_VALUES: readonly string[] = Object.freeze([]);

function fieldKey(template: string, name: string, value: string): string {
  return `${template}\u0000${name}\u0000${value}`;
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key);
  if (set) set.add(id);
  else map.set(key, new Set([id]));
}
