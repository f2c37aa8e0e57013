import type { SessionDoc } from '../engine/types.js';
import type { Store } from '../store/index.js';
import { sessionIdOfTrace, sessionSpans } from '../trace/index.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TemplateCatalog } from './catalog.js';
import { badRequest } from './errors.js';

/** A session's spans, placed by its template's behaviour tree when the template is known. */
export async function spansOf(session: SessionDoc, catalog: TemplateCatalog): Promise<ReadableSpan[]> {
  return sessionSpans(session, await catalog.get(session.template));
}

/**
 * The session behind a trace id as Tempo clients send it (hex, any case, leading zeros may be
 * dropped); undefined when no stored session has that trace id.
 */
export async function sessionOfTrace(store: Store, traceId: string): Promise<SessionDoc | undefined> {
  if (!/^[0-9a-fA-F]{1,32}$/.test(traceId)) throw badRequest(`invalid trace id ${JSON.stringify(traceId)}: up to 32 hex digits`);
  const sessionId = sessionIdOfTrace(traceId.padStart(32, '0'));
  return sessionId === undefined ? undefined : store.getSession(sessionId);
}
