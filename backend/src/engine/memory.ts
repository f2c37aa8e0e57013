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
      this.indexes.set(template, { byKey: new Map(), fields, byField: fields.map(() => new Map()) });
    }
  }

  upsert(doc: SessionDoc): void {
    const old = this.sessions.get(doc.id);
    if (old && old.version >= doc.version) return;
    const index = this.indexOf(doc.template);
    if (!old) indexKey(index.byKey, doc.key, doc.id);
    this.sessions.set(doc.id, doc);
    for (let f = 0; f < index.fields.length; f++) {
      const name = index.fields[f]!;
      // Most new versions offer the same value as the last (a scalar field that did not change).
      if (old && old.fields[name] === doc.fields[name]) continue;
      const values = joinValues(doc.fields, name);
      const before = old ? joinValues(old.fields, name) : NO_VALUES;
      const byValue = index.byField[f]!;
      for (let i = 0; i < before.length; i++) if (!values.includes(before[i]!)) unindexKey(byValue, before[i]!, old!.id);
      for (let i = 0; i < values.length; i++) if (!before.includes(values[i]!)) indexKey(byValue, values[i]!, doc.id);
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
    const ids = lookup.by === 'key' ? index?.byKey.get(lookup.key) : index?.byField[index.fields.indexOf(lookup.field)]?.get(lookup.value);
    if (ids === undefined) return [];
    return (typeof ids === 'string' ? [ids] : [...ids]).map((id) => this.sessions.get(id)!);
  }

  private indexOf(template: string): TemplateIndex {
    let index = this.indexes.get(template);
    if (!index) this.indexes.set(template, (index = { byKey: new Map(), fields: [], byField: [] }));
    return index;
  }
}

/** Session id, or ids when several sessions share the key or value (no collection per entry). */
type Ids = string | string[];

interface TemplateIndex {
  /** Anchor key → session ids. */
  readonly byKey: Map<string, Ids>;
  /** The indexed (join) fields, and by position in it: value → session ids. */
  readonly fields: readonly string[];
  readonly byField: ReadonlyArray<Map<string, Ids>>;
}

function indexKey(index: Map<string, Ids>, key: string, id: string): void {
  const ids = index.get(key);
  if (ids === undefined) index.set(key, id);
  else if (typeof ids === 'string') {
    if (ids !== id) index.set(key, [ids, id]);
  } else if (!ids.includes(id)) ids.push(id);
}

function unindexKey(index: Map<string, Ids>, key: string, id: string): void {
  const ids = index.get(key);
  if (ids === id) index.delete(key);
  else if (Array.isArray(ids)) {
    const rest = ids.filter((other) => other !== id);
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
