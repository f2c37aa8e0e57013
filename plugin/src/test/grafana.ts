/**
 * Grafana's runtime services for unit tests — the one thing that cannot run here. Requests made
 * through getBackendSrv().fetch are recorded and answered by the test's handler (with the status
 * and body a real Grafana proxy would give), template variables are replaced the way Grafana's
 * TemplateSrv does for the syntaxes and formats the plugin uses.
 */
import type { ScopedVars } from '@grafana/data';
import { setBackendSrv, setTemplateSrv, type BackendSrv, type BackendSrvRequest, type TemplateSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';

export interface Recorded {
  readonly method: string;
  /** Full URL as the plugin asked for it (proxy prefix included). */
  readonly url: string;
  /** The path after the proxy prefix (`/api/sessions`). */
  readonly path: string;
  readonly params: URLSearchParams;
  readonly data: unknown;
}

export interface Reply {
  readonly status?: number;
  readonly body: unknown;
}

export type Handler = (request: Recorded) => Reply | Promise<Reply>;

const PREFIXES = ['/api/plugin-proxy/weft-sessions-app/weft', '/api/datasources/proxy/uid/weft-uid/weft'];

export function fakeBackend(handler: Handler): { requests: Recorded[] } {
  const requests: Recorded[] = [];
  const fetch = (options: BackendSrvRequest) =>
    new Observable((subscriber) => {
      const [pathPart, query = ''] = options.url.split('?');
      const prefix = PREFIXES.find((p) => pathPart!.startsWith(p)) ?? '';
      const request: Recorded = {
        method: options.method ?? 'GET',
        url: options.url,
        path: decodeURIComponent(pathPart!.slice(prefix.length)),
        params: new URLSearchParams(query),
        data: options.data,
      };
      requests.push(request);
      Promise.resolve(handler(request)).then(({ status = 200, body }) => {
        if (status >= 400 || status <= 0) {
          subscriber.error({ status, data: body, statusText: `HTTP ${status}`, config: options });
        } else {
          subscriber.next({ data: body, status, ok: true, statusText: 'OK', headers: new Headers(), redirected: false, type: 'basic', url: options.url, config: options });
          subscriber.complete();
        }
      });
    });
  setBackendSrv({ fetch } as unknown as BackendSrv);
  return { requests };
}

/** Answers by `METHOD /path` (query string ignored); unknown routes get the correlator's 404. */
export function routes(table: Record<string, Reply | ((r: Recorded) => Reply | Promise<Reply>)>): Handler {
  return (request) => {
    const entry = table[`${request.method} ${request.path}`];
    if (entry === undefined) return { status: 404, body: { error: 'not_found', message: `no route ${request.method} ${request.path}` } };
    return typeof entry === 'function' ? entry(request) : entry;
  };
}

/** Never answers: the page stays in its loading state. */
export const pending = (): Promise<Reply> => new Promise(() => undefined);

export function fakeTemplateSrv(variables: Record<string, string | string[]>): void {
  const replace = (target?: string, scopedVars?: ScopedVars, format?: string | Function): string => {
    if (!target) return '';
    return target.replace(/\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]/g, (match, braced, fmt, plain, old) => {
      const name = braced ?? plain ?? old;
      const scoped = scopedVars?.[name]?.value;
      const value = (scoped ?? variables[name]) as string | string[] | undefined;
      if (value === undefined) return match;
      const f = fmt ?? format;
      if (typeof f === 'function') return f(value);
      if (!Array.isArray(value)) return value;
      if (f === 'csv') return value.join(',');
      return value.length === 1 ? value[0]! : `{${value.join(',')}}`;
    });
  };
  setTemplateSrv({ replace, getVariables: () => [], containsTemplate: (t?: string) => Boolean(t?.includes('$')), updateTimeRange: () => undefined } as unknown as TemplateSrv);
}
