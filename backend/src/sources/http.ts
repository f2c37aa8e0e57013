/**
 * HTTP ingest: `POST /ingest/<source>` with NDJSON (one record per line) or a JSON array. Each
 * record is checked (JSON object, parsable time for a template that reads the source); bad ones
 * are answered with their line numbers (400) and dead-lettered, the good ones next to them are
 * still taken. The answer comes once the good records are durable (in Kafka, or in embedded mode
 * through the engine into the store). Bodies over the limit get 413 before any of this runs.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Router } from '../run/route.js';
import type { RunMetrics } from '../run/metrics.js';
import type { DeadLetter, DeadLetters } from './deadletter.js';

export interface IngestRecord {
  readonly value: unknown;
  /** The record's JSON text as received. */
  readonly text: string;
}

export interface IngestTarget {
  /** Resolves once `records` are durable. */
  take(source: string, records: readonly IngestRecord[]): Promise<void>;
  /** True while ingest should be refused (backpressure): the caller gets 503 and retries. */
  busy(): boolean;
}

export interface IngestOptions {
  readonly target: IngestTarget;
  /** The current routers (templates change at run time). */
  readonly routers: () => ReadonlyMap<string, Router>;
  readonly metrics: RunMetrics;
  readonly deadLetters: DeadLetters;
  readonly bodyLimit: number;
}

interface LineError {
  readonly line: number;
  readonly reason: string;
}

const MAX_ERRORS_SHOWN = 100;

export function ingestPlugin(options: IngestOptions): FastifyPluginAsync {
  return async (app) => {
    // Own parsers in this scope only: the body is split here so one bad line cannot fail the rest.
    app.removeContentTypeParser(['application/json', 'text/plain']);
    app.addContentTypeParser(['application/json', 'application/x-ndjson', 'application/ndjson', 'text/plain'],
      { parseAs: 'string', bodyLimit: options.bodyLimit }, (_request, body, done) => done(null, body));

    app.post<{ Params: { source: string } }>('/ingest/:source', { bodyLimit: options.bodyLimit }, async (request, reply) => {
      const { source } = request.params;
      const routers = [...options.routers().values()].filter((r) => r.template.sources.has(source));
      if (routers.length === 0) {
        return reply.status(404).send({ error: 'unknown_source', message: `no template reads source "${source}"` });
      }
      if (options.target.busy()) {
        return reply.status(503).header('retry-after', '1').send({ error: 'busy', message: 'the store is behind; retry shortly' });
      }
      const body = typeof request.body === 'string' ? request.body : '';
      const { records, errors, dead } = split(body, source, routers, request.id);
      options.metrics.recordsIn.inc({ source }, records.length + errors.length);
      for (const d of dead) {
        options.metrics.rejected.inc({ source, reason: d.reason });
        options.metrics.deadLetters.inc({ source, reason: d.reason });
      }
      await options.deadLetters.send(dead);
      if (records.length > 0) await options.target.take(source, records);
      const answer = {
        accepted: records.length,
        rejected: errors.length,
        errors: errors.slice(0, MAX_ERRORS_SHOWN),
        ...(errors.length > MAX_ERRORS_SHOWN ? { moreErrors: errors.length - MAX_ERRORS_SHOWN } : {}),
      };
      return reply.status(errors.length > 0 ? 400 : 200).send(answer);
    });
  };
}

function split(body: string, source: string, routers: readonly Router[], requestId: string): { records: IngestRecord[]; errors: LineError[]; dead: DeadLetter[] } {
  const records: IngestRecord[] = [];
  const errors: LineError[] = [];
  const dead: DeadLetter[] = [];
  const bad = (line: number, reason: 'malformed' | 'no_time', detail: string, raw: string) => {
    errors.push({ line, reason: detail });
    dead.push({ source, reason, detail, raw, origin: `http ${requestId} line ${line}` });
  };
  const check = (line: number, value: unknown, text: string) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return bad(line, 'malformed', 'record is not a JSON object', text);
    let refusal: string | undefined;
    for (const router of routers) {
      const route = router.route(source, value);
      if (route.kind !== 'rejected') return records.push({ value, text });
      refusal ??= route.detail;
    }
    bad(line, 'no_time', refusal ?? 'refused', text);
  };
  const trimmed = body.trimStart();
  if (trimmed.startsWith('[')) {
    let items: unknown;
    try {
      items = JSON.parse(body);
    } catch (error) {
      bad(1, 'malformed', `not a JSON array: ${(error as Error).message}`, body.slice(0, 10_000));
      return { records, errors, dead };
    }
    (items as unknown[]).forEach((item, i) => check(i + 1, item, JSON.stringify(item)));
    return { records, errors, dead };
  }
  const lines = body.split('\n');
  lines.forEach((raw, i) => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return bad(i + 1, 'malformed', `malformed JSON: ${(error as Error).message}`, text);
    }
    check(i + 1, value, text);
  });
  return { records, errors, dead };
}
