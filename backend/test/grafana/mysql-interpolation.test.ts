import { describe, expect, it } from 'vitest';
import {
  ALL_VALUE,
  expandMacros,
  formatBackendInterval,
  formatFrontendInterval,
  goFloat,
  interpolateVariables,
  MacroError,
  parseIntervalSeconds,
  type VariableState,
} from './mysql-interpolation.js';

// Expected strings follow Grafana's own tests: pkg/tsdb/mysql/macros_test.go (backend macros) and
// public/app/plugins/datasource/mysql/interpolationTruthTable.test.ts (frontend variables).

const from = Date.parse('2018-04-12T18:00:00Z');
const to = from + 5 * 60_000;
const range = { from, to };
const fromS = from / 1000;
const toS = to / 1000;

describe('backend macros (mySQLMacroEngine + sqleng.Interpolate)', () => {
  const expand = (sql: string, intervalMs = 60_000) => expandMacros(sql, range, intervalMs);

  it('time macros on datetime columns', () => {
    expect(expand('select $__time(time_column)')).toBe('select UNIX_TIMESTAMP(time_column) as time_sec');
    expect(expand('select $__timeEpoch(time_column)')).toBe('select UNIX_TIMESTAMP(time_column) as time_sec');
    expect(expand('WHERE $__timeFilter(time_column)')).toBe(`WHERE time_column BETWEEN FROM_UNIXTIME(${fromS}) AND FROM_UNIXTIME(${toS})`);
    expect(expand('select $__timeFrom(), $__timeTo()')).toBe(`select FROM_UNIXTIME(${fromS}), FROM_UNIXTIME(${toS})`);
    expect(expand("GROUP BY $__timeGroup(time_column,'5m')")).toBe('GROUP BY UNIX_TIMESTAMP(time_column) DIV 300 * 300');
    expect(expand("$__timeGroupAlias(time_column, '5m')")).toBe('UNIX_TIMESTAMP(time_column) DIV 300 * 300 AS "time"');
    expect(expand('$__timeGroup(time_column, 1h, NULL)')).toBe('UNIX_TIMESTAMP(time_column) DIV 3600 * 3600');
  });

  it('a range before 1970 uses DATE_ADD, like Grafana', () => {
    const early = { from: -3600_000, to: 0 };
    expect(expandMacros('$__timeFilter(t)', early, 1000)).toBe('t BETWEEN DATE_ADD(FROM_UNIXTIME(0), INTERVAL -3600 SECOND) AND FROM_UNIXTIME(0)');
  });

  it('epoch macros on numeric columns', () => {
    expect(expand('WHERE $__unixEpochFilter(time)')).toBe(`WHERE time >= ${fromS} AND time <= ${toS}`);
    expect(expand('$__unixEpochFrom() $__unixEpochTo()')).toBe(`${fromS} ${toS}`);
    expect(expand("$__unixEpochGroup(time_column,'5m')")).toBe('time_column DIV 300 * 300');
    expect(expand("$__unixEpochGroupAlias(time_column,'5m')")).toBe('time_column DIV 300 * 300 AS "time"');
    expect(expand('$__unixEpochNanoFilter(t)')).toBe(`t >= ${from}000000 AND t <= ${to}000000`);
    expect(expand('$__unixEpochNanoFrom() $__unixEpochNanoTo()')).toBe(`${from}000000 ${to}000000`);
  });

  it('$__interval_ms is replaced before $__interval, both from the query interval', () => {
    expect(expand('$__interval_ms $__interval', 300_000)).toBe('300000 5m');
    expect(expand('$__unixEpochGroupAlias(bucket DIV 1000, $__interval)', 3_600_000)).toBe('bucket DIV 1000 DIV 3600 * 3600 AS "time"');
  });

  it('refuses unknown macros, missing arguments and the restricted functions', () => {
    expect(() => expand('$__nope(x)')).toThrow(MacroError);
    expect(() => expand('$__timeFilter()')).toThrow(/missing time column/);
    expect(() => expand('$__timeGroup(t)')).toThrow(/needs time column and interval/);
    expect(() => expand("$__timeGroup(t, 'five')")).toThrow(/error parsing interval/);
    expect(() => expand('SELECT user()')).toThrow(/not allowed/);
    expect(() => expand('show grants')).toThrow(/not allowed/);
  });

  it("Go's number and interval formats", () => {
    expect(goFloat(300)).toBe('300');
    expect(goFloat(604800)).toBe('604800');
    expect(goFloat(2592000)).toBe('2.592e+06');
    expect(goFloat(0.5)).toBe('0.5');
    expect(parseIntervalSeconds('1h30m')).toBe(5400);
    expect(parseIntervalSeconds('2d')).toBe(172800);
    expect(parseIntervalSeconds('1w')).toBe(604800);
    expect(parseIntervalSeconds('500ms')).toBe(0.5);
    expect(parseIntervalSeconds('5 m')).toBeUndefined();
    expect(formatBackendInterval(90_000)).toBe('1m');
    expect(formatBackendInterval(86_400_000 * 2)).toBe('2d');
    expect(formatBackendInterval(20)).toBe('20ms');
    expect(formatFrontendInterval(90_000)).toBe('1m');
    expect(formatFrontendInterval(7 * 86_400_000)).toBe('7d');
    expect(formatFrontendInterval(500)).toBe('500ms');
  });
});

