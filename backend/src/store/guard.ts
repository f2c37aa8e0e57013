import type { PreparedSession } from './normalise.js';
import { StoreConflictError, StoreInputError, type MergeRecord, type MovedSession, type OperatorChange } from './types.js';

/**
 * What a guarded write adds to an upsert transaction: the versions to find under lock before
 * writing, and the operator-merge rows to write with the sessions (see Store.replaceIfUnchanged).
 */
export interface WriteGuard {
  readonly expected: ReadonlyMap<string, number | null>;
  readonly recordMerges: readonly MergeRecord[];
  readonly deleteMerges: readonly string[];
  /** Wall-clock ms recorded as the merges' time. */
  readonly mergedAt: number;
}

/**
 * The guard of a well-formed change, or a StoreInputError saying what is wrong with it. A change
 * that passes cannot be half applied by the upsert's own rule (a version not above the stored one
 * is skipped): every written version is above the version that the check finds stored.
 */
export function guardOf(change: OperatorChange, now: number): WriteGuard {
  const { expected, sessions } = change;
  if (!(expected instanceof Map)) throw new StoreInputError('operator change: expected must be a Map of session id to the version read');
  if (sessions.length === 0) throw new StoreInputError('operator change: no session to write');
  const written = new Set<string>();
  for (const s of sessions) {
    if (written.has(s.id)) throw new StoreInputError(`operator change: session ${s.id} is written twice`);
    written.add(s.id);
    if (!expected.has(s.id)) throw new StoreInputError(`operator change: session ${s.id} is written but its version read is not given in expected`);
    const read = expected.get(s.id)!;
    if (read !== null && !(s.version > read)) {
      throw new StoreInputError(`operator change: session ${s.id} is written at version ${s.version}, not above the version read (${read})`);
    }
  }
  for (const [id, version] of expected) {
    if (version !== null && !Number.isSafeInteger(version)) throw new StoreInputError(`operator change: expected version of ${id} must be an integer or null, got ${String(version)}`);
  }
  const recordMerges = change.recordMerges ?? [];
  for (const m of recordMerges) {
    const link = `merge of ${m.absorbed.id} into ${m.survivorId}`;
    if (m.survivorId === m.absorbed.id) throw new StoreInputError(`operator change: ${link}: a session cannot absorb itself`);
    for (const id of [m.survivorId, m.absorbed.id]) {
      if (!written.has(id)) throw new StoreInputError(`operator change: ${link}: session ${id} is not written with it`);
    }
    if (expected.get(m.absorbed.id) !== m.absorbed.version) {
      throw new StoreInputError(
        `operator change: ${link}: the absorbed session recorded is version ${m.absorbed.version}, not the version read (${expected.get(m.absorbed.id)})`,
      );
    }
  }
  const deleteMerges = change.deleteMerges ?? [];
  for (const id of deleteMerges) {
    if (!written.has(id)) throw new StoreInputError(`operator change: the merge of ${id} is deleted but session ${id} is not written with it`);
  }
  return { expected, recordMerges, deleteMerges, mergedAt: now };
}

/**
 * The ids an upsert transaction reads before writing: the batch's, and a guard's (those only read),
 * each once, in id order (the order in which a server that locks rows takes the locks).
 */
export function idsToRead(batch: readonly PreparedSession[], guard: WriteGuard | undefined): string[] {
  return [...new Set([...batch.map((p) => p.row.id), ...(guard?.expected.keys() ?? [])])].sort();
}

/** Throws StoreConflictError unless every expected session is stored at its expected version. */
export function requireUnchanged(guard: WriteGuard, storedVersion: (id: string) => number | null): void {
  const moved: MovedSession[] = [];
  for (const [id, expected] of guard.expected) {
    const stored = storedVersion(id);
    if (stored !== expected) moved.push({ id, expected, stored });
  }
  if (moved.length > 0) throw new StoreConflictError(moved);
}
