/**
 * The shape a provisioned dashboard must have, built from Grafana's own schema types in
 * `@grafana/schema` (generated from Grafana's CUE kinds: the dashboard kind and each panel plugin's
 * `panelcfg`), at the version the plugin builds against. `dashboard-schema.ts` type-checks every
 * dashboards/*.json against {@link WeftDashboard} with the TypeScript compiler: a misspelt key, a
 * wrong type or an unknown enum value in a dashboard fails the build.
 *
 * Two adaptations, both mechanical:
 * - {@link Json} turns Grafana's string enums (`FieldColorModeId`, `ThresholdsMode`, …) into the
 *   string literals JSON carries (numeric enums already accept their number literals);
 * - panel `options` and `fieldConfig.defaults.custom` are deep-partial: Grafana fills missing
 *   options from each panel's defaults, so a dashboard may omit them, but never misspell them.
 */
import type { Dashboard, DataQuery, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';
import type * as BarChart from '@grafana/schema/dist/esm/raw/composable/barchart/panelcfg/x/BarChartPanelCfg_types.gen';
import type * as BarGauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** JSON's view of a schema type: string enums become their literal values. */
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<Json<U>>
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

export type DeepPartial<T> = T extends ReadonlyArray<infer U>
  ? Array<DeepPartial<U>>
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * Grafana's MySQL query model (`SQLQuery` in packages/grafana-sql/src/types.ts): the MySQL
 * datasource has no panelcfg/dataquery kind in @grafana/schema.
 */
export interface MysqlTarget extends Json<DataQuery> {
  datasource: { type: 'mysql'; uid: string };
  rawSql: string;
  format: 'time_series' | 'table';
  rawQuery?: boolean;
  editorMode?: 'code' | 'builder';
  dataset?: string;
  table?: string;
}

/** Grafana's Prometheus query model (`PromQuery`, public/app/plugins/datasource/prometheus). */
export interface PrometheusTarget extends Json<DataQuery> {
  datasource: { type: 'prometheus'; uid: string };
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
  editorMode?: 'code' | 'builder';
  interval?: string;
  format?: 'time_series' | 'table' | 'heatmap';
}

/** The Weft app's nested datasource (`WeftQuery` in plugin/src/datasource/types.ts). */
export interface WeftTarget extends Json<DataQuery> {
  datasource: { type: 'weft-sessions-datasource'; uid: string };
  queryType: 'sessions' | 'trace' | 'verdictCounts' | 'fieldValues';
  template?: string;
  verdict?: string;
  severity?: string[];
  filter?: string;
  key?: string;
  sessionId?: string;
  field?: string;
  seriesBy?: string;
  limit?: number;
}

export type Target = MysqlTarget | PrometheusTarget | WeftTarget;

type BasePanel = Omit<Json<Panel>, 'type' | 'options' | 'fieldConfig' | 'targets'> & { targets: Target[] };

type PanelOf<Type extends string, Options, Custom = Record<string, never>> = BasePanel & {
  type: Type;
  options?: DeepPartial<Json<Options>>;
  fieldConfig?: Omit<Json<FieldConfigSource>, 'defaults'> & {
    defaults: Omit<Json<FieldConfigSource['defaults']>, 'custom'> & { custom?: DeepPartial<Json<Custom>> };
  };
};

export type WeftPanel =
  | PanelOf<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig>
  | PanelOf<'stat', Stat.Options>
  | PanelOf<'table', Table.Options, Table.FieldConfig>
  | PanelOf<'bargauge', BarGauge.Options>
  | PanelOf<'barchart', BarChart.Options, BarChart.FieldConfig>;

export type WeftDashboard = Omit<Json<Dashboard>, 'panels' | 'uid' | 'title' | 'schemaVersion'> & {
  uid: string;
  title: string;
  schemaVersion: 42;
  panels: Array<WeftPanel | Json<RowPanel>>;
};
