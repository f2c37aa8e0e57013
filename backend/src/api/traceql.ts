import type { ConditionValue, DurationCondition, FieldCondition, SearchQuery } from '../store/index.js';
import { SEVERITIES, type Severity } from '../template/index.js';
import { badRequest } from './errors.js';

/**
 * The TraceQL subset Weft answers (Tempo's TraceQL, as documented for Tempo 2.x): one spanset filter
 * `{ … }` of conditions joined by `&&`, where a condition is `<attribute> <op> <value>`:
 *
 * - attributes: `.name`, `span.name`, `resource.name` (all the same to Weft: the session's root
 *   span); `template`, `key`, `verdict`, `severity` are the session's columns, `resource.service.name`
 *   is the template, any other name is a session field;
 * - operators on fields: `=`, `!=`, `>`, `>=`, `<`, `<=`, and `=~` / `!~` with a `"prefix.*"`
 *   pattern; on the columns `=` and `!=`;
 * - `!=` and `!~` follow TraceQL: a session without the attribute does not match. `verdict != "ok"`
 *   is a session with a verdict other than ok (none yet: no match); `.channel != "alipay"` is a
 *   session that has the field and none of whose values is "alipay" (fields may be multi-valued:
 *   `=` matches when any value does, `!=` when none does);
 * - values: "strings", numbers, `true` / `false`;
 * - the intrinsics `duration` and `traceDuration`, both the session's duration (end − start: the
 *   root span covers the session), compared by `=`, `!=`, `>`, `>=`, `<`, `<=` with a duration:
 *   `500ms`, `1.5s`, `2m`, `1h`, `250us` / `250µs`, `10ns`, compounds as in Go (`1h30m`), and
 *   Prometheus' `d`, `w`, `y` (`1d`);
 * - `a = x || a = y` on one attribute (parenthesised when mixed with `&&`) means "any of";
 * - the intrinsic `status = error` is a critical verdict, `status = ok` / `unset` any other.
 *
 * Everything else (structural operators, pipelines, regular expressions other than prefixes,
 * `!=` on status) is refused with a 400 that says which part is not supported.
 */
export type Attribute =
  | { readonly kind: 'column'; readonly column: 'template' | 'key' | 'verdict' | 'severity' }
  | { readonly kind: 'status' }
  | { readonly kind: 'duration'; readonly name: 'duration' | 'traceDuration' }
  | { readonly kind: 'field'; readonly name: string };

export type Op = '=' | '!=' | '>' | '>=' | '<' | '<=' | '=~' | '!~';

export interface Condition {
  readonly attribute: Attribute;
  readonly op: Op;
  /** For a `duration` attribute: milliseconds. */
  readonly value: ConditionValue;
}

/** Conditions that must all hold; each entry holds when any of its alternatives holds. */
export type TraceQLQuery = readonly (readonly Condition[])[];

const COLUMNS = new Set(['template', 'key', 'verdict', 'severity']);

type Token =
  | { readonly t: 'punct'; readonly v: string; readonly at: number }
  | { readonly t: 'ident'; readonly v: string; readonly at: number }
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'number'; readonly v: number; readonly at: number }
  /** `v` in milliseconds, `text` as written. */
  | { readonly t: 'duration'; readonly v: number; readonly text: string; readonly at: number };

const OPS: readonly string[] = ['=', '!=', '>', '>=', '<', '<=', '=~', '!~'];

