/**
 * What Grafana does to a MySQL query's `rawSql` before the database sees it, in the same two steps
 * and the same order, so the SQL checks run exactly what a dashboard or an alert rule would run.
 *
 * 1. Frontend (dashboards only; alert rules skip it): template variables.
 *    `TemplateSrv.replace(rawSql, scopedVars, SqlDatasource.interpolateVariable)`:
 *    - variable syntax: `variableRegex` in public/app/features/variables/utils.ts
 *      (`$name`, `[[name]]`, `[[name:fmt]]`, `${name}`, `${name:fmt}`);
 *    - the All value: public/app/features/templating/template_srv.ts `replace` — a custom `allValue`
 *      is inserted verbatim (not formatted), otherwise every option value but All is used;
 *    - the default format function: packages/grafana-sql/src/datasource/SqlDatasource.ts
 *      `interpolateVariable` — a string of a variable that is neither multi nor includeAll only has
 *      `'` doubled (no quotes added); a string of a multi/includeAll variable and every element of
 *      an array are quoted with MySqlQueryModel.quoteLiteral (`'…'`, `'` doubled) and joined by `,`;
 *      numbers are inserted as they are;
 *    - `$__interval` / `$__interval_ms` come from the query runner's scopedVars.
 * 2. Backend (both): pkg/tsdb/mysql/sqleng/sql_engine.go `Interpolate` replaces `$__interval_ms`,
 *    `$__interval`, `$__unixEpochFrom()`, `$__unixEpochTo()` (in that order), then
 *    pkg/tsdb/mysql/macros.go `mySQLMacroEngine.Interpolate` expands `$__name(args)` with the regex
 *    `\$([_a-zA-Z0-9]+)\(([^\)]*)\)` (args split on `,`, trimmed of spaces); an unknown macro is an
 *    error, as are the restricted functions (`user()`, `current_user`, `show grants`, …).
 */

export interface TimeRange {
  /** Epoch ms. */
  readonly from: number;
  readonly to: number;
}

/** A dashboard variable as Grafana holds it at query time. */
export interface VariableState {
  readonly name: string;
  readonly multi: boolean;
  readonly includeAll: boolean;
  readonly allValue?: string;
  /** Every option value (the All option excluded). */
  readonly options: readonly string[];
  /** The selection: one value, several, or `$__all`. */
  readonly current: string | readonly string[];
}

export const ALL_VALUE = '$__all';

export class MacroError extends Error {}

// ── step 1: template variables (frontend) ───────────────────────────────────────────────────────

const VARIABLE_REGEX = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

type Value = string | number | readonly string[];

/** SqlDatasource.interpolateVariable with MySqlQueryModel.quoteLiteral. */
function sqlFormat(value: Value, variable: { multi: boolean; includeAll: boolean }): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return variable.multi || variable.includeAll ? quoteLiteral(value) : value.replace(/'/g, "''");
  return value.map(quoteLiteral).join(',');
}

