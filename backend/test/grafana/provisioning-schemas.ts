import { z } from 'zod';

/**
 * The documented shapes of Grafana's provisioning files, as zod schemas (strict: a misspelt key is
 * an error, as Grafana would silently ignore it). Sources, in Grafana's documentation
 * (docs/sources in the grafana/grafana repository):
 * - administration/provisioning/index.md: "Data sources", "Plugins", "Dashboards";
 * - alerting/set-up/provision-alerting-resources/file-provisioning/index.md: "Provision alert
 *   rules", "Provision contact points", "Provision notification policies".
 */

const apiVersion = z.literal(1);
/** Go durations as the docs write them (`60s`, `5m`, `4h`). */
const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w))+$/, 'a duration such as 30s, 5m, 4h');
const uid = z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'a uid of at most 40 letters, digits, - or _');

// ── data sources ────────────────────────────────────────────────────────────────────────────────

export const datasourceSchema = z.strictObject({
  name: z.string().min(1),
  type: z.string().min(1),
  uid: uid.optional(),
  access: z.enum(['proxy', 'direct']).optional(),
  orgId: z.number().int().optional(),
  url: z.string().optional(),
  user: z.string().optional(),
  database: z.string().optional(),
  basicAuth: z.boolean().optional(),
  basicAuthUser: z.string().optional(),
  withCredentials: z.boolean().optional(),
  isDefault: z.boolean().optional(),
  jsonData: z.record(z.string(), z.unknown()).optional(),
  secureJsonData: z.record(z.string(), z.string()).optional(),
  version: z.number().int().optional(),
  editable: z.boolean().optional(),
});

export const datasourcesFileSchema = z.strictObject({
  apiVersion,
  deleteDatasources: z.array(z.strictObject({ name: z.string(), orgId: z.number().int() })).optional(),
  prune: z.boolean().optional(),
  datasources: z.array(datasourceSchema).min(1),
});

// ── plugins (apps) ──────────────────────────────────────────────────────────────────────────────

export const pluginsFileSchema = z.strictObject({
  apiVersion,
  apps: z
    .array(
      z.strictObject({
        type: z.string().min(1),
        org_id: z.number().int().optional(),
        org_name: z.string().optional(),
        disabled: z.boolean().optional(),
        jsonData: z.record(z.string(), z.unknown()).optional(),
        secureJsonData: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1),
});

// ── dashboards ──────────────────────────────────────────────────────────────────────────────────

export const dashboardsFileSchema = z.strictObject({
  apiVersion,
  providers: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        orgId: z.number().int().optional(),
        folder: z.string().optional(),
        folderUid: uid.optional(),
        type: z.literal('file'),
        disableDeletion: z.boolean().optional(),
        updateIntervalSeconds: z.number().int().positive().optional(),
        allowUiUpdates: z.boolean().optional(),
        options: z.strictObject({ path: z.string().min(1), foldersFromFilesStructure: z.boolean().optional() }),
      }),
    )
    .min(1),
});

// ── alerting ────────────────────────────────────────────────────────────────────────────────────

const relativeTimeRange = z
  .strictObject({ from: z.number().int().nonnegative(), to: z.number().int().nonnegative() })
  .refine((r) => r.from > r.to, 'relativeTimeRange.from (seconds ago) must be larger than .to');

const expressionModel = z.looseObject({
  refId: z.string(),
  datasource: z.strictObject({ type: z.literal('__expr__'), uid: z.literal('__expr__') }),
  type: z.enum(['math', 'reduce', 'resample', 'classic_conditions', 'threshold', 'sql']),
  expression: z.string().optional(),
});

export const alertQuerySchema = z.strictObject({
  refId: z.string().min(1),
  datasourceUid: z.string().min(1),
  queryType: z.string().optional(),
  relativeTimeRange: relativeTimeRange.optional(),
  model: z.looseObject({ refId: z.string() }),
});

