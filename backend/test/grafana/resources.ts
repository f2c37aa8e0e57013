import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** The Grafana resources this repository ships: dashboards/*.json and provisioning/**. */

export const ROOT = join(import.meta.dirname, '../../..');
export const DASHBOARDS = join(ROOT, 'dashboards');
export const PROVISIONING = join(ROOT, 'provisioning');

export interface DatasourceRef {
  readonly type?: string;
  readonly uid?: string;
}

export interface Target {
  readonly refId: string;
  readonly datasource?: DatasourceRef;
  readonly rawSql?: string;
  readonly format?: string;
  readonly expr?: string;
  readonly [key: string]: unknown;
}

export interface PanelJson {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: DatasourceRef;
  readonly targets?: Target[];
  readonly panels?: PanelJson[];
  readonly interval?: string;
  readonly gridPos: { x: number; y: number; w: number; h: number };
}

export interface VariableJson {
  readonly type: string;
  readonly name: string;
  readonly datasource?: DatasourceRef;
  readonly query?: string | { query?: string };
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  readonly allValue?: string;
  readonly current?: { value: string | string[] };
}

export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly panels: PanelJson[];
  readonly templating: { list: VariableJson[] };
}

export interface DashboardFile {
  readonly file: string;
  readonly text: string;
  readonly json: DashboardJson;
}

export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(DASHBOARDS, file), 'utf8');
      return { file, text, json: JSON.parse(text) as DashboardJson };
    });
}

/** Panels with rows flattened. */
export function panelsOf(d: DashboardJson): PanelJson[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export function provisioningFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  return walk(PROVISIONING)
    .map((p) => relative(PROVISIONING, p))
    .sort();
}

export function loadProvisioning(path: string): unknown {
  return parseYaml(readFileSync(join(PROVISIONING, path), 'utf8'));
}

export interface ProvisionedDatasource {
  readonly name: string;
  readonly type: string;
  readonly uid: string;
}

export function provisionedDatasources(): ProvisionedDatasource[] {
  return (loadProvisioning('datasources/weft.yaml') as { datasources: ProvisionedDatasource[] }).datasources;
}

export interface AlertQuery {
  readonly refId: string;
  readonly datasourceUid: string;
  readonly relativeTimeRange?: { from: number; to: number };
  readonly model: { refId: string; rawSql?: string; expr?: string; format?: string; intervalMs?: number; [key: string]: unknown };
}

export interface AlertRule {
  readonly uid: string;
  readonly title: string;
  readonly data: AlertQuery[];
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const file = loadProvisioning('alerting/rules.yaml') as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((g) => g.rules);
}

/** Metric names a PromQL expression reads (`weft_…`; histogram series reduced to their base name). */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(weft_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')))];
}