const PUNCT = ['&&', '||', '>=', '<=', '!=', '=~', '!~', '{', '}', '(', ')', '=', '>', '<', '|', '!'];

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const punct = PUNCT.find((p) => text.startsWith(p, i));
    if (punct) {
      out.push({ t: 'punct', v: punct, at: i });
      i += punct.length;
      continue;
    }
    if (c === '"' || c === '`') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && c === '"' && j + 1 < text.length) {
          const n = text[j + 1]!;
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else {
          s += text[j++];
        }
      }
      if (j >= text.length) throw syntax(`unterminated string starting at ${i + 1}`);
      out.push({ t: 'string', v: s, at: i });
      i = j + 1;
      continue;
    }
    const num = /^-?(\d+\.?\d*(e[+-]?\d+)?|\.\d+)/i.exec(text.slice(i));
    if (num && (c === '-' || /\d/.test(c))) {
      // A number with letters after it is a duration (`1.5s`, `1h30m`) or a mistake (`5parsecs`).
      if (/^[a-zµμ]/i.test(text.slice(i + num[0].length))) {
        const word = /^-?[0-9a-zµμ.]+/i.exec(text.slice(i))![0];
        const ms = traceQLDurationMs(word);
        if (ms === undefined) {
          throw syntax(`${JSON.stringify(word)} at ${i + 1} is not a duration: ${DURATION_HELP}`);
        }
        out.push({ t: 'duration', v: ms, text: word, at: i });
        i += word.length;
        continue;
      }
      const n = Number(num[0]);
      // 1e400 reads as Infinity: compared as such it matched nothing (=) or failed in the store (>).
      if (!Number.isFinite(n)) throw syntax(`${num[0]} at ${i + 1} is out of the range of numbers`);
      out.push({ t: 'number', v: n, at: i });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z0-9_.:\-/]+/.exec(text.slice(i));
    if (ident) {
      out.push({ t: 'ident', v: ident[0], at: i });
      i += ident[0].length;
      continue;
    }
    throw syntax(`unexpected ${JSON.stringify(c)} at ${i + 1}`);
  }
  return out;
}

function syntax(message: string): Error {
  return badRequest(`TraceQL: ${message}`);
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  query(): TraceQLQuery {
    this.expect('{');
    const out = this.peekIs('}') ? [] : this.and();
    this.expect('}');
    const rest = this.tokens[this.i];
    if (rest) throw syntax(`only one spanset filter { … } is supported; unexpected ${show(rest)} at ${rest.at + 1}`);
    return out;
  }

  private and(): (readonly Condition[])[] {
    const start = this.i;
    const out = [...this.or()];
    let bareOr = this.orsSince(start);
    while (this.accept('&&')) {
      const at = this.i;
      out.push(...this.or());
      bareOr ||= this.orsSince(at);
      // TraceQL binds && tighter than ||: `a && b || c` is `(a && b) || c`, which Weft cannot answer;
      // read as `a && (b || c)` it would silently return other sessions than Tempo does.
      if (bareOr) throw syntax('|| next to && needs parentheses: write a && (b || c)');
    }
    return out;
  }

  /** Whether the tokens from `start` to here hold a `||` outside parentheses. */
  private orsSince(start: number): boolean {
    let depth = 0;
    for (let k = start; k < this.i; k++) {
      const t = this.tokens[k]!;
      if (t.t !== 'punct') continue;
      if (t.v === '(') depth++;
      else if (t.v === ')') depth--;
      else if (t.v === '||' && depth === 0) return true;
    }
    return false;
  }

  /** `a || b` (alternatives of one attribute); a parenthesised `&&` group flattens into the conjunction. */
  private or(): (readonly Condition[])[] {
    const first = this.unit();
    if (!this.peekIs('||')) return first;
    const alternatives: Condition[] = [];
    let group = first;
    for (;;) {
      if (group.length !== 1) throw syntax('|| may only join conditions on one attribute (any of several values)');
      alternatives.push(...group[0]!);
      if (!this.accept('||')) break;
      group = this.unit();
    }
    const key = JSON.stringify(alternatives[0]!.attribute);
    if (alternatives.some((c) => JSON.stringify(c.attribute) !== key || c.op !== '=')) {
      throw syntax('|| may only join `=` conditions on one attribute (any of several values)');
    }
    return [alternatives];
  }

  private unit(): (readonly Condition[])[] {
    if (this.accept('(')) {
      const inner = this.and();
      this.expect(')');
      return inner;
    }
    return [[this.condition()]];
  }

  private condition(): Condition {
    const name = this.next('an attribute');
    if (name.t !== 'ident') throw syntax(`expected an attribute, got ${show(name)} at ${name.at + 1}`);
    const attribute = attributeOf(name.v);
    const opToken = this.next('an operator');
    if (opToken.t !== 'punct' || !OPS.includes(opToken.v)) {
      throw syntax(`operator ${show(opToken)} at ${opToken.at + 1} is not supported (use ${OPS.join(', ')})`);
    }
    const op = opToken.v as Op;
    const valueToken = this.next('a value');
    if (attribute.kind === 'duration') return durationCondition(attribute, op, valueToken);
    let value: ConditionValue;
    if (valueToken.t === 'duration') {
      throw syntax(`${name.v} is compared with the duration ${valueToken.text} at ${valueToken.at + 1}: durations compare only with duration or traceDuration`);
    }
    if (valueToken.t === 'string' || valueToken.t === 'number') value = valueToken.v;
    else if (valueToken.t === 'ident' && (valueToken.v === 'true' || valueToken.v === 'false')) value = valueToken.v === 'true';
    else if (valueToken.t === 'ident' && attribute.kind === 'status') value = valueToken.v;
    else throw syntax(`expected a value ("text", a number, true or false), got ${show(valueToken)} at ${valueToken.at + 1}`);
    if (attribute.kind === 'status' && (op !== '=' || !['error', 'ok', 'unset'].includes(String(value)))) {
      throw syntax('status supports only = error, = ok, = unset');
    }
    if ((op === '=~' || op === '!~') && (typeof value !== 'string' || !/^\^?[^.*+?()[\]{}|\\^$]*\.\*$/.test(value))) {
      throw syntax(`${op} supports only prefix patterns like "abc.*"`);
    }
    return { attribute, op, value };
  }

  private next(what: string): Token {
    const token = this.tokens[this.i++];
    if (!token) throw syntax(`expected ${what}, got the end of the query`);
    return token;
  }

  private peekIs(punct: string): boolean {
    const token = this.tokens[this.i];
    return token?.t === 'punct' && token.v === punct;
  }

  private accept(punct: string): boolean {
    if (!this.peekIs(punct)) return false;
    this.i++;
    return true;
  }

  private expect(punct: string): void {
    const token = this.tokens[this.i];
    if (!this.accept(punct)) throw syntax(`expected ${punct}, got ${token ? `${show(token)} at ${token.at + 1}` : 'the end of the query'}`);
  }
}

