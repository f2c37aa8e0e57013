import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDashboards } from './dashboard-schema.js';
import { PROVISIONING_FILES } from './provisioning-schemas.js';
import {
  alertRules,
  loadDashboards,
  loadProvisioning,
  metricNames,
  panelsOf,
  provisionedDatasources,
  provisioningFiles,
  ROOT,
} from './resources.js';

/** The correlator's metrics (contract 2 in the cross-team contracts, owned by the runtime team). */
const CONTRACT_METRICS = [
  'weft_records_in_total',
  'weft_records_out_total',
  'weft_records_rejected_total',
  'weft_dead_letters_total',
  'weft_sessions_fired_total',
  'weft_late_reapplied_total',
  'weft_late_dropped_total',
  'weft_orphans_total',
  'weft_watermark_lag_seconds',
  'weft_consumer_lag',
  'weft_open_sessions',
  'weft_store_write_seconds',
];

const dashboards = loadDashboards();

describe("dashboards against Grafana's dashboard schema (@grafana/schema types, type-checked)", () => {
  it('ships the Risk overview and the Correlator health dashboards', () => {
    expect(dashboards.map((d) => d.json.uid).sort()).toEqual(['weft-correlator-health', 'weft-risk-overview']);
  });

  it('every dashboard type-checks against the schema', () => {
    expect(checkDashboards(dashboards)).toEqual([]);
  });

  it('the check is live: a misspelt option, a wrong enum value and a wrong type are each reported at their line', () => {
    const risk = dashboards.find((d) => d.json.uid === 'weft-risk-overview')!;
    const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;
    const mutations = [
      { from: '"displayMode": "table"', to: '"dispalyMode": "table"' },
      { from: '"drawStyle": "bars"', to: '"drawStyle": "columns"' },
      { from: '"h": 9,', to: '"h": "9",' },
    ];
    // One compiler run for all three copies (the compile dominates the cost).
    const copies = mutations.map((m, i) => {
      expect(risk.text).toContain(m.from);
      return { file: `mutation-${i}.json`, text: risk.text.replace(m.from, m.to) };
    });
    const problems = checkDashboards(copies);
    copies.forEach((copy, i) => {
      const mine = problems.filter((p) => p.file === copy.file);
      expect(mine.length, `${mutations[i]!.to} should be refused`).toBeGreaterThan(0);
      expect(mine[0]!.line).toBe(lineOf(copy.text, mutations[i]!.to));
    });
  });

  it('has unique panel ids, no overlapping panels, and the template, verdict and severity variables', () => {
    for (const { json } of dashboards) {
      const panels = panelsOf(json);
      expect(new Set(panels.map((p) => p.id)).size, json.uid).toBe(panels.length);
      for (const a of panels) {
        for (const b of panels) {
          if (a === b) continue;
          const apart = a.gridPos.x + a.gridPos.w <= b.gridPos.x || b.gridPos.x + b.gridPos.w <= a.gridPos.x || a.gridPos.y + a.gridPos.h <= b.gridPos.y || b.gridPos.y + b.gridPos.h <= a.gridPos.y;
          expect(apart, `${json.uid}: panels ${a.id} and ${b.id} overlap`).toBe(true);
        }
        expect(a.gridPos.x + a.gridPos.w, `${json.uid} panel ${a.id} wider than the grid`).toBeLessThanOrEqual(24);
      }
      expect(json.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['template', 'verdict', 'severity']));
    }
  });

  it('every panel, target and variable uses a provisioned data source (uid and type)', () => {
    const known = new Map(provisionedDatasources().map((d) => [d.uid, d.type]));
    const refs = dashboards.flatMap(({ json }) => [
      ...panelsOf(json).flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
      ...json.templating.list.map((v) => v.datasource),
    ]);
    for (const ref of refs.filter((r) => r !== undefined)) expect(known.get(ref.uid!), JSON.stringify(ref)).toBe(ref.type);
  });

  it('macro panels query TiDB through the MySQL data source; session panels use the app datasource', () => {
    const risk = dashboards.find((d) => d.json.uid === 'weft-risk-overview')!.json;
    const byType = (type: string) => panelsOf(risk).filter((p) => p.datasource?.type === type).map((p) => p.title);
    expect(byType('mysql')).toEqual(expect.arrayContaining(['Verdicts over time', 'Critical share', 'Sessions per verdict', 'Step funnel']));
    expect(byType('weft-sessions-datasource')).toEqual(['Latest critical sessions']);
    const macro = panelsOf(risk).filter((p) => ['Verdicts over time', 'Critical share', 'Sessions per verdict', 'Sessions'].includes(p.title));
    for (const p of macro) expect(p.targets![0]!.rawSql, p.title).toMatch(/FROM verdict_rollups/);
  });

  it("session panels use only settings of the app datasource's query model (WeftQuery in the plugin)", () => {
    const source = readFileSync(join(ROOT, 'plugin/src/datasource/types.ts'), 'utf8');
    const body = /export interface WeftQuery extends DataQuery \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const keys = new Set(['refId', 'datasource', 'hide', ...[...body.matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]!)]);
    expect(keys).toContain('queryType');
    const targets = dashboards.flatMap(({ json }) => panelsOf(json).flatMap((p) => (p.targets ?? []).filter((t) => t.datasource?.type === 'weft-sessions-datasource')));
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) for (const key of Object.keys(t)) expect(keys, key).toContain(key);
  });

  it('Prometheus panels and rules read only metrics of the runtime contract', () => {
    const exprs = [
      ...dashboards.flatMap(({ json }) => panelsOf(json).flatMap((p) => (p.targets ?? []).map((t) => t.expr).filter((e): e is string => typeof e === 'string'))),
      ...alertRules().flatMap((r) => r.data.map((d) => d.model.expr).filter((e): e is string => typeof e === 'string')),
    ];
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(8);
    for (const name of used) expect(CONTRACT_METRICS, name).toContain(name);
  });
});

