import type { ConditionValue, FieldCondition, SearchQuery } from '../store/index.js';
import { SEVERITIES, type Severity } from '../template/index.js';
import { badRequest } from './errors.js';

/**
 * The TraceQL subset Weft answers (Tempo's TraceQL, as documented for Tempo 2.x): one spanset filter
 * `{ … }` of conditions joined by `&&`, where a condition is `<attribute> <op> <value>`:
 *
 * - attributes: `.name`, `span.name`, `resource.name` (all the same to Weft: the session's root
 *   span); `template`, `key`, `verdict`, `severity` are the session's columns, `resource.service.name`
 *   is the template, any other name is a session field;
 * - operators: `=`, `>`, `>=`, `<`, `<=`, and `=~` with a `"prefix.*"` pattern;
 * - values: "strings", numbers, `true` / `false`;
 * - `a = x || a = y` on one attribute (parenthesised when mixed with `&&`) means "any of";
 * - the intrinsic `status = error` is a critical verdict, `status = ok` / `unset` any other.
 *
 * Everything else (structural operators, pipelines, `!=`, durations) is refused with a 400 that
 * says which part is not supported.
 */
export type Attribute =
  | { readonly kind: 'column'; readonly column: 'template' | 'key' | 'verdict' | 'severity' }
  | { readonly kind: 'status' }
  | { readonly kind: 'field'; readonly name: string };

export type Op = '=' | '>' | '>=' | '<' | '<=' | '=~';

export interface Condition {
  readonly attribute: Attribute;
  readonly op: Op;
  readonly value: ConditionValue;
}

/** Conditions that must all hold; each entry holds when any of its alternatives holds. */
export type TraceQLQuery = readonly (readonly Condition[])[];

const COLUMNS = new Set(['template', 'key', 'verdict', 'severity']);

type Token =
  | { readonly t: 'punct'; readonly v: string; readonly at: number }
  | { readonly t: 'ident'; readonly v: string; readonly at: number }
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'number'; readonly v: number; readonly at: number };

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
      if (/^[a-z]/i.test(text.slice(i + num[0].length))) throw syntax(`durations and units are not supported (at ${i + 1})`);
      out.push({ t: 'number', v: Number(num[0]), at: i });
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
    if (opToken.t !== 'punct' || !['=', '>', '>=', '<', '<=', '=~'].includes(opToken.v)) {
      throw syntax(`operator ${show(opToken)} at ${opToken.at + 1} is not supported (use =, >, >=, <, <=, =~)`);
    }
    const op = opToken.v as Op;
    const valueToken = this.next('a value');
    let value: ConditionValue;
    if (valueToken.t === 'string' || valueToken.t === 'number') value = valueToken.v;
    else if (valueToken.t === 'ident' && (valueToken.v === 'true' || valueToken.v === 'false')) value = valueToken.v === 'true';
    else if (valueToken.t === 'ident' && attribute.kind === 'status') value = valueToken.v;
    else throw syntax(`expected a value ("text", a number, true or false), got ${show(valueToken)} at ${valueToken.at + 1}`);
    if (attribute.kind === 'status' && (op !== '=' || !['error', 'ok', 'unset'].includes(String(value)))) {
      throw syntax('status supports only = error, = ok, = unset');
    }
    if (op === '=~' && (typeof value !== 'string' || !/^\^?[^.*+?()[\]{}|\\^$]*\.\*$/.test(value))) {
      throw syntax('=~ supports only prefix patterns like "abc.*"');
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
  return JSON.stringify(String(token.v));
}

/** Scopes are all the root span to Weft: `.x`, `span.x`, `resource.x` name the same attribute. */
export function attributeOf(name: string): Attribute {
  if (name === 'status') return { kind: 'status' };
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

/** The store query a parsed TraceQL filter means. */
export function traceQLToSearch(query: TraceQLQuery): SearchQuery {
  const out: {
    template?: string;
    key?: string;
    verdict?: string[];
    severity?: Severity[];
    fields: FieldCondition[];
  } = { fields: [] };
  for (const alternatives of query) {
    const first = alternatives[0]!;
    const attribute = first.attribute;
    if (attribute.kind === 'field') {
      out.fields.push(fieldCondition(attribute.name, alternatives));
      continue;
    }
    if (attribute.kind === 'status') {
      const wanted = alternatives.map((c) => String(c.value));
      const severities = SEVERITIES.filter((s) => (s === 'critical' ? wanted.includes('error') : wanted.some((w) => w !== 'error')));
      out.severity = intersect('status', out.severity, severities);
      continue;
    }
    for (const c of alternatives) {
      if (c.op !== '=') throw syntax(`${attribute.column} supports only = (and || for any of several)`);
      if (typeof c.value !== 'string') throw syntax(`${attribute.column} is compared with a "string"`);
    }
    const values = alternatives.map((c) => String(c.value));
    switch (attribute.column) {
      case 'template':
      case 'key': {
        if (values.length !== 1) throw syntax(`${attribute.column} takes one value`);
        const previous = out[attribute.column];
        if (previous !== undefined && previous !== values[0]) throw syntax(`${attribute.column} given twice with different values`);
        out[attribute.column] = values[0]!;
        break;
      }
      case 'verdict':
        out.verdict = intersect('verdict', out.verdict, values);
        break;
      case 'severity': {
        const bad = values.find((v) => !(SEVERITIES as readonly string[]).includes(v));
        if (bad !== undefined) throw syntax(`severity is one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(bad)}`);
        out.severity = intersect('severity', out.severity, values as Severity[]);
        break;
      }
    }
  }
  return {
    ...(out.template !== undefined ? { template: out.template } : {}),
    ...(out.key !== undefined ? { key: out.key } : {}),
    ...(out.verdict !== undefined ? { verdict: out.verdict } : {}),
    ...(out.severity !== undefined ? { severity: out.severity } : {}),
    ...(out.fields.length > 0 ? { fields: out.fields } : {}),
  };
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
    case '=~':
      return { field, op: 'prefix', value: String(value).replace(/^\^/, '').slice(0, -2) };
    default: {
      if (typeof value === 'boolean') throw syntax(`${op} needs a number or a string, not a boolean`);
      const bound = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' }[op];
      return { field, op: 'range', [bound]: value };
    }
  }
}
