/** Epoch seconds below this are taken as seconds (year 5138 in ms; 1973 in s would be 1e11 ms). */
const SECONDS_BELOW = 1e11;

/** Event time in epoch ms from epoch ms, epoch s, or an ISO-8601 string; `undefined` if none parses. */
export function parseEventTime(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? fromEpoch(raw) : undefined;
  if (typeof raw !== 'string' || raw === '') return undefined;
  const iso = isoUtcMs(raw);
  if (iso !== undefined) return iso;
  const asNumber = Number(raw);
  if (Number.isFinite(asNumber)) return fromEpoch(asNumber);
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * `YYYY-MM-DDTHH:mm:ss.sssZ`, the layout `toISOString` writes and most loggers use, read without
 * `Date.parse` (a runtime call that tries every date format): the same value Date.parse gives, or
 * undefined for any other text, which then takes the general path.
 */
export function isoUtcMs(text: string): number | undefined {
  if (text.length !== 24 || text.charCodeAt(23) !== 0x5a /* Z */) return undefined;
  if (text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(10) !== 0x54) return undefined;
  if (text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a || text.charCodeAt(19) !== 0x2e) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const ms = digits(text, 20, 3);
  // Date.parse's own bounds (it takes day 31 of any month, rolling over; 24:00 is left to it).
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return undefined;
  }
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** The decimal number in `text[from, from + count)`, or -1 unless all are ASCII digits. */
function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); a day past the month's end rolls over. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
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
