/** Epoch seconds below this are taken as seconds (year 5138 in ms; 1973 in s would be 1e11 ms). */
const SECONDS_BELOW = 1e11;

/** Event time in epoch ms from epoch ms, epoch s, or an ISO-8601 string; `undefined` if none parses. */
export function parseEventTime(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? fromEpoch(raw) : undefined;
  if (typeof raw !== 'string' || raw === '') return undefined;
  const asNumber = Number(raw);
  if (Number.isFinite(asNumber)) return fromEpoch(asNumber);
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : ms;
}

function fromEpoch(n: number): number {
  if (Math.abs(n) < SECONDS_BELOW) return Math.round(n * 1000);
  // Already whole ms (the usual case): the value itself, not a fresh heap number from Math.round.
  return Number.isInteger(n) ? n : Math.round(n);
}

/** Reads `name` as a top-level key first (`@timestamp`), else as a dotted path (`meta.ts`). */
export function readPath(record: unknown, name: string): unknown {
  if (!record || typeof record !== 'object') return undefined;
  const direct = (record as Record<string, unknown>)[name];
  if (direct !== undefined || !name.includes('.')) return direct;
  let node: unknown = record;
  for (const part of name.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
