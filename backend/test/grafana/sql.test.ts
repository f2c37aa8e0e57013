import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandMacros, grafanaMysqlQuery, parseIntervalSeconds, type TimeRange, type VariableState } from './mysql-interpolation.js';
import { alertRules, loadDashboards, panelsOf, ROOT, type DashboardJson, type VariableJson } from './resources.js';

/**
 * Runs every SQL query of every dashboard panel, dashboard variable and alert rule, expanded the way
 * Grafana's MySQL data source expands it (mysql-interpolation.ts), against MariaDB filled by
 * `weft replay --store mysql://…` of a generated payment workload. A query that does not run, or
 * returns no rows or other columns than expected, fails the build.
 */

const DB = 'weft_grafana_test';
const HOST = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

/** Columns each SQL target must return, by `<dashboard uid>/<panel id>/<refId>`. */
const FUNNEL = ['order_placed', 'pay_ui_opened', 'receipt_uploaded', 'payment_completed', 'channel_callback', 'delivered'];
const PANEL_COLUMNS: Record<string, string[]> = {
  'weft-risk-overview/1/A': ['time', 'metric', 'sessions'],
  'weft-risk-overview/2/A': ['critical_share'],
  'weft-risk-overview/3/A': ['sessions'],
  'weft-risk-overview/4/A': ['time', 'critical_share'],
  'weft-risk-overview/5/A': ['verdict', 'severity', 'sessions'],
  'weft-risk-overview/6/A': ['time', 'p50', 'p95'],
  'weft-risk-overview/7/A': FUNNEL,
};

/** Time windows around the data, each with the interval Grafana would pick for it (minute, hour and day rollup grains). */
const WINDOWS = [
  { name: 'the data range at 1m', pad: 60_000, intervalMs: 60_000 },
  { name: '±2 days at 1h', pad: 2 * 86_400_000, intervalMs: 3_600_000 },
  { name: '±45 days at 1d', pad: 45 * 86_400_000, intervalMs: 86_400_000 },
];

/** Variable selections: the saved default (All), one value, several values. */
const SELECTIONS: Record<string, Record<string, string[]>> = {
  all: {},
  single: { template: ['payment'], verdict: ['paid_not_delivered'], severity: ['critical'] },
  multi: { template: ['payment'], verdict: ['ok', 'paid_not_delivered'], severity: ['critical', 'ok'] },
};

let db: mysql.Connection;
let dataFrom = 0;
let dataTo = 0;
let truth: { sessions: number; critical: number };

beforeAll(async () => {
  const admin = await mysql.createConnection(HOST);
  await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  const dir = mkdtempSync(join(tmpdir(), 'weft-grafana-'));
  const input = join(dir, 'payment.ndjson');
  const weft = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'backend/bin/weft.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  const gen = weft('generate', '--scenario', 'payment', '--sessions', '300', '--seed', '11', '--out', input);
  expect(gen.status, gen.stderr).toBe(0);
  const replay = weft('replay', '--template', 'templates/payment.yaml', '--input', input, '--out', join(dir, 'out.ndjson'), '--quiet', '--store', `mysql://root@127.0.0.1:3306/${DB}`);
  expect(replay.status, replay.stderr).toBe(0);
  db = await mysql.createConnection({ ...HOST, database: DB });
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT MIN(start_ms) AS a, MAX(end_ms) AS b, COUNT(*) AS n, SUM(severity = 'critical') AS c FROM sessions WHERE status <> 'merged'",
  );
  dataFrom = Number(rows[0]!.a);
  dataTo = Number(rows[0]!.b);
  truth = { sessions: Number(rows[0]!.n), critical: Number(rows[0]!.c) };
  expect(truth.sessions).toBeGreaterThan(250);
}, 120_000);

afterAll(async () => {
  await db?.end();
});