function show(token: Token): string {
  return JSON.stringify(token.t === 'duration' ? token.text : String(token.v));
}

function durationCondition(attribute: Attribute & { kind: 'duration' }, op: Op, valueToken: Token): Condition {
  if (op === '=~' || op === '!~') throw syntax(`${attribute.name} supports =, !=, >, >=, <, <= (not ${op})`);
  if (valueToken.t !== 'duration') {
    throw syntax(`${attribute.name} is compared with a duration (${DURATION_EXAMPLES}), got ${show(valueToken)} at ${valueToken.at + 1}`);
  }
  return { attribute, op, value: valueToken.v };
}

const DURATION_EXAMPLES = '500ms, 1.5s, 2m, 1h';
const DURATION_HELP = `write a number and a unit, e.g. ${DURATION_EXAMPLES} (units ns, us, µs, ms, s, m, h; also d, w, y)`;

/** Nanoseconds per unit of Go's time.ParseDuration (µ as U+00B5 or U+03BC). */
const GO_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const GO_DURATION = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;
const GO_PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g;
/** Prometheus' durations (what TraceQL tries first): whole numbers, units in this order, each once. */
const PROM_DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const PROM_UNITS_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];
const MAX_NANOS = 2n ** 63n - 1n;

/**
 * A duration as Go's `time.ParseDuration` reads it (`300ms`, `-1.5h`, `2h45m`, `0`), in
 * milliseconds; undefined when it is not one. Exact to the nanosecond, as Go's (fractions of a
 * nanosecond are dropped), so `1.1s` is 1100 ms, not 1100.0000000000002.
 */
