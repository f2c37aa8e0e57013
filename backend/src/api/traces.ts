import { LRUCache } from 'lru-cache';
import type { StoredSession, Store } from '../store/index.js';
import type { CompiledTemplate } from '../template/index.js';
import { otlpProtobuf, otlpResourceSpansJson, sessionIdOfTrace, sessionSpans, tempoTraceByIdEnvelope } from '../trace/index.js';
import type { TemplateCatalog } from './catalog.js';
import { badRequest } from './errors.js';

/**
 * The stored session behind a trace id as Tempo clients send it (hex, any case, leading zeros may
 * be dropped); undefined when no stored session has that trace id.
 */
export async function storedOfTrace(store: Store, traceId: string): Promise<StoredSession | undefined> {
  if (!/^[0-9a-fA-F]{1,32}$/.test(traceId)) throw badRequest(`invalid trace id ${JSON.stringify(traceId)}: up to 32 hex digits`);
  const sessionId = sessionIdOfTrace(traceId.padStart(32, '0'));
  return sessionId === undefined ? undefined : store.getStored(sessionId);
}

/** The encodings a trace is served in. */
export type TraceFormat =
  /** OTLP `TracesData` protobuf (= Tempo v1 `tempopb.Trace`). */
  | 'protobuf'
  /** Tempo v2 `TraceByIDResponse` protobuf. */
  | 'tempo-v2'
  /** The OTLP/JSON `resourceSpans` array, as text. */
  | 'json';

interface Entry {
  readonly version: number;
  readonly updatedAt: number;
  readonly template: CompiledTemplate | undefined;
  readonly bodies: Readonly<Partial<Record<TraceFormat, Uint8Array | string>>>;
  readonly bytes: number;
}

/** Default bound of the trace response cache, per API process. */
export const DEFAULT_TRACE_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Encoded traces, cached per session. A body is a pure function of the stored session version and
 * the template that placed its spans, so an entry is used only when the session read from the
 * store for this request has the same version and write time (`updated_ms`, which every write
 * sets: a database rebuilt with the same version numbers cannot be mistaken for the old one) and
 * the catalog returned the same compiled template (a new template revision is a new object). The
 * store is still read for every request — the cache saves the span mapping and the encoding, never
 * the freshness check — so a session updated by any process is served new at once.
 */
export class TraceResponses {
  private readonly cache: LRUCache<string, Entry> | undefined;
  /**
   * Sessions asked for once recently (id → version and write time). A body is cached on its
   * second request only: under random access (most traces are opened once) caching every body
   * kept megabytes of one-off garbage alive for the collector — ~10 % more CPU per request in
   * bench:api — while a trace someone keeps reopening is cached from its second request on.
   */
  private readonly seen: LRUCache<string, string> | undefined;
  private readonly counts = { hits: 0, misses: 0 };

  constructor(
    private readonly catalog: TemplateCatalog,
    maxBytes = DEFAULT_TRACE_CACHE_BYTES,
  ) {
    this.cache = maxBytes > 0 ? new LRUCache<string, Entry>({ maxSize: maxBytes, sizeCalculation: (e) => Math.max(1, e.bytes) }) : undefined;
    this.seen = maxBytes > 0 ? new LRUCache<string, string>({ max: Math.max(1024, Math.floor(maxBytes / 4096)) }) : undefined;
  }

  /** The trace of `stored` in `format` (protobuf as bytes, JSON as the text of `resourceSpans`). */
  async body(stored: StoredSession, format: 'protobuf' | 'tempo-v2'): Promise<Uint8Array>;
  async body(stored: StoredSession, format: 'json'): Promise<string>;
  async body(stored: StoredSession, format: TraceFormat): Promise<Uint8Array | string> {
    const session = stored.session;
    const known = this.catalog.known(session.template);
    const template = known ? known.template : await this.catalog.get(session.template);
    let entry = this.cache?.get(session.id);
    if (entry && (entry.version !== session.version || entry.updatedAt !== stored.updatedAt || entry.template !== template)) entry = undefined;
    const cached = entry?.bodies[format];
    if (cached !== undefined) {
      this.counts.hits++;
      return cached;
    }
    this.counts.misses++;
    let body: Uint8Array | string;
    const protobuf = entry?.bodies.protobuf as Uint8Array | undefined;
    if (format === 'tempo-v2' && protobuf !== undefined) body = tempoTraceByIdEnvelope(protobuf);
    else {
      const spans = sessionSpans(session, template);
      body = format === 'json' ? otlpResourceSpansJson(spans) : format === 'protobuf' ? otlpProtobuf(spans) : tempoTraceByIdEnvelope(otlpProtobuf(spans));
    }
    if (entry === undefined && this.seen !== undefined) {
      const stamp = `${session.version}/${stored.updatedAt}`;
      if (this.seen.get(session.id) !== stamp) {
        this.seen.set(session.id, stamp);
        return body;
      }
      this.seen.delete(session.id);
    }
    // Entries are replaced, never changed in place: the cache sizes an entry when it is set.
    this.cache?.set(session.id, {
      version: session.version,
      updatedAt: stored.updatedAt,
      template,
      bodies: { ...entry?.bodies, [format]: body },
      bytes: (entry?.bytes ?? 256) + (typeof body === 'string' ? body.length * 2 : body.byteLength),
    });
    return body;
  }

  /** Bodies served from the cache and bodies encoded, since start. */
  counters(): { readonly hits: number; readonly misses: number } {
    return { ...this.counts };
  }
}