async function run(sql: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  // Leftover `$name`, `${…}` or `$__macro(` would mean something was not expanded (JSON paths `$[` are fine).
  expect(sql, sql).not.toMatch(/\$(\w|\{)/);
  const [rows, fields] = await db.query<mysql.RowDataPacket[]>(sql);
  return { columns: fields.map((f) => f.name), rows: rows as Record<string, unknown>[] };
}

/** Resolves the dashboard's variables in order, running query variables as Grafana would. */
async function resolveVariables(d: DashboardJson, range: TimeRange, selection: Record<string, string[]>): Promise<Map<string, VariableState>> {
  const variables = new Map<string, VariableState>();
  for (const v of d.templating.list) {
    const options = await optionsOf(v, range, variables);
    const chosen = selection[v.name];
    if (chosen) for (const c of chosen) expect(options, `${d.uid} $${v.name}`).toContain(c);
    // The saved selection (All for the multi-value variables), unless the scenario picks values.
    const saved = v.current?.value ?? options[0]!;
    variables.set(v.name, {
      name: v.name,
      multi: v.multi ?? false,
      includeAll: v.includeAll ?? false,
      ...(v.allValue !== undefined ? { allValue: v.allValue } : {}),
      options,
      current: chosen ? (v.multi ? chosen : chosen[0]!) : saved,
    });
  }
  return variables;
}

async function optionsOf(v: VariableJson, range: TimeRange, variables: Map<string, VariableState>): Promise<string[]> {
  const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
  switch (v.type) {
    case 'custom':
      return query.split(',').map((s) => s.trim());
    case 'textbox':
    case 'constant':
      return [query];
    case 'query': {
      if (v.datasource?.type !== 'mysql') return ['(not SQL)'];
      const { columns, rows } = await run(grafanaMysqlQuery(query, { range, intervalMs: 60_000, variables }));
      expect(columns, `variable ${v.name}`).toHaveLength(1);
      expect(rows.length, `variable ${v.name} has options`).toBeGreaterThan(0);
      return rows.map((r) => String(r[columns[0]!]));
    }
    default:
      throw new Error(`variable type ${v.type} is not handled by the SQL checks`);
  }
}

const num = (v: unknown) => (v === null ? null : Number(v));

describe('dashboard SQL, expanded like Grafana, against MariaDB filled by weft replay', () => {
  const dashboards = loadDashboards();
  const sqlTargets = dashboards.flatMap(({ json }) =>
    panelsOf(json).flatMap((p) => (p.targets ?? []).filter((t) => t.datasource?.type === 'mysql').map((t) => ({ dashboard: json, panel: p, target: t, key: `${json.uid}/${p.id}/${t.refId}` }))),
  );

  it('every SQL target has an expectation (and every expectation a target)', () => {
    expect(sqlTargets.map((t) => t.key).sort()).toEqual(Object.keys(PANEL_COLUMNS).sort());
  });

  for (const window of WINDOWS) {
    for (const [selectionName, selection] of Object.entries(SELECTIONS)) {
      it(`every panel query runs and returns its columns: ${window.name}, ${selectionName} variables`, async () => {
        const range = { from: dataFrom - window.pad, to: dataTo + window.pad };
        for (const { dashboard, panel, target, key } of sqlTargets) {
          const variables = await resolveVariables(dashboard, range, selection);
          const minInterval = panel.interval ? parseIntervalSeconds(panel.interval)! * 1000 : 0;
          const intervalMs = Math.max(window.intervalMs, minInterval);
          const sql = grafanaMysqlQuery(target.rawSql!, { range, intervalMs, variables });
          const { columns, rows } = await run(sql).catch((error: Error) => {
            throw new Error(`${key} (${panel.title}) failed: ${error.message}\n${sql}`);
          });
          expect(columns, key).toEqual(PANEL_COLUMNS[key]);
          expect(rows.length, `${key} returned no rows\n${sql}`).toBeGreaterThan(0);
          for (const row of rows) {
            for (const c of columns.filter((c) => c !== 'metric' && c !== 'verdict' && c !== 'severity')) {
              expect(num(row[c]), `${key} ${c} is a number\n${sql}`).not.toBeNaN();
            }
          }
          if (target.format === 'time_series') {
            const times = rows.map((r) => Number(r.time));
            expect(times, `${key}: Grafana needs time series sorted by time`).toEqual([...times].sort((a, b) => a - b));
            for (const t of times) {
              const ms = t < 1e11 ? t * 1000 : t;
              expect(ms, key).toBeGreaterThanOrEqual(range.from - intervalMs);
              expect(ms, key).toBeLessThanOrEqual(range.to);
            }
          } else {
            for (const c of columns) if (rows.length === 1) expect(rows[0]![c], `${key} ${c}`).not.toBeNull();
          }
        }
      });
    }
  }

  it('the rollup panels count exactly the stored sessions (all variables at All, each rollup grain)', async () => {
    const risk = dashboards.find((d) => d.json.uid === 'weft-risk-overview')!.json;
    const target = (id: number) => panelsOf(risk).find((p) => p.id === id)!.targets![0]!.rawSql!;
    for (const window of WINDOWS) {
      const range = { from: dataFrom - window.pad, to: dataTo + window.pad };
      const variables = await resolveVariables(risk, range, {});
      const q = (id: number) => run(grafanaMysqlQuery(target(id), { range, intervalMs: window.intervalMs, variables }));
      const sum = (rows: Record<string, unknown>[], c: string) => rows.reduce((s, r) => s + Number(r[c]), 0);
      expect(sum((await q(1)).rows, 'sessions'), `verdicts over time, ${window.name}`).toBe(truth.sessions);
      expect(Number((await q(3)).rows[0]!.sessions), `sessions, ${window.name}`).toBe(truth.sessions);
      expect(sum((await q(5)).rows, 'sessions'), `per verdict, ${window.name}`).toBe(truth.sessions);
      expect(Number((await q(2)).rows[0]!.critical_share)).toBeCloseTo((100 * truth.critical) / truth.sessions, 2);
    }
  });

  it('the percentile and funnel panels agree with the stored sessions', async () => {
    const risk = dashboards.find((d) => d.json.uid === 'weft-risk-overview')!.json;
    const range = { from: dataFrom - 60_000, to: dataTo + 60_000 };
    const variables = await resolveVariables(risk, range, {});
    const sqlOf = (id: number) => grafanaMysqlQuery(panelsOf(risk).find((p) => p.id === id)!.targets![0]!.rawSql!, { range, intervalMs: 86_400_000, variables });
    const pct = await run(sqlOf(6));
    const [values] = await db.query<mysql.RowDataPacket[]>("SELECT num_value FROM session_numbers WHERE name = 'pay_ms' ORDER BY num_value");
    const sorted = values.map((r) => Number(r.num_value));
    const nearestRank = (p: number) => sorted[Math.ceil(p * sorted.length) - 1];
    expect(pct.rows).toHaveLength(1);
    expect(Number(pct.rows[0]!.p50)).toBe(nearestRank(0.5));
    expect(Number(pct.rows[0]!.p95)).toBe(nearestRank(0.95));
    const funnel = (await run(sqlOf(7))).rows[0]!;
    const [placed] = await db.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM sessions WHERE status <> 'merged' AND events_json LIKE '%"step":"order_placed"%'`,
    );
    expect(Number(funnel.order_placed)).toBe(Number(placed[0]!.n));
    expect(Number(funnel.delivered)).toBeLessThanOrEqual(Number(funnel.payment_completed) + Number(funnel.order_placed));
  });
});

describe('alert rule SQL, expanded like Grafana alerting (macros only, no dashboard variables)', () => {
  const sqlRules = alertRules().flatMap((rule) => rule.data.filter((d) => d.model.rawSql !== undefined).map((d) => ({ rule, query: d })));

  it('the verdict rules query TiDB', () => {
    expect(sqlRules.map((r) => r.rule.uid).sort()).toEqual(['weft-critical-rate', 'weft-verdict-spike']);
  });

  for (const { rule, query } of sqlRules) {
    it(`${rule.uid}: runs and returns one row per template and verdict with one numeric value`, async () => {
      const { from, to } = query.relativeTimeRange!;
      // Evaluate at a "now" that puts the start of the data at the start of the rule's window.
      const now = dataFrom + from * 1000 - 60_000;
      const range = { from: now - from * 1000, to: now - to * 1000 };
      const sql = expandMacros(query.model.rawSql!, range, query.model.intervalMs ?? 1000);
      const { columns, rows } = await run(sql);
      expect(columns).toEqual(['template', 'verdict', 'value']);
      expect(rows.length).toBeGreaterThan(0);
      const labels = rows.map((r) => `${r.template}/${r.verdict}`);
      expect(new Set(labels).size, 'each row is one alert instance: labels must be unique').toBe(rows.length);
      for (const r of rows) expect(Number(r.value)).not.toBeNaN();
      if (rule.uid === 'weft-critical-rate') {
        // Minute buckets starting inside [from, to): sessions from the first whole minute on.
        const [c] = await db.query<mysql.RowDataPacket[]>(
          `SELECT COUNT(*) AS n FROM sessions WHERE status <> 'merged' AND severity = 'critical' AND start_ms >= ? AND start_ms < ?`,
          [Math.ceil(range.from / 60_000) * 60_000, Math.ceil(range.to / 60_000) * 60_000],
        );
        const perMinute = rows.reduce((s, r) => s + Number(r.value), 0);
        expect(perMinute).toBeCloseTo((Number(c[0]!.n) * 60) / ((range.to - range.from) / 1000), 6);
      }
    });
  }
});
