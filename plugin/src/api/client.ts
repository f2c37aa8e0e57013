import { getBackendSrv, isFetchError } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';
import { parentsOf } from './types';
import type {
  ApiErrorBody,
  Bucket,
  FieldValues,
  OrphanPage,
  OtlpTrace,
  PreviewRecord,
  PreviewResult,
  SearchPage,
  SessionDetail,
  StatsRow,
  TemplateIssue,
  TemplateRecord,
  TemplateSummary,
  Validation,
} from './types';

/** Query parameters: arrays repeat the key (`verdict=a&verdict=b`), undefined and '' are left out. */
export type Params = Record<string, string | number | boolean | ReadonlyArray<string | number> | undefined>;

/** How requests leave the browser: always through Grafana's proxy (app route or datasource route). */
export interface Transport {
  request<T>(method: 'GET' | 'POST' | 'PUT', path: string, options?: { params?: Params; body?: unknown; text?: boolean }): Promise<T>;
}

export type ApiErrorKind = 'unreachable' | 'unauthorized' | 'bad_request' | 'not_found' | 'server';

/** A failed call, classified so pages can say what to do about it. */
export class WeftApiError extends Error {
  override readonly name = 'WeftApiError';
  constructor(
    readonly kind: ApiErrorKind,
    readonly status: number,
    message: string,
    readonly issues: readonly unknown[] = [],
  ) {
    super(message);
  }

  /** What the user should do, in one sentence. */
  get advice(): string {
    switch (this.kind) {
      case 'unreachable':
        return 'Grafana cannot reach the Weft correlator: check that `weft serve` or `weft run` is running and that the correlator URL on the app\'s Configuration page is right.';
      case 'unauthorized':
        return 'The correlator refused the token: set the token on the Configuration page to the one the correlator was started with (--token).';
      case 'bad_request':
        return 'The correlator refused the request: correct the highlighted input and try again.';
      case 'not_found':
        return 'Not found: it may have been merged, deleted, or the link is wrong.';
      case 'server':
        return 'The correlator failed to answer: see its log for the error.';
    }
  }
}

export function toQueryString(params: Params | undefined): string {
  if (!params) return '';
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue;
    if (Array.isArray(value)) {
      for (const v of value as ReadonlyArray<string | number>) search.append(key, String(v));
    } else {
      search.append(key, String(value));
    }
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** Grafana's proxies answer 502/504 (or a network error, status 0/-1) when the correlator is down. */
export function classify(status: number, body: unknown, fallback: string): WeftApiError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as ApiErrorBody;
  const message = typeof b.message === 'string' && b.message !== '' ? b.message : fallback;
  const issues = Array.isArray(b.issues) ? b.issues : [];
  if (status <= 0 || status === 502 || status === 503 || status === 504) return new WeftApiError('unreachable', status, message, issues);
  if (status === 401 || status === 403) return new WeftApiError('unauthorized', status, message, issues);
  if (status === 404) return new WeftApiError('not_found', status, message, issues);
  if (status >= 400 && status < 500) return new WeftApiError('bad_request', status, message, issues);
  return new WeftApiError('server', status, message, issues);
}

/** Requests through Grafana's backend_srv to `baseUrl` (an app plugin-proxy route or a datasource proxy route). */
export function backendSrvTransport(baseUrl: string): Transport {
  return {
    async request<T>(method: 'GET' | 'POST' | 'PUT', path: string, options: { params?: Params; body?: unknown; text?: boolean } = {}) {
      try {
        const response = await lastValueFrom(
          getBackendSrv().fetch<T>({
            method,
            url: `${baseUrl}${path}${toQueryString(options.params)}`,
            data: options.body,
            responseType: options.text ? 'text' : 'json',
            showErrorAlert: false,
            showSuccessAlert: false,
          }),
        );
        return response.data;
      } catch (error) {
        if (isFetchError(error)) throw classify(error.status, error.data, error.statusText || `HTTP ${error.status}`);
        throw new WeftApiError('unreachable', 0, error instanceof Error ? error.message : String(error));
      }
    },
  };
}

/** Where the app's pages send requests: the `weft` route of plugin.json, i.e. the configured correlator. */
export const APP_PROXY_BASE = '/api/plugin-proxy/weft-sessions-app/weft';

export interface StatsParams {
  readonly from: number;
  readonly to: number;
  readonly bucket: Bucket;
  readonly template?: string;
  readonly verdict?: readonly string[];
  readonly severity?: readonly string[];
}

