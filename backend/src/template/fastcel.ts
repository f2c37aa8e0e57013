/**
 * A direct-threaded fast path for the common shapes of Weft's CEL: each AST node becomes a JS
 * closure that reads the record or the session as it is held, instead of the interpreter reading a
 * context object built for every evaluation (which cost more than the engine's own work).
 *
 * Exactness is the contract: a closure returns either the value CEL returns (same JS
 * representation: ints as bigint, doubles as number, records as plain objects), FAIL when CEL
 * would raise an error, or UNSURE when the operand types fall outside what it models — and then
 * the caller runs the real CEL program. Expressions using anything not modelled here (macros,
 * lists, maps, `in`, `size`, optional selection …) are not compiled at all. A differential
 * property test (test/fastcel.property.test.ts) compares both on random expressions and values.
 */
import type { ASTNode } from '@marcbachmann/cel-js';

/** CEL raises an error here (the real program gives its message, when one is needed). */
export const FAIL: unique symbol = Symbol('cel fails');
/** Outside the modelled semantics: run the real CEL program. */
export const UNSURE: unique symbol = Symbol('cel unsure');
export type Outcome = unknown;

/** What session expressions read, by step position; the engine implements it over its state. */
export interface SessionScope {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** The step's first / last record, undefined when the session holds none. */
  first(step: number): unknown;
  last(step: number): unknown;
  count(step: number): number;
  /** Event time of the step's first record, undefined when absent. */
  time(step: number): number | undefined;
  /** A field already evaluated (fields run in order), undefined when absent. */
  field(name: string): unknown;
}

export type RecordProgram = (record: unknown) => Outcome;
export type SessionProgram = (scope: SessionScope) => Outcome;
type Node = (scope: never) => Outcome;

const INT_MIN = -(2n ** 63n);
const INT_MAX = 2n ** 63n - 1n;
const SMALL_INTS = Array.from({ length: 256 }, (_, i) => BigInt(i));
const int = (n: number): bigint => (n >= 0 && n < 256 ? SMALL_INTS[n]! : BigInt(n));

const isFlag = (v: unknown): v is symbol => typeof v === 'symbol';

/** Compiles a record expression (`r` only); undefined when a shape is not modelled. */
export function compileRecordFast(ast: ASTNode): RecordProgram | undefined {
  return new Compiler('record', () => undefined).node(ast) as RecordProgram | undefined;
}

/** Compiles a session expression; `stepIndex` resolves step names (undefined: not a step). */
export function compileSessionFast(ast: ASTNode, stepIndex: (name: string) => number | undefined): SessionProgram | undefined {
  return new Compiler('session', stepIndex).node(ast) as SessionProgram | undefined;
}

interface AstNode {
  readonly op: string;
  readonly args: unknown;
}

class Compiler {
  constructor(
    private readonly scope: 'record' | 'session',
    private readonly stepIndex: (name: string) => number | undefined,
  ) {}

  node(raw: unknown): Node | undefined {
    if (!isAst(raw)) return undefined;
    const args = raw.args;
    switch (raw.op) {
      case 'value':
        return literal(args);
      case 'id':
        return typeof args === 'string' ? this.identifier(args) : undefined;
      case '.':
      case '[]':
        return this.select(args);
      case 'call':
        return this.call(args);
      case '!_': {
        const operand = this.node(args);
        return operand && ((s) => {
          const v = operand(s);
          return typeof v === 'boolean' ? !v : v === FAIL ? FAIL : UNSURE;
        });
      }
      case '-_': {
        const operand = this.node(args);
        return operand && ((s) => {
          const v = operand(s);
          if (typeof v === 'number') return -v;
          if (typeof v === 'bigint') return checked(-v);
          return v === FAIL ? FAIL : UNSURE;
        });
      }
      case '&&':
      case '||':
        return this.logical(raw.op, args);
      case '?:':
        return this.conditional(args);
      case '==':
      case '!=':
        return this.binary(args, raw.op === '==' ? equals : notEquals);
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.binary(args, ORDER[raw.op]);
      case '+':
      case '-':
      case '*':
      case '/':
        return this.binary(args, ARITHMETIC[raw.op]);
      default:
        return undefined;
    }
  }

  private identifier(name: string): Node | undefined {
    if (this.scope === 'record') return name === 'r' ? (record: unknown) => record : undefined;
    switch (name) {
      case 'key':
        return (s: SessionScope) => s.key;
      case 'start':
        return (s: SessionScope) => BigInt(s.start);
      case 'end':
        return (s: SessionScope) => BigInt(s.end);
      case 'duration':
        return (s: SessionScope) => BigInt(s.end - s.start);
      default:
        return undefined;
    }
  }

