import { digest as cryptoDigest } from '../engine/hash.js';

const sha256Hex = (text: string): string => cryptoDigest('sha256', text, 'hex');

/**
 * Trace and span ids are derived, never random: a session re-exported after an update (a late
 * record, a merge) must land on the same trace, and a record on the same span, in every process
 * and after every restart.
 */
function digest(text: string, bytes: number): string {
  const hex = sha256Hex(text).slice(0, bytes * 2);
  // All-zero ids are invalid in OTLP; a sha-256 prefix being zero is astronomically unlikely, but cheap to rule out.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** The engine's session ids: a 64-bit hash as 16 hex digits (engine/hash.ts). */
const ENGINE_ID = /^[0-9a-f]{16}$/;

/**
 * 16 bytes (32 hex digits) from the session id. For the engine's ids (16 hex digits) the trace id
 * is an 8-byte digest of the id followed by the id itself, so a trace id leads back to its session
 * with one primary-key read and no extra index; other ids get a 16-byte digest (their traces are
 * served under `/api/sessions/:id/trace`, but cannot be looked up by trace id).
 */
export function traceIdOf(sessionId: string): string {
  return ENGINE_ID.test(sessionId) ? `${digest(`weft/trace/${sessionId}`, 8)}${sessionId}` : digest(`weft/trace/${sessionId}`, 16);
}

/** The session id a trace id was derived from, when it was an engine id; else undefined. */
export function sessionIdOfTrace(traceId: string): string | undefined {
  const id = traceId.toLowerCase();
  if (!TRACE_ID.test(id)) return undefined;
  const candidate = id.slice(16);
  return traceIdOf(candidate) === id ? candidate : undefined;
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