describe("provisioning files against Grafana's documented shapes", () => {
  it('every file under provisioning/ has a schema and passes it', () => {
    const files = provisioningFiles();
    expect(files.sort()).toEqual(Object.keys(PROVISIONING_FILES).sort());
    for (const file of files) {
      const schema = PROVISIONING_FILES[file as keyof typeof PROVISIONING_FILES];
      const result = schema.safeParse(loadProvisioning(file));
      expect(result.success, `${file}: ${result.error?.message}`).toBe(true);
    }
  });

  it('the schemas are strict: a misspelt key or a bad duration is refused', () => {
    const rules = structuredClone(loadProvisioning('alerting/rules.yaml')) as { groups: Array<{ rules: Array<Record<string, unknown>> }> };
    rules.groups[0]!.rules[0]!.noDataStat = 'OK';
    expect(PROVISIONING_FILES['alerting/rules.yaml'].safeParse(rules).success).toBe(false);
    const policies = structuredClone(loadProvisioning('alerting/policies.yaml')) as { policies: Array<Record<string, unknown>> };
    policies.policies[0]!.group_wait = '30 seconds';
    expect(PROVISIONING_FILES['alerting/policies.yaml'].safeParse(policies).success).toBe(false);
  });

  it('provisions the app with the correlator URL, and MySQL (TiDB), Prometheus, Tempo and the app datasource', () => {
    const apps = (loadProvisioning('plugins/weft.yaml') as { apps: Array<{ type: string; disabled: boolean; jsonData: { url: string } }> }).apps;
    expect(apps).toEqual([expect.objectContaining({ type: 'weft-sessions-app', disabled: false, jsonData: { url: expect.stringMatching(/^\$\{WEFT_URL\}$/) } })]);
    expect(provisionedDatasources().map((d) => d.type).sort()).toEqual(['mysql', 'prometheus', 'tempo', 'weft-sessions-datasource']);
    const tempo = provisionedDatasources().find((d) => d.type === 'tempo') as unknown as { url: string; jsonData: { streamingEnabled?: unknown } };
    expect(tempo.url).toBe('${WEFT_URL}');
    // Grafana's Tempo datasource streams search over gRPC when this is on; Weft serves HTTP only.
    expect(tempo.jsonData.streamingEnabled).toEqual({ search: false, metrics: false });
  });

  it('alert rules: each has a summary, a runbook note and labels, reads a provisioned data source, and routes to the example contact point', () => {
    const known = new Set(provisionedDatasources().map((d) => d.uid));
    const rules = alertRules();
    expect(rules.map((r) => r.uid).sort()).toEqual(['weft-consumer-lag', 'weft-critical-rate', 'weft-pipeline-stalled', 'weft-verdict-spike']);
    for (const rule of rules) {
      expect(rule.annotations?.summary, rule.uid).toBeTruthy();
      expect(rule.annotations?.runbook, rule.uid).toBeTruthy();
      expect(rule.labels?.team, rule.uid).toBe('risk');
      for (const d of rule.data) if (d.datasourceUid !== '__expr__') expect(known, rule.uid).toContain(d.datasourceUid);
    }
    const contactPoints = (loadProvisioning('alerting/contact-points.yaml') as { contactPoints: Array<{ name: string }> }).contactPoints.map((c) => c.name);
    const policy = (loadProvisioning('alerting/policies.yaml') as { policies: Array<{ receiver: string; routes: Array<{ receiver: string }> }> }).policies[0]!;
    for (const receiver of [policy.receiver, ...policy.routes.map((r) => r.receiver)]) expect(contactPoints).toContain(receiver);
  });
});