  /** `a.b` / `a["b"]` with a literal name: a step map member, or a record's key. */
  private select(args: unknown): Node | undefined {
    const parts = memberParts(args);
    if (!parts) return undefined;
    const { target, name } = parts;
    if (this.scope === 'session' && isAst(target) && target.op === 'id') {
      const map = target.args;
      if (map === 'fields') return (s: SessionScope) => s.field(name) ?? FAIL;
      const i = this.stepIndex(name);
      if (i === undefined) return undefined;
      switch (map) {
        case 'first':
          return (s: SessionScope) => s.first(i) ?? FAIL;
        case 'last':
          return (s: SessionScope) => s.last(i) ?? FAIL;
        case 'count':
          return (s: SessionScope) => int(s.count(i));
        case 'time':
          return (s: SessionScope) => {
            const t = s.time(i);
            return t === undefined ? FAIL : BigInt(t);
          };
        default:
          return undefined;
      }
    }
    if (!safeKey(name)) return undefined;
    const object = this.node(target);
    return object && ((s) => member(object(s), name));
  }

  private call(args: unknown): Node | undefined {
    if (!Array.isArray(args) || typeof args[0] !== 'string' || !Array.isArray(args[1]) || args[1].length !== 1) return undefined;
    const [name, [argument]] = args as [string, [unknown]];
    if (name === 'has') return this.has(argument);
    const operand = this.node(argument);
    if (!operand) return undefined;
    switch (name) {
      case 'double':
        return (s) => {
          const v = operand(s);
          if (typeof v === 'number') return v;
          if (typeof v === 'bigint') return Number(v);
          return v === FAIL ? FAIL : UNSURE;
        };
      case 'string':
        return (s) => {
          const v = operand(s);
          if (typeof v === 'string') return v;
          return v === FAIL ? FAIL : UNSURE;
        };
      default:
        return undefined;
    }
  }

  /** `has(first.x)` asks whether the step is present; `has(a.b)` whether the map `a` holds `b`. */
  private has(argument: unknown): Node | undefined {
    if (!isAst(argument) || (argument.op !== '.' && argument.op !== '[]')) return undefined;
    const parts = memberParts(argument.args);
    if (!parts) return undefined;
    const { target, name } = parts;
    if (this.scope === 'session' && isAst(target) && target.op === 'id') {
      const map = target.args;
      if (map === 'fields') return (s: SessionScope) => s.field(name) !== undefined;
      const i = this.stepIndex(name);
      if (i === undefined) return undefined;
      if (map === 'first' || map === 'last' || map === 'time') return (s: SessionScope) => s.count(i) > 0;
      return undefined;
    }
    if (!safeKey(name)) return undefined;
    const object = this.node(target);
    return object && ((s) => {
      const o = object(s);
      if (isPlainObject(o)) return Object.hasOwn(o, name);
      if (typeof o === 'string') return false;
      return o === FAIL ? FAIL : UNSURE;
    });
  }

  /** CEL's commutative `&&` / `||`: a decisive side wins even over an error on the other. */
  private logical(op: '&&' | '||', args: unknown): Node | undefined {
    if (!Array.isArray(args) || args.length !== 2) return undefined;
    const left = this.node(args[0]);
    const right = this.node(args[1]);
    if (!left || !right) return undefined;
    const decisive = op === '||';
    return (s) => {
      const a = left(s);
      if (a === decisive) return a;
      if (a === !decisive) {
        const b = right(s);
        return typeof b === 'boolean' || b === FAIL ? b : UNSURE;
      }
      if (a !== FAIL) return UNSURE;
      const b = right(s);
      if (b === decisive) return b;
      return b === !decisive || b === FAIL ? FAIL : UNSURE;
    };
  }

  private conditional(args: unknown): Node | undefined {
    if (!Array.isArray(args) || args.length !== 3) return undefined;
    const [condition, then, otherwise] = args.map((a) => this.node(a));
    if (!condition || !then || !otherwise) return undefined;
    return (s) => {
      const c = condition(s);
      if (c === true) return then(s);
      if (c === false) return otherwise(s);
      return c === FAIL ? FAIL : UNSURE;
    };
  }