export function goDurationMs(text: string): number | undefined {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  const m = GO_DURATION.exec(text);
  if (!m) return undefined;
  let nanos = 0n;
  for (const [, whole, fraction = '', unit] of m[2]!.matchAll(GO_PART)) {
    const perUnit = GO_UNITS[unit!]!;
    nanos += BigInt(whole || '0') * perUnit + (fraction === '' ? 0n : (BigInt(fraction) * perUnit) / 10n ** BigInt(fraction.length));
  }
  if (nanos > MAX_NANOS) return undefined;
  const ms = Number(nanos / 1_000_000n) + Number(nanos % 1_000_000n) / 1e6;
  return m[1] === '-' ? -ms : ms;
}

/** A TraceQL duration literal in milliseconds, as Tempo's lexer reads it: Prometheus' form first, then Go's. */
export function traceQLDurationMs(text: string): number | undefined {
  const prom = text !== '' ? PROM_DURATION.exec(text) : null;
  if (prom && prom.slice(1).some((part) => part !== undefined)) {
    return prom.slice(1).reduce((sum, part, k) => sum + (part === undefined ? 0 : Number(part) * PROM_UNITS_MS[k]!), 0);
  }
  return goDurationMs(text);
}

/** Scopes are all the root span to Weft: `.x`, `span.x`, `resource.x` name the same attribute. */
export function attributeOf(name: string): Attribute {
  if (name === 'status') return { kind: 'status' };
  if (name === 'duration' || name === 'traceDuration') return { kind: 'duration', name };
  if (name === 'resource.service.name' || name === 'rootServiceName') return { kind: 'column', column: 'template' };
  const bare = /^(?:span|resource)?\.(.+)$/.exec(name)?.[1];
  if (bare === undefined) {
    throw syntax(`attribute ${JSON.stringify(name)} is not supported (use .name, span.name or resource.name, or the intrinsic status)`);
  }
  if (COLUMNS.has(bare)) return { kind: 'column', column: bare as 'template' | 'key' | 'verdict' | 'severity' };
  return { kind: 'field', name: bare };
}

export function parseTraceQL(text: string): TraceQLQuery {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  return new Parser(tokenize(trimmed)).query();
}

type ColumnName = (Attribute & { kind: 'column' })['column'];

/** What the conditions on one column ask: values it must take (any of; undefined: no `=`) and values it must not. */
interface ColumnWish {
  anyOf?: string[];
  noneOf: string[];
}

/** The store query a parsed TraceQL filter means. */
export function traceQLToSearch(query: TraceQLQuery): SearchQuery {
  const columns: Record<ColumnName, ColumnWish> = { template: { noneOf: [] }, key: { noneOf: [] }, verdict: { noneOf: [] }, severity: { noneOf: [] } };
  let statusSeverities: Severity[] | undefined;
  const fields: FieldCondition[] = [];
  const duration: DurationCondition[] = [];
  for (const alternatives of query) {
    const first = alternatives[0]!;
    const attribute = first.attribute;
    switch (attribute.kind) {
      case 'field':
        fields.push(fieldCondition(attribute.name, alternatives));
        break;
      case 'status': {
        const wanted = alternatives.map((c) => String(c.value));
        const severities = SEVERITIES.filter((s) => (s === 'critical' ? wanted.includes('error') : wanted.some((w) => w !== 'error')));
        statusSeverities = intersect('status', statusSeverities, severities);
        break;
      }
      case 'duration':
        if (alternatives.length > 1) throw syntax(`${attribute.name} takes no || (write one comparison, or two joined by &&)`);
        duration.push({ op: first.op as DurationCondition['op'], ms: Number(first.value) });
        break;
      case 'column':
        columnCondition(attribute.column, alternatives, columns[attribute.column]);
        break;
    }
  }
  const template = single('template', columns.template);
  const key = single('key', columns.key);
  const verdict = anyOf('verdict', columns.verdict);
  // Severity has four values: `!=` becomes "any of the others", which its index answers.
  const severityWish = columns.severity;
  const severityValues = severityWish.anyOf ?? (severityWish.noneOf.length > 0 || statusSeverities !== undefined ? [...SEVERITIES] : undefined);
  let severity: Severity[] | undefined;
  if (severityValues !== undefined) {
    severity = anyOf('severity', { anyOf: severityValues, noneOf: severityWish.noneOf }).anyOf as Severity[];
    if (statusSeverities !== undefined) severity = intersect('severity and status', severity, statusSeverities);
  }
  return {
    ...(template.value !== undefined ? { template: template.value } : {}),
    ...(template.not.length > 0 ? { notTemplate: template.not } : {}),
    ...(key.value !== undefined ? { key: key.value } : {}),
    ...(key.not.length > 0 ? { notKey: key.not } : {}),
    ...(verdict.anyOf !== undefined ? { verdict: verdict.anyOf } : {}),
    ...(verdict.noneOf.length > 0 ? { notVerdict: verdict.noneOf } : {}),
    ...(severity !== undefined ? { severity } : {}),
    ...(fields.length > 0 ? { fields } : {}),
    ...(duration.length > 0 ? { duration } : {}),
  };
}

