import { evaluate } from '../engine/evaluate.js';
import { SessionState, type HeldEvent } from '../engine/session.js';
import { plainEvent, type EventDoc, type SessionDoc } from '../engine/types.js';
import { StoreConflictError, type OperatorChange, type Store } from '../store/index.js';
import type { CompiledTemplate } from '../template/index.js';
import type { TemplateCatalog } from './catalog.js';
import { ApiError, badRequest, notFound } from './errors.js';

const conflict = (message: string) => new ApiError(409, message);

/**
 * The session `base` with `events` as its records, re-evaluated by the engine's own code (fields,
 * verdict), at the next version. The window is the span of its events (supplements included, as an
 * operator's merge is not bound by the anchor windows).
 */
function reevaluated(base: SessionDoc, events: readonly EventDoc[], template: CompiledTemplate): SessionDoc {
  const held: HeldEvent[] = events.map((e, i) => ({ ...plainEvent(e), stepIndex: template.stepsByName.get(e.step)?.index ?? template.steps.length, id: `operator-${i}`, raw: undefined }));
  const start = held.length > 0 ? Math.min(...held.map((e) => e.time)) : base.start;
  const end = held.length > 0 ? Math.max(...held.map((e) => e.time)) : base.end;
  const state = new SessionState(base.id, base.key, start, end, held, base.version, base.status, base.splitOf);
  const result = evaluate(template, state);
  return {
    ...base,
    start,
    end,
    version: base.version + 1,
    fields: result.fields,
    verdict: result.verdict,
    severity: result.severity,
    explain: result.explain,
    events: state.events.map(plainEvent),
  };
}

/** The last merge or unmerge queued per store (see {@link oneAtATime}). */
const pendingMerges = new WeakMap<Store, Promise<unknown>>();

/**
 * Runs operator merges and unmerges of one store one after the other. Each reads both sessions,
 * checks them, then writes: two at once (the same pair twice, a pair in both directions, one
 * session into two targets) both passed the checks before either wrote. The write is guarded
 * (see {@link applyIfUnchanged}), so the second would now fail with a 409 "changed meanwhile";
 * queued, it reads the first one's result and gets the precise answer (already merged), which is
 * what an operator wants within one process. Across processes, the guard alone decides.
 */
function oneAtATime<T>(store: Store, work: () => Promise<T>): Promise<T> {
  const previous = pendingMerges.get(store) ?? Promise.resolve();
  const result = previous.then(work, work);
  pendingMerges.set(store, result.catch(() => undefined));
  return result;
}

async function load(store: Store, id: string): Promise<SessionDoc> {
  const session = await store.getSession(id);
  if (!session) throw notFound(`session ${id} not found`);
  return session;
}

async function templateOf(catalog: TemplateCatalog, id: string): Promise<CompiledTemplate> {
  const template = await catalog.get(id);
  if (!template) throw conflict(`template ${id} is not known to this server (save it with PUT /api/templates/${id}): the merged session cannot be re-evaluated`);
  return template;
}

/**
 * The operator's decision that `otherId` belongs to `targetId` (a suspected split): the target takes
 * the other's records and is re-evaluated; the other becomes a tombstone `mergedInto` the target
 * (leaving the rollups); what it was is kept so that an unmerge can restore it.
 */
export async function mergeSessions(store: Store, catalog: TemplateCatalog, targetId: string, otherId: string): Promise<{ session: SessionDoc; absorbed: SessionDoc }> {
  if (targetId === otherId) throw badRequest('a session cannot be merged with itself');
  return oneAtATime(store, () => merge(store, catalog, targetId, otherId));
}

