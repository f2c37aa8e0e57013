import { joinValues } from './evaluate.js';
import type { Lookup, OrphanDoc, SessionDoc } from './types.js';

/**
 * A synchronous in-memory session store for replay: keeps the highest version of every session
 * and answers the late path's lookups by anchor key and by field value.
 */
export class MemorySessions {
  readonly sessions = new Map<string, SessionDoc>();
  /** By orphan id: a re-delivered orphan is stored once. */
  readonly orphans = new Map<string, OrphanDoc>();
  private readonly orphansByJoin = new Map<string, Set<string>>();
  /** Per template: its indexes (maps keyed by short strings, not by concatenations). */
  private readonly indexes = new Map<string, TemplateIndex>();

  /** `indexed`: per template, the fields lookups may ask for (the join fields); only those are indexed. */
  constructor(indexed: ReadonlyMap<string, readonly string[]>) {
    for (const [template, fields] of indexed) {
      this.indexes.set(template, { byKey: new Map(), byField: new Map(fields.map((f) => [f, new Map()])) });
    }
  }

  upsert(doc: SessionDoc): void {
    const old = this.sessions.get(doc.id);
    if (old && old.version >= doc.version) return;
    const index = this.indexOf(doc.template);
    if (old) this.unindexFields(index, old);
    else indexKey(index.byKey, doc.key, doc.id);
    this.sessions.set(doc.id, doc);
    for (const [name, byValue] of index.byField) {
      for (const value of joinValues(doc.fields, name)) addTo(byValue, value, doc.id);
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
    const ids = lookup.by === 'key' ? index?.byKey.get(lookup.key) : index?.byField.get(lookup.field)?.get(lookup.value);
    if (ids === undefined) return [];
    return (typeof ids === 'string' ? [ids] : [...ids]).map((id) => this.sessions.get(id)!);
  }

  private indexOf(template: string): TemplateIndex {
    let index = this.indexes.get(template);
    if (!index) this.indexes.set(template, (index = { byKey: new Map(), byField: new Map() }));
    return index;
  }

  private unindexFields(index: TemplateIndex, doc: SessionDoc): void {
    for (const [name, byValue] of index.byField) {
      for (const value of joinValues(doc.fields, name)) byValue.get(value)?.delete(doc.id);
    }
  }
}

interface TemplateIndex {
  /** Anchor key → session id, or ids when a key has several sessions (splits); no Set per key. */
  readonly byKey: Map<string, string | string[]>;
  /** Join field → value → session ids. */
  readonly byField: Map<string, Map<string, Set<string>>>;
}

function indexKey(byKey: Map<string, string | string[]>, key: string, id: string): void {
  const ids = byKey.get(key);
  if (ids === undefined) byKey.set(key, id);
  else if (typeof ids === 'string') byKey.set(key, [ids, id]);
  else ids.push(id);
}

function fieldKey(template: string, name: string, value: string): string {
  return `${template}\u0000${name}\u0000${value}`;
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key);
  if (set) set.add(id);
  else map.set(key, new Set([id]));
}