/** The correlator's API (issue 5), one method per endpoint the plugin uses. */
export class WeftApi {
  constructor(private readonly transport: Transport) {}

  searchSessions(params: Params): Promise<SearchPage> {
    return this.transport.request('GET', '/api/sessions', { params });
  }

  getSession(id: string): Promise<SessionDetail> {
    return this.transport.request('GET', `/api/sessions/${encodeURIComponent(id)}`);
  }

  getTrace(id: string): Promise<OtlpTrace> {
    return this.transport.request('GET', `/api/sessions/${encodeURIComponent(id)}/trace`);
  }

  merge(id: string, other: string): Promise<unknown> {
    return this.transport.request('POST', `/api/sessions/${encodeURIComponent(id)}/merge`, { body: { with: other } });
  }

  unmerge(id: string): Promise<unknown> {
    return this.transport.request('POST', `/api/sessions/${encodeURIComponent(id)}/unmerge`, { body: {} });
  }

  async stats(params: StatsParams): Promise<StatsRow[]> {
    const body = await this.transport.request<{ bucket: Bucket; rows: StatsRow[] }>('GET', '/api/stats', { params: { ...params } });
    return body.rows;
  }

  fieldValues(name: string, params: Params = {}): Promise<FieldValues> {
    return this.transport.request('GET', `/api/fields/${encodeURIComponent(name)}/values`, { params });
  }

  orphans(params: Params = {}): Promise<OrphanPage> {
    return this.transport.request('GET', '/api/orphans', { params });
  }

  async templates(): Promise<TemplateSummary[]> {
    const body = await this.transport.request<{ templates: TemplateSummary[] }>('GET', '/api/templates');
    return body.templates;
  }

  template(id: string): Promise<TemplateRecord> {
    return this.transport.request('GET', `/api/templates/${encodeURIComponent(id)}`);
  }

  saveTemplate(id: string, text: string): Promise<TemplateSummary> {
    return this.transport.request('PUT', `/api/templates/${encodeURIComponent(id)}`, { body: { text } });
  }

  /** A template that does not compile is an answer (`valid: false` with its issues), not an error. */
  async validateTemplate(text: string): Promise<{ ok: boolean; issues: TemplateIssue[]; validation?: Validation }> {
    try {
      const validation = await this.transport.request<Validation>('POST', '/api/templates/validate', { body: { text } });
      return { ok: validation.valid, issues: [...validation.issues], validation };
    } catch (error) {
      if (error instanceof WeftApiError && error.kind === 'bad_request') return { ok: false, issues: templateIssues(error) };
      throw error;
    }
  }

  /**
   * The behaviour tree of a stored template (parent of each step), or undefined when the correlator
   * does not store it (templates given with --template) or it no longer compiles.
   */
  async templateTree(id: string): Promise<Record<string, string | null> | undefined> {
    try {
      const record = await this.template(id);
      const validation = await this.transport.request<Validation>('POST', '/api/templates/validate', { body: { text: record.text } });
      return validation.valid && validation.tree ? parentsOf(validation.tree) : undefined;
    } catch (error) {
      if (error instanceof WeftApiError && error.kind === 'not_found') return undefined;
      throw error;
    }
  }

  preview(text: string, records: readonly PreviewRecord[]): Promise<PreviewResult> {
    return this.transport.request('POST', '/api/templates/preview', { body: { template: text, records } });
  }

  ready(): Promise<{ ready: boolean; detail?: unknown }> {
    return this.transport.request('GET', '/readyz');
  }

  /** Prometheus text exposition of `/metrics` (served by `weft run`; `weft serve` may not have it). */
  metrics(): Promise<string> {
    return this.transport.request('GET', '/metrics', { text: true });
  }
}

/** The template issues carried by a 400 (or the message alone, unlocated, when it has none). */
export function templateIssues(error: WeftApiError): TemplateIssue[] {
  const out: TemplateIssue[] = [];
  for (const raw of error.issues) {
    if (typeof raw !== 'object' || raw === null) continue;
    const i = raw as Record<string, unknown>;
    out.push({
      path: typeof i.path === 'string' ? i.path : '',
      message: typeof i.message === 'string' ? i.message : String(i.message ?? ''),
      ...(typeof i.line === 'number' ? { line: i.line } : {}),
      ...(typeof i.file === 'string' ? { file: i.file } : {}),
    });
  }
  return out.length > 0 ? out : [{ path: '', message: error.message }];
}
