import {
  DataSourceApi,
  type AdHocVariableFilter,
  type DataFrame,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type MetricFindValue,
  type QueryResultMetaNotice,
  type ScopedVars,
  type TestDataSourceResponse,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { backendSrvTransport, WeftApi, WeftApiError, type Params, type Transport } from '../api/client';
import { filterParams, parseFieldFilter } from '../api/filters';
import { SEVERITIES } from '../api/types';
import { bucketFor, fieldValuesFrame, sessionsFrame, traceFrame, verdictCountFrames } from './frames';
import { DEFAULT_QUERY, type WeftDataSourceOptions, type WeftQuery } from './types';

/** Ad-hoc filter keys that are session columns rather than fields. */
const COLUMN_KEYS = ['template', 'verdict', 'severity', 'key'] as const;
const RANGE_SUFFIX: Record<string, string> = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };

/**
 * `weft-sessions-datasource`: a frontend datasource whose requests go through its `weft` proxy
 * route (plugin.json), so the correlator URL and token stay on Grafana's server.
 */
export class WeftDataSource extends DataSourceApi<WeftQuery, WeftDataSourceOptions> {
  readonly api: WeftApi;

  constructor(instanceSettings: DataSourceInstanceSettings<WeftDataSourceOptions>, transport?: Transport) {
    super(instanceSettings);
    this.api = new WeftApi(transport ?? backendSrvTransport(`${instanceSettings.url ?? ''}/weft`));
  }

  override getDefaultQuery(): Partial<WeftQuery> {
    return DEFAULT_QUERY;
  }

  override filterQuery(query: WeftQuery): boolean {
    if (query.hide) return false;
    if (query.queryType === 'trace') return Boolean(query.sessionId);
    if (query.queryType === 'fieldValues') return Boolean(query.field);
    return true;
  }

  async query(request: DataQueryRequest<WeftQuery>): Promise<DataQueryResponse> {
    const targets = request.targets.filter((t) => this.filterQuery(t));
    const results = await Promise.allSettled(targets.map((t) => this.runQuery(t, request)));
    const data: DataFrame[] = [];
    const errors: Array<{ refId: string; message: string; status?: number }> = [];
    results.forEach((result, index) => {
      const refId = targets[index]!.refId;
      if (result.status === 'fulfilled') data.push(...result.value);
      else errors.push({ refId, message: errorMessage(result.reason), ...(result.reason instanceof WeftApiError ? { status: result.reason.status } : {}) });
    });
    return errors.length > 0 ? { data, errors, error: errors[0] } : { data };
  }

  private async runQuery(query: WeftQuery, request: DataQueryRequest<WeftQuery>): Promise<DataFrame[]> {
    const scoped = request.scopedVars;
    switch (query.queryType ?? 'sessions') {
      case 'sessions': {
        const { params, notices } = this.searchParams(query, request);
        const page = await this.api.searchSessions({ ...params, limit: query.limit ?? 100 });
        const frame = sessionsFrame(page.sessions, query.refId);
        frame.meta = { ...frame.meta, notices };
        return [frame];
      }
      case 'trace': {
        const id = this.interpolate(query.sessionId ?? '', scoped);
        return [traceFrame(await this.api.getTrace(id), query.refId)];
      }
      case 'verdictCounts': {
        const { params, notices } = this.searchParams(query, request);
        const { bucket } = bucketFor(request.intervalMs);
        const range = { from: request.range.from.valueOf(), to: request.range.to.valueOf() };
        const rows = await this.api.stats({
          from: range.from,
          to: range.to,
          bucket,
          ...(typeof params.template === 'string' ? { template: params.template } : {}),
          ...(Array.isArray(params.verdict) ? { verdict: params.verdict as string[] } : {}),
          ...(Array.isArray(params.severity) ? { severity: params.severity as string[] } : {}),
        });
        const frames = verdictCountFrames(rows, range, request.intervalMs, query.refId, query.seriesBy ?? 'verdict');
        if (frames[0]) frames[0].meta = { ...frames[0].meta, notices };
        return frames;
      }
      case 'fieldValues': {
        const field = this.interpolate(query.field ?? '', scoped);
        const template = this.interpolate(query.template ?? '', scoped);
        const result = await this.api.fieldValues(field, { template, limit: query.limit ?? 20 });
        const frame = fieldValuesFrame(field, result.values, query.refId);
        if (!result.complete) frame.meta = { ...frame.meta, notices: [{ severity: 'info', text: 'Counts are from a sample (the scan limit was reached).' }] };
        return [frame];
      }
    }
  }