async function merge(store: Store, catalog: TemplateCatalog, targetId: string, otherId: string): Promise<{ session: SessionDoc; absorbed: SessionDoc }> {
  const [target, other] = await Promise.all([load(store, targetId), load(store, otherId)]);
  if (target.status === 'merged') throw conflict(`session ${targetId} was merged into ${target.mergedInto}: merge into that one`);
  if (other.status === 'merged') throw conflict(`session ${otherId} is already merged into ${other.mergedInto}`);
  // An open session is still held by the correlator that fires it (`weft run`): its next fires come
  // from the engine's own copy, which knows nothing of this merge (the first, at a version the merge
  // used, would be dropped; a later one would replace the merged view). A closed one is repaired
  // from the store, merge included, by the late path.
  for (const s of [target, other]) {
    if (s.status === 'open') throw conflict(`session ${s.id} is still open (the correlator may still add records to it): merge it once its window has closed and it is final`);
  }
  if (target.template !== other.template) throw badRequest(`sessions of different templates (${target.template}, ${other.template}) cannot be merged`);
  const template = await templateOf(catalog, target.template);
  const merged = reevaluated(target, [...target.events, ...other.events], template);
  const session: SessionDoc = { ...merged, splitOf: target.splitOf === other.id ? null : target.splitOf };
  const absorbed: SessionDoc = { ...other, status: 'merged', mergedInto: target.id, version: other.version + 1, events: [] };
  await applyIfUnchanged(store, {
    expected: new Map([
      [target.id, target.version],
      [other.id, other.version],
    ]),
    sessions: [session, absorbed],
    recordMerges: [{ survivorId: target.id, absorbed: other }],
  });
  return { session, absorbed };
}

/** Undoes the operator merges into `id`: each absorbed session comes back as it was; `id` loses their records. */
export async function unmergeSession(store: Store, catalog: TemplateCatalog, id: string): Promise<{ session: SessionDoc; restored: SessionDoc[] }> {
  return oneAtATime(store, () => unmerge(store, catalog, id));
}

async function unmerge(store: Store, catalog: TemplateCatalog, id: string): Promise<{ session: SessionDoc; restored: SessionDoc[] }> {
  const target = await load(store, id);
  // A tombstone's records now live in its survivor (with those it had absorbed): restoring what it
  // absorbed would count those records twice, once in the survivor and once in the restored session.
  if (target.status === 'merged') throw conflict(`session ${id} was merged into ${target.mergedInto}: unmerge ${target.mergedInto} first`);
  const merges = await store.merges(id);
  if (merges.length === 0) throw conflict(`session ${id} has no operator merge to undo`);
  const template = await templateOf(catalog, target.template);
  const remaining = new Map<string, number>();
  for (const m of merges) for (const e of m.absorbed.events) remaining.set(identity(e), (remaining.get(identity(e)) ?? 0) + 1);
  const kept = target.events.filter((e) => {
    const n = remaining.get(identity(e)) ?? 0;
    if (n === 0) return true;
    remaining.set(identity(e), n - 1);
    return false;
  });
  const session = reevaluated(target, kept, template);
  const restored: SessionDoc[] = [];
  const expected = new Map<string, number | null>([[target.id, target.version]]);
  for (const m of merges) {
    const current = await store.getSession(m.absorbed.id);
    expected.set(m.absorbed.id, current?.version ?? null);
    restored.push({ ...m.absorbed, version: Math.max(m.absorbed.version, current?.version ?? 0) + 1 });
  }
  await applyIfUnchanged(store, { expected, sessions: [session, ...restored], deleteMerges: merges.map((m) => m.absorbed.id) });
  return { session, restored };
}

/**
 * Writes a merge or unmerge only if the sessions it was computed from are still the versions read:
 * another process (a second `weft serve` worker, another server, `weft run`'s engine firing a late
 * record) may have written one of them since, and the change computed from the old version would
 * overwrite or half-apply over it. Nothing is written then; the operator reads again and retries.
 */
async function applyIfUnchanged(store: Store, change: OperatorChange): Promise<void> {
  try {
    await store.replaceIfUnchanged(change);
  } catch (error) {
    if (!(error instanceof StoreConflictError)) throw error;
    const which = error.ids.length === 1 ? `session ${error.ids[0]}` : `sessions ${error.ids.join(', ')}`;
    throw conflict(`${which} changed since this request read it (another merge or unmerge, or a new version from the engine): nothing was changed; retry`);
  }
}

function identity(e: EventDoc): string {
  return `${e.step}\u0000${e.time}\u0000${JSON.stringify(e.value)}`;
}
