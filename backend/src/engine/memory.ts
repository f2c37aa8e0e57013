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
  /** Anchor key → session id, or ids when a key has several sessions (splits); no Set per key. */
  private readonly byKey = new Map<string, string | string[]>();
  private readonly byField = new Map<string, Set<string>>();

  /** `indexed`: per template, the fields lookups may ask for (the join fields); only those are indexed. */
  constructor(private readonly indexed: ReadonlyMap<string, readonly string[]>) {}

  upsert(doc: SessionDoc): void {
    const old = this.sessions.get(doc.id);
    if (old && old.version >= doc.version) return;
    if (old) this.unindexFields(old);
    else this.indexKey(`${doc.template}\u0000${doc.key}`, doc.id);
    this.sessions.set(doc.id, doc);
    for (const name of this.indexed.get(doc.template) ?? []) {
      for (const value of joinValues(doc.fields, name)) addTo(this.byField, fieldKey(doc.template, name, value), doc.id);
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
    const ids = lookup.by === 'key'
      ? this.byKey.get(`${lookup.template}\u0000${lookup.key}`)
      : this.byField.get(fieldKey(lookup.template, lookup.field, lookup.value));
    if (ids === undefined) return [];
    return (typeof ids === 'string' ? [ids] : [...ids]).map((id) => this.sessions.get(id)!);
  }

  private indexKey(key: string, id: string): void {
    const ids = this.byKey.get(key);
    if (ids === undefined) this.byKey.set(key, id);
    else if (typeof ids === 'string') this.byKey.set(key, [ids, id]);
    else ids.push(id);
  }

  private unindexFields(doc: SessionDoc): void {
    for (const name of this.indexed.get(doc.template) ?? []) {
      for (const value of joinValues(doc.fields, name)) this.byField.get(fieldKey(doc.template, name, value))?.delete(doc.id);
    }
  }
}

function fieldKey(template: string, name: string, value: string): string {
  return `${template}\u0000${name}\u0000${value}`;
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key);
  if (set) set.add(id);
  else map.set(key, new Set([id]));
}
