import type { DataQuery, DataSourceJsonData } from '@grafana/schema';
import type { SeriesBy } from './frames';

export type QueryType = 'sessions' | 'trace' | 'verdictCounts' | 'fieldValues';

export const QUERY_TYPES: ReadonlyArray<{ value: QueryType; label: string; description: string }> = [
  { value: 'sessions', label: 'Sessions', description: 'A table of sessions matching the filters' },
  { value: 'trace', label: 'Session trace', description: 'One session as a trace (trace view)' },
  { value: 'verdictCounts', label: 'Verdict counts', description: 'Sessions per verdict over time, at the panel interval' },
  { value: 'fieldValues', label: 'Field values', description: 'Most frequent values of a field' },
];

export interface WeftQuery extends DataQuery {
  queryType?: QueryType;
  /** Template id (template variables allowed). */
  template?: string;
  /** Verdict ids, comma-separated (template variables allowed; multi-value variables expand). */
  verdict?: string;
  severity?: string[];
  /** Field conditions: `amount > 100 and trans_id = $trans` (see api/filters.ts). */
  filter?: string;
  /** Anchor key equality. */
  key?: string;
  /** `trace`: the session id. */
  sessionId?: string;
  /** `fieldValues`: the field. */
  field?: string;
  /** `verdictCounts`: one series per … */
  seriesBy?: SeriesBy;
  limit?: number;
}

export const DEFAULT_QUERY: Partial<WeftQuery> = { queryType: 'sessions', limit: 100 };

export interface WeftDataSourceOptions extends DataSourceJsonData {
  /** The correlator's base URL, as Grafana's server reaches it (used by the `weft` proxy route). */
  url?: string;
}

export interface WeftSecureJsonData {
  token?: string;
}