function quoteLiteral(value: string): string {
  return "'" + value.replace(/'/g, "''") + "'";
}

/** The named formats (`${name:fmt}`) a dashboard here may use: formatRegistry in Grafana. */
function namedFormat(format: string, value: Value): string {
  const list = typeof value === 'string' || typeof value === 'number' ? [String(value)] : [...value];
  switch (format) {
    case 'csv':
      return list.join(',');
    case 'sqlstring':
      return list.map((v) => "'" + v.replace(/'/g, "''") + "'").join(',');
    case 'singlequote':
      return list.map((v) => "'" + v.replace(/'/g, "\\'") + "'").join(',');
    case 'doublequote':
      return list.map((v) => '"' + v.replace(/"/g, '\\"') + '"').join(',');
    case 'raw':
      return list.join(',');
    default:
      throw new MacroError(`variable format ":${format}" is not one the checks implement`);
  }
}

export interface ScopedValues {
  /** The panel's interval (`$__interval` / `$__interval_ms`). */
  readonly intervalMs: number;
}

/** TemplateSrv.replace(rawSql, scopedVars, interpolateVariable). Unknown names are left as written. */
export function interpolateVariables(sql: string, variables: ReadonlyMap<string, VariableState>, scoped: ScopedValues): string {
  return sql.replace(VARIABLE_REGEX, (match, v1?: string, v2?: string, f2?: string, v3?: string, fieldPath?: string, f3?: string) => {
    const name = (v1 ?? v2 ?? v3)!;
    const format = f2 ?? f3;
    if (fieldPath !== undefined) throw new MacroError(`field paths (\${${name}.${fieldPath}}) are not used by Weft's dashboards`);
    if (name === '__interval' || name === '__interval_ms') {
      const value = name === '__interval_ms' ? scoped.intervalMs : formatFrontendInterval(scoped.intervalMs);
      return format ? namedFormat(format, value) : sqlFormat(value, { multi: false, includeAll: false });
    }
    const variable = variables.get(name);
    if (!variable) return match;
    let value: Value = variable.current;
    if (value === ALL_VALUE || (Array.isArray(value) && value[0] === ALL_VALUE)) {
      // template_srv.ts: a custom all value skips formatting (unless text/percentencode).
      if (variable.allValue !== undefined && format !== 'text' && format !== 'percentencode') return variable.allValue;
      value = variable.options;
    }
    return format ? namedFormat(format, value) : sqlFormat(value, variable);
  });
}

/** rangeutil.secondsToHms (packages/grafana-data/src/datetime/rangeutil.ts), the frontend's `$__interval` text. */
export function formatFrontendInterval(ms: number): string {
  const seconds = ms / 1000;
  const years = Math.floor(seconds / 31536000);
  if (years) return `${years}y`;
  const days = Math.floor((seconds % 31536000) / 86400);
  if (days) return `${days}d`;
  const hours = Math.floor(((seconds % 31536000) % 86400) / 3600);
  if (hours) return `${hours}h`;
  const minutes = Math.floor((((seconds % 31536000) % 86400) % 3600) / 60);
  if (minutes) return `${minutes}m`;
  const secs = Math.floor((((seconds % 31536000) % 86400) % 3600) % 60);
  if (secs) return `${secs}s`;
  const millis = Math.floor(seconds * 1000);
  if (millis) return `${millis}ms`;
  return 'less than a millisecond';
}

// ── step 2: macros (backend) ────────────────────────────────────────────────────────────────────

const MACRO_REGEX = /\$([_a-zA-Z0-9]+)\(([^)]*)\)/g;
const RESTRICTED = /([\s]*show[\s]+grants|[\s,]session_user\([^)]*\)|[\s,]current_user(\([^)]*\))?|[\s,]system_user\([^)]*\)|[\s,]user\([^)]*\))([\s,;]|$)/im;

/** sqleng.Interpolate then mySQLMacroEngine.Interpolate. */
export function expandMacros(sql: string, range: TimeRange, intervalMs: number): string {
  const fromS = Math.floor(range.from / 1000);
  const toS = Math.floor(range.to / 1000);
  let out = sql
    .replaceAll('$__interval_ms', String(Math.trunc(intervalMs)))
    .replaceAll('$__interval', formatBackendInterval(intervalMs))
    .replaceAll('$__unixEpochFrom()', String(fromS))
    .replaceAll('$__unixEpochTo()', String(toS));
  if (RESTRICTED.test(out)) throw new MacroError('invalid query: show grants, session_user(), current_user(), system_user() and user() are not allowed');
  out = out.replace(MACRO_REGEX, (_match, name: string, rawArgs: string) => evaluateMacro(name, rawArgs.split(',').map((a) => a.replace(/^ +| +$/g, '')), fromS, toS, range));
  return out;
}

function evaluateMacro(name: string, args: string[], fromS: number, toS: number, range: TimeRange): string {
  const column = (): string => {
    if (args.length === 0 || args[0] === '') throw new MacroError(`missing time column argument for macro ${name}`);
    return args[0]!;
  };
  const interval = (trim: RegExp): number => {
    if (args.length < 2) throw new MacroError(`macro ${name} needs time column and interval`);
    const seconds = parseIntervalSeconds(args[1]!.replace(trim, ''));
    if (seconds === undefined) throw new MacroError(`error parsing interval ${args[1]}`);
    return seconds;
  };
  switch (name) {
    case '__time':
    case '__timeEpoch':
      return `UNIX_TIMESTAMP(${column()}) as time_sec`;
    case '__timeFilter':
      if (fromS < 0) return `${column()} BETWEEN DATE_ADD(FROM_UNIXTIME(0), INTERVAL ${fromS} SECOND) AND FROM_UNIXTIME(${toS})`;
      return `${column()} BETWEEN FROM_UNIXTIME(${fromS}) AND FROM_UNIXTIME(${toS})`;
    case '__timeFrom':
      return `FROM_UNIXTIME(${fromS})`;
    case '__timeTo':
      return `FROM_UNIXTIME(${toS})`;
    case '__timeGroup': {
      const s = interval(/^['"]+|['"]+$/g);
      return `UNIX_TIMESTAMP(${column()}) DIV ${s.toFixed(0)} * ${s.toFixed(0)}`;
    }
    case '__timeGroupAlias':
      return `${evaluateMacro('__timeGroup', args, fromS, toS, range)} AS "time"`;
    case '__unixEpochFilter':
      return `${column()} >= ${fromS} AND ${column()} <= ${toS}`;
    case '__unixEpochNanoFilter':
      return `${column()} >= ${nanos(range.from)} AND ${column()} <= ${nanos(range.to)}`;
    case '__unixEpochNanoFrom':
      return nanos(range.from);
    case '__unixEpochNanoTo':
      return nanos(range.to);
    case '__unixEpochGroup': {
      const s = interval(/^'+|'+$/g);
      return `${column()} DIV ${goFloat(s)} * ${goFloat(s)}`;
    }
    case '__unixEpochGroupAlias':
      return `${evaluateMacro('__unixEpochGroup', args, fromS, toS, range)} AS "time"`;
    default:
      throw new MacroError(`unknown macro ${name}`);
  }
}

function nanos(ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString();
}

/**
 * Go's `%v` of a float64 (strconv 'g' with shortest precision, ftoa.go `formatDigits`): plain
 * digits, or exponent form once the decimal exponent is below -4 or at least 6 ("if precision was
 * the shortest possible, use precision 6 for this decision"): 300 → `300`, 2592000 → `2.592e+06`.
 */
export function goFloat(n: number): string {
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  return exp < -4 || exp >= 6 ? goExp(n) : String(n);
}

function goExp(n: number): string {
  const [mantissa, e] = n.toExponential().split('e') as [string, string];
  const sign = e.startsWith('-') ? '-' : '+';
  const digits = e.replace(/^[+-]/, '').padStart(2, '0');
  return `${mantissa}e${sign}${digits}`;
}

/** gtime.ParseInterval: Go durations plus `d` and `w` (calendar `M`/`y` are not used here). */
export function parseIntervalSeconds(text: string): number | undefined {
  const unit = /^(\d+)([dw])$/.exec(text);
  if (unit) return Number(unit[1]) * (unit[2] === 'd' ? 86400 : 604800);
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  const scale: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * scale[m[2]!]!;
    matched = part.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

/** gtime.FormatInterval (backend `$__interval`): the largest whole unit, truncated. */
export function formatBackendInterval(ms: number): string {
  const units: Array<[number, string]> = [[31536000000, 'y'], [86400000, 'd'], [3600000, 'h'], [60000, 'm'], [1000, 's'], [1, 'ms']];
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return '1ms';
}

/** What a dashboard panel's query becomes: variables in the frontend, then the backend's macros. */
export function grafanaMysqlQuery(rawSql: string, ctx: { range: TimeRange; intervalMs: number; variables: ReadonlyMap<string, VariableState> }): string {
  return expandMacros(interpolateVariables(rawSql, ctx.variables, { intervalMs: ctx.intervalMs }), ctx.range, ctx.intervalMs);
}