  /**
   * The API parameters of a query: its own settings with template variables replaced, then the
   * dashboard's ad-hoc filters. Multi-value variables become the API's lists (`a,b` for columns,
   * `a|b` in field conditions).
   */
  searchParams(query: WeftQuery, request: Pick<DataQueryRequest<WeftQuery>, 'range' | 'scopedVars' | 'filters'>): { params: Params; notices: QueryResultMetaNotice[] } {
    const scoped = request.scopedVars;
    const notices: QueryResultMetaNotice[] = [];
    const template = this.interpolate(query.template ?? '', scoped);
    const key = this.interpolate(query.key ?? '', scoped);
    const verdicts = splitList(this.interpolate(query.verdict ?? '', scoped, 'csv'));
    const severities = (query.severity ?? []).flatMap((s) => splitList(this.interpolate(s, scoped, 'csv')));
    const filterText = this.interpolate(query.filter ?? '', scoped, (v: string | string[]) => (Array.isArray(v) ? v.join('|') : v));
    const parsed = parseFieldFilter(filterText);
    if (parsed.errors.length > 0) throw new WeftApiError('bad_request', 400, `Filter: ${parsed.errors.map((e) => e.message).join('; ')}`);
    const params: Record<string, Params[string]> = {
      from: request.range.from.valueOf(),
      to: request.range.to.valueOf(),
      ...(template ? { template } : {}),
      ...(key ? { key } : {}),
      ...(verdicts.length > 0 ? { verdict: verdicts } : {}),
      ...(severities.length > 0 ? { severity: severities } : {}),
      ...filterParams(parsed.filters),
    };
    for (const filter of request.filters ?? []) {
      const applied = applyAdHoc(params, filter);
      if (applied) notices.push({ severity: 'warning', text: applied });
    }
    return { params, notices };
  }

  interpolate(text: string, scopedVars?: ScopedVars, format?: string | Function): string {
    return text === '' ? '' : getTemplateSrv().replace(text, scopedVars, format);
  }

  /** Dashboard variables: `<field>` or `<field> where template=<id>` → the field's values; `templates()` → template ids. */
  override async metricFindQuery(query: string | WeftQuery, options?: { scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const text = typeof query === 'string' ? query : query.field ?? '';
    const interpolated = this.interpolate(text.trim(), options?.scopedVars);
    if (interpolated === '') return [];
    if (interpolated === 'templates()') return (await this.api.templates()).map((t) => ({ text: t.id, value: t.id }));
    const match = /^([^\s]+)(?:\s+where\s+template\s*=\s*(\S+))?$/i.exec(interpolated);
    if (!match) throw new WeftApiError('bad_request', 400, `"${interpolated}" is not "<field>" or "<field> where template=<id>"`);
    const template = typeof query === 'string' ? match[2] : query.template ? this.interpolate(query.template, options?.scopedVars) : match[2];
    const result = await this.api.fieldValues(match[1]!, { template, limit: 1000 });
    return result.values.map((v) => ({ text: v.value, value: v.value }));
  }

  /** Ad-hoc filter keys: the session columns, then the field names seen in recent sessions. */
  override async getTagKeys(): Promise<MetricFindValue[]> {
    const page = await this.api.searchSessions({ limit: 200 });
    const fields = [...new Set(page.sessions.flatMap((s) => Object.keys(s.fields)))].sort();
    return [...COLUMN_KEYS, ...fields].map((k) => ({ text: k }));
  }

  override async getTagValues(options: { key: string }): Promise<MetricFindValue[]> {
    if (options.key === 'severity') return SEVERITIES.map((s) => ({ text: s }));
    if (options.key === 'template') return (await this.api.templates()).map((t) => ({ text: t.id }));
    if (options.key === 'verdict' || options.key === 'key') {
      const page = await this.api.searchSessions({ limit: 500 });
      const values = new Set(page.sessions.map((s) => (options.key === 'verdict' ? s.verdict : s.key)).filter((v): v is string => Boolean(v)));
      return [...values].sort().map((text) => ({ text }));
    }
    const result = await this.api.fieldValues(options.key, { limit: 100 });
    return result.values.map((v) => ({ text: v.value }));
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      const ready = await this.api.ready();
      // /readyz is outside the correlator's auth; a search proves the token too.
      await this.api.searchSessions({ limit: 1 });
      return ready.ready
        ? { status: 'success', message: 'Connected to the Weft correlator: the store is ready and the token is accepted.' }
        : { status: 'error', message: `The correlator answers but is not ready: ${JSON.stringify(ready.detail ?? {})}` };
    } catch (error) {
      return { status: 'error', message: errorMessage(error) };
    }
  }
}

/** Adds one ad-hoc filter to the parameters; returns a notice when the filter cannot be applied. */
function applyAdHoc(params: Record<string, Params[string]>, filter: AdHocVariableFilter): string | undefined {
  const values = filter.values && filter.values.length > 0 ? filter.values : [filter.value];
  const isColumn = (COLUMN_KEYS as readonly string[]).includes(filter.key);
  if (filter.operator === '=' || filter.operator === '=|') {
    if (isColumn) {
      if (filter.key === 'template' || filter.key === 'key') {
        if (values.length !== 1) return `Ad-hoc filter ${filter.key}: one value only; ignored.`;
        params[filter.key] = values[0];
      } else {
        params[filter.key] = values;
      }
    } else {
      const name = `f.${filter.key}`;
      params[name] = [...asList(params[name]), ...values];
    }
    return undefined;
  }
  const suffix = RANGE_SUFFIX[filter.operator];
  if (suffix && !isColumn) {
    params[`f.${filter.key}.${suffix}`] = filter.value;
    return undefined;
  }
  return `Ad-hoc filter "${filter.key} ${filter.operator} ${filter.value}" is not supported by Weft (use =, <, >, <=, >=); ignored.`;
}

function asList(value: Params[string]): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

function splitList(text: string): string[] {
  return text
    .replace(/^\{(.*)\}$/, '$1')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function errorMessage(error: unknown): string {
  if (error instanceof WeftApiError) return `${error.message} — ${error.advice}`;
  return error instanceof Error ? error.message : String(error);
}