  private binary(args: unknown, apply: (a: unknown, b: unknown) => Outcome): Node | undefined {
    if (!Array.isArray(args) || args.length !== 2) return undefined;
    const left = this.node(args[0]);
    const right = this.node(args[1]);
    if (!left || !right) return undefined;
    return (s) => {
      const a = left(s);
      const b = right(s);
      if (isFlag(a) || isFlag(b)) return a === UNSURE || b === UNSURE ? UNSURE : FAIL;
      return apply(a, b);
    };
  }
}

function literal(value: unknown): Node | undefined {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return () => value;
  if (typeof value === 'number' || typeof value === 'bigint') return () => value;
  return undefined;
}

function memberParts(args: unknown): { target: unknown; name: string } | undefined {
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const [target, selector] = args as [unknown, unknown];
  if (typeof selector === 'string') return { target, name: selector };
  if (isAst(selector) && selector.op === 'value' && typeof selector.args === 'string') return { target, name: selector.args };
  return undefined;
}

/** Keys that plain objects inherit (`toString`, `__proto__` …) are left to CEL. */
function safeKey(name: string): boolean {
  return !(name in Object.prototype);
}

/** A JSON object as JSON.parse makes it: CEL reads it as a map. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  // The prototype, not `constructor`: reading `constructor` walks the prototype chain on every member access.
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function member(object: unknown, name: string): Outcome {
  if (isPlainObject(object)) {
    const value = object[name];
    return value === undefined ? FAIL : value;
  }
  return object === FAIL ? FAIL : UNSURE;
}

function checked(value: bigint): Outcome {
  return value < INT_MIN || value > INT_MAX ? UNSURE : value;
}

/** CEL equality over scalars: heterogeneous types are unequal (numbers across int/double are left to CEL). */
function equals(a: unknown, b: unknown): Outcome {
  const ta = a === null ? 'null' : typeof a;
  const tb = b === null ? 'null' : typeof b;
  if (ta === 'object' || tb === 'object') return UNSURE;
  if (ta === tb) return a === b;
  if ((ta === 'number' && tb === 'bigint') || (ta === 'bigint' && tb === 'number')) return UNSURE;
  return false;
}

function notEquals(a: unknown, b: unknown): Outcome {
  const e = equals(a, b);
  return typeof e === 'boolean' ? !e : e;
}

function ordered(compare: (a: number | bigint, b: number | bigint) => boolean) {
  return (a: unknown, b: unknown): Outcome => {
    if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'bigint' && typeof b === 'bigint')) return compare(a, b);
    return UNSURE;
  };
}

const ORDER: Record<'<' | '<=' | '>' | '>=', (a: unknown, b: unknown) => Outcome> = {
  '<': ordered((a, b) => a < b),
  '<=': ordered((a, b) => a <= b),
  '>': ordered((a, b) => a > b),
  '>=': ordered((a, b) => a >= b),
};

/**
 * Arithmetic as Weft's CEL environment defines it: int with overflow errors (left to CEL),
 * double as IEEE, the registered mixed int/double operators as doubles, string concatenation.
 */
function arithmetic(op: '+' | '-' | '*' | '/') {
  const onNumbers = { '+': (a: number, b: number) => a + b, '-': (a: number, b: number) => a - b, '*': (a: number, b: number) => a * b, '/': (a: number, b: number) => a / b }[op];
  return (a: unknown, b: unknown): Outcome => {
    const ta = typeof a;
    const tb = typeof b;
    if (ta === 'number' && tb === 'number') return op === '/' && b === 0 ? UNSURE : onNumbers(a as number, b as number);
    if (ta === 'bigint' && tb === 'bigint') {
      if (op === '/') return UNSURE;
      const x = a as bigint;
      const y = b as bigint;
      return checked(op === '+' ? x + y : op === '-' ? x - y : x * y);
    }
    if (ta === 'number' && tb === 'bigint') return op === '/' && b === 0n ? UNSURE : onNumbers(a as number, Number(b));
    if (ta === 'bigint' && tb === 'number') return op === '/' && b === 0 ? UNSURE : onNumbers(Number(a), b as number);
    if (op === '+' && ta === 'string' && tb === 'string') return (a as string) + (b as string);
    return UNSURE;
  };
}

const ARITHMETIC = { '+': arithmetic('+'), '-': arithmetic('-'), '*': arithmetic('*'), '/': arithmetic('/') };

function isAst(value: unknown): value is AstNode {
  return !!value && typeof value === 'object' && typeof (value as AstNode).op === 'string';
}
