import { createHash } from 'node:crypto';

/**
 * Trace and span ids are derived, never random: a session re-exported after an update (a late
 * record, a merge) must land on the same trace, and a record on the same span, in every process
 * and after every restart.
 */
function digest(text: string, bytes: number): string {
  const hex = createHash('sha256').update(text).digest('hex').slice(0, bytes * 2);
  // All-zero ids are invalid in OTLP; a sha-256 prefix being zero is astronomically unlikely, but cheap to rule out.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** 16 bytes (32 hex digits) from the session id. */
export function traceIdOf(sessionId: string): string {
  return digest(`weft/trace/${sessionId}`, 16);
}

/** 8 bytes for the session's root span. */
export function rootSpanIdOf(sessionId: string): string {
  return digest(`weft/root/${sessionId}`, 8);
}

/**
 * 8 bytes for a record's span: the record's identity (step, event time, raw value) and its
 * occurrence among identical records, so inserting another record does not renumber the rest.
 */
export function recordSpanIdOf(sessionId: string, step: string, time: number, valueJson: string, occurrence: number): string {
  return digest(`weft/span/${sessionId}/${step}/${time}/${occurrence}/${valueJson}`, 8);
}

export const TRACE_ID = /^[0-9a-f]{32}$/;