export const alertRuleSchema = z
  .strictObject({
    uid,
    title: z.string().min(1),
    condition: z.string().min(1),
    data: z.array(alertQuerySchema).min(1),
    dashboardUid: z.string().optional(),
    panelId: z.number().int().optional(),
    noDataState: z.enum(['NoData', 'Alerting', 'OK']).optional(),
    execErrState: z.enum(['Error', 'Alerting', 'OK']).optional(),
    for: duration,
    annotations: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    isPaused: z.boolean().optional(),
  })
  .superRefine((rule, ctx) => {
    const refs = rule.data.map((d) => d.refId);
    if (new Set(refs).size !== refs.length) ctx.addIssue({ code: 'custom', message: `duplicate refIds ${refs.join(', ')}` });
    if (!refs.includes(rule.condition)) ctx.addIssue({ code: 'custom', path: ['condition'], message: `condition ${rule.condition} is not a refId of data` });
    rule.data.forEach((d, i) => {
      if (d.model.refId !== d.refId) ctx.addIssue({ code: 'custom', path: ['data', i, 'model', 'refId'], message: 'model.refId differs from refId' });
      if (d.datasourceUid === '__expr__') {
        const parsed = expressionModel.safeParse(d.model);
        if (!parsed.success) ctx.addIssue({ code: 'custom', path: ['data', i, 'model'], message: parsed.error.message });
        else if (parsed.data.expression !== undefined && !refs.includes(parsed.data.expression)) {
          ctx.addIssue({ code: 'custom', path: ['data', i, 'model', 'expression'], message: `expression ${parsed.data.expression} is not a refId` });
        }
      } else if (d.relativeTimeRange === undefined) {
        ctx.addIssue({ code: 'custom', path: ['data', i, 'relativeTimeRange'], message: 'a data source query needs a relativeTimeRange' });
      }
    });
  });

export const alertRulesFileSchema = z.strictObject({
  apiVersion,
  groups: z
    .array(
      z.strictObject({
        orgId: z.number().int().optional(),
        name: z.string().min(1),
        folder: z.string().min(1),
        interval: duration,
        rules: z.array(alertRuleSchema).min(1),
      }),
    )
    .min(1),
  deleteRules: z.array(z.strictObject({ orgId: z.number().int().optional(), uid })).optional(),
});

export const contactPointsFileSchema = z.strictObject({
  apiVersion,
  contactPoints: z
    .array(
      z.strictObject({
        orgId: z.number().int().optional(),
        name: z.string().min(1),
        receivers: z
          .array(
            z.strictObject({
              uid,
              type: z.string().min(1),
              settings: z.record(z.string(), z.unknown()),
              disableResolveMessage: z.boolean().optional(),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});

const matcher = z.tuple([z.string().min(1), z.enum(['=', '!=', '=~', '!~']), z.string()]);

interface Route {
  receiver?: string | undefined;
  group_by?: string[] | undefined;
  matchers?: string[] | undefined;
  object_matchers?: Array<[string, '=' | '!=' | '=~' | '!~', string]> | undefined;
  mute_time_intervals?: string[] | undefined;
  continue?: boolean | undefined;
  group_wait?: string | undefined;
  group_interval?: string | undefined;
  repeat_interval?: string | undefined;
  routes?: Route[] | undefined;
}

const route: z.ZodType<Route> = z.lazy(() =>
  z.strictObject({
    receiver: z.string().optional(),
    group_by: z.array(z.string()).optional(),
    matchers: z.array(z.string()).optional(),
    object_matchers: z.array(matcher).optional(),
    mute_time_intervals: z.array(z.string()).optional(),
    continue: z.boolean().optional(),
    group_wait: duration.optional(),
    group_interval: duration.optional(),
    repeat_interval: duration.optional(),
    routes: z.array(route).optional(),
  }),
);

export const policiesFileSchema = z.strictObject({
  apiVersion,
  policies: z
    .array(
      z.strictObject({
        orgId: z.number().int().optional(),
        receiver: z.string().min(1),
        group_by: z.array(z.string()).optional(),
        matchers: z.array(z.string()).optional(),
        object_matchers: z.array(matcher).optional(),
        group_wait: duration.optional(),
        group_interval: duration.optional(),
        repeat_interval: duration.optional(),
        routes: z.array(route).optional(),
      }),
    )
    .min(1),
  resetPolicies: z.array(z.number().int()).optional(),
});

/** Which schema each provisioning file is checked against (path relative to provisioning/). */
export const PROVISIONING_FILES = {
  'datasources/weft.yaml': datasourcesFileSchema,
  'plugins/weft.yaml': pluginsFileSchema,
  'dashboards/weft.yaml': dashboardsFileSchema,
  'alerting/rules.yaml': alertRulesFileSchema,
  'alerting/contact-points.yaml': contactPointsFileSchema,
  'alerting/policies.yaml': policiesFileSchema,
} as const;
