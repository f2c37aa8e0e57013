import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Store, TemplateRecord } from '../store/index.js';
import type { CompiledTemplate } from '../template/index.js';

/** What `buildServer` composes (contract 1 in the cross-team contracts; extend, never rename). */
export interface ApiOptions {
  readonly store: Store;
  /** When set, every route but `/healthz` and `/readyz` needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Off by default. `true` allows any origin; a list allows exactly those origins. */
  readonly cors?: boolean | string[];
  /** Largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** A pino logger, `true` for fastify's default pino logger, `false`/absent for none. */
  readonly logger?: Logger | boolean;
  /** Registered on the same instance inside the bearer-token scope (e.g. `/ingest/:source`, `/metrics`). */
  readonly plugins?: readonly FastifyPluginAsync[];
  readonly hooks?: {
    /** Called after `PUT /api/templates/:id` stored a template that compiled. */
    templateSaved?(record: TemplateRecord, compiled: CompiledTemplate): void | Promise<void>;
  };
  /** What `/readyz` reports; absent: the store is pinged. */
  readonly health?: () => Promise<{ ready: boolean; detail?: unknown }>;
  /**
   * Templates known without the store (e.g. `weft serve --template`, the runtime's loaded set);
   * they win over stored ones of the same id when traces are built.
   */
  readonly templates?: readonly CompiledTemplate[];
  /**
   * Bound, in bytes, of the cache of encoded traces (keyed by session id, used only for the same
   * stored version and template; see TraceResponses). Default 64 MiB; 0 turns it off.
   */
  readonly traceCacheBytes?: number;
}

export const DEFAULT_PORT = 8787;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