describe('frontend variables (TemplateSrv.replace with SqlDatasource.interpolateVariable)', () => {
  const v = (name: string, current: VariableState['current'], more: Partial<VariableState> = {}): VariableState => ({
    name,
    multi: false,
    includeAll: false,
    options: ['us', 'eu', "o'hare"],
    current,
    ...more,
  });
  const run = (sql: string, ...vars: VariableState[]) => interpolateVariables(sql, new Map(vars.map((x) => [x.name, x])), { intervalMs: 60_000 });

  it('a single-value variable is inserted unquoted, its quotes doubled', () => {
    expect(run('WHERE host = $host', v('host', 'server01'))).toBe('WHERE host = server01');
    expect(run("WHERE host = '$host'", v('host', 'server01'))).toBe("WHERE host = 'server01'");
    expect(run("WHERE host = '${host}'", v('host', "o'hare"))).toBe("WHERE host = 'o''hare'");
    expect(run('WHERE host = [[host]]', v('host', 'a'))).toBe('WHERE host = a');
  });

  it('multi-value variables are quoted and joined, also with one value selected', () => {
    const multi = { multi: true };
    expect(run('WHERE host IN ($host)', v('host', ['srv1', 'srv2'], multi))).toBe("WHERE host IN ('srv1','srv2')");
    expect(run('WHERE hostname = $hostname', v('hostname', ['app1'], multi))).toBe("WHERE hostname = 'app1'");
    expect(run('WHERE h IN ($h)', v('h', ["o'hare"], multi))).toBe("WHERE h IN ('o''hare')");
  });

  it('an includeAll variable quotes even a single string', () => {
    expect(run("WHERE region = '$region'", v('region', 'us-east', { includeAll: true }))).toBe("WHERE region = ''us-east''");
  });

  it('All expands to every option; a custom all value is inserted as written', () => {
    expect(run('WHERE r IN ($r)', v('r', [ALL_VALUE], { multi: true, includeAll: true }))).toBe("WHERE r IN ('us','eu','o''hare')");
    expect(run('WHERE r IN ($r)', v('r', ALL_VALUE, { includeAll: true }))).toBe("WHERE r IN ('us','eu','o''hare')");
    expect(run('WHERE r RLIKE $r', v('r', [ALL_VALUE], { multi: true, includeAll: true, allValue: '.*' }))).toBe('WHERE r RLIKE .*');
  });

  it('named formats', () => {
    const x = v('x', ['a', "b'c"], { multi: true });
    expect(run('${x:csv}', x)).toBe("a,b'c");
    expect(run('${x:sqlstring}', x)).toBe("'a','b''c'");
    expect(run('${x:singlequote}', x)).toBe("'a','b\\'c'");
    expect(() => run('${x:glob}', x)).toThrow(MacroError);
  });

  it('leaves macros and unknown names alone, and fills $__interval / $__interval_ms', () => {
    expect(run('$__timeFilter(t) AND $nope AND $__interval_ms AND $__interval')).toBe('$__timeFilter(t) AND $nope AND 60000 AND 1m');
  });
});