function columnCondition(column: ColumnName, alternatives: readonly Condition[], wish: ColumnWish): void {
  for (const c of alternatives) {
    if (c.op !== '=' && c.op !== '!=') throw syntax(`${column} supports only = and != (and || for any of several)`);
    if (typeof c.value !== 'string') throw syntax(`${column} is compared with a "string"`);
  }
  const values = alternatives.map((c) => String(c.value));
  if (column === 'severity') {
    const bad = values.find((v) => !(SEVERITIES as readonly string[]).includes(v));
    if (bad !== undefined) throw syntax(`severity is one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(bad)}`);
  }
  // `||` joins only `=` conditions, so a `!=` stands alone.
  if (alternatives[0]!.op !== '!=') wish.anyOf = intersect(column, wish.anyOf, values);
  else if (!wish.noneOf.includes(values[0]!)) wish.noneOf.push(values[0]!);
}

/** The values left of `anyOf` once `noneOf` is taken out (the negations then say nothing more). */
function anyOf(what: string, wish: ColumnWish): ColumnWish {
  if (wish.anyOf === undefined) return wish;
  const left = wish.anyOf.filter((v) => !wish.noneOf.includes(v));
  if (left.length === 0) throw syntax(`the conditions on ${what} exclude each other`);
  return { anyOf: left, noneOf: [] };
}

/** A column the store matches with one value (template, key). */
function single(what: string, wish: ColumnWish): { value?: string; not: string[] } {
  const left = anyOf(what, wish);
  if (left.anyOf === undefined) return { not: left.noneOf };
  if (left.anyOf.length !== 1) throw syntax(`${what} takes one value`);
  return { value: left.anyOf[0]!, not: [] };
}

function intersect<T>(what: string, previous: readonly T[] | undefined, next: readonly T[]): T[] {
  const result = previous === undefined ? [...next] : previous.filter((v) => next.includes(v));
  if (result.length === 0) throw syntax(`the conditions on ${what} exclude each other`);
  return result;
}

function fieldCondition(field: string, alternatives: readonly Condition[]): FieldCondition {
  if (alternatives.length > 1) return { field, op: 'in', values: alternatives.map((c) => c.value) };
  const { op, value } = alternatives[0]!;
  switch (op) {
    case '=':
      return { field, op: '=', value };
    case '!=':
      return { field, op: '!=', value };
    case '=~':
      return { field, op: 'prefix', value: prefixOf(String(value)) };
    case '!~':
      return { field, op: 'notPrefix', value: prefixOf(String(value)) };
    default: {
      if (typeof value === 'boolean') throw syntax(`${op} needs a number or a string, not a boolean`);
      const bound = ({ '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const)[op];
      return { field, op: 'range', [bound]: value };
    }
  }
}

/** `"^abc.*"` / `"abc.*"` → `abc` (the parser admits only such patterns). */
function prefixOf(pattern: string): string {
  return pattern.replace(/^\^/, '').slice(0, -2);
}
