/**
 * What a session expression certainly does, knowing only which steps the session holds.
 *
 * `first.x`, `last.x` and `time.x` are errors when step `x` is absent, and a field or verdict whose
 * expression errors is simply absent / not matched. Most sessions lack some steps, so a large share
 * of evaluations end in a CEL error — and building an error (message with a highlighted excerpt of
 * the source) costs several times a successful evaluation. This analysis decides, before running
 * CEL, when an evaluation is certain to fail, so the engine can skip it with the same outcome.
 *
 * It is sound, not complete: `fails` returns true only when every way CEL could evaluate the
 * expression reads an absent step (CEL functions and operators are strict in errors; `&&`, `||`
 * and `?:` are not, and are treated as CEL does: `false && error` is false, `has()` never errors
 * on a step map). Anything it does not understand is "may succeed", which just means "run CEL".
 */
import type { ASTNode } from '@marcbachmann/cel-js';

/** What a session holds at the moment of an evaluation. */
export interface Presence {
  /** The session holds at least one record of the step. */
  step(name: string): boolean;
  /** The field has a value (fields are evaluated in order; a failed one is absent). */
  field(name: string): boolean;
}

/** Outcome of an expression over a presence set: certain error, certain boolean, or unknown. */
const FAIL = 0;
const TRUE = 1;
const FALSE = 2;
const UNKNOWN = 3;
type Outcome = typeof FAIL | typeof TRUE | typeof FALSE | typeof UNKNOWN;
type Probe = (present: Presence) => Outcome;

/**
 * Context maps whose member is an error when its step (or field) is absent; `all.x` is `[]` and
 * `count.x` is 0 instead.
 */
const STRICT_MAPS = new Set(['first', 'last', 'time', 'fields']);
const MEMBER_MAPS = new Set(['first', 'last', 'time', 'all', 'count', 'fields']);
/** Operators that evaluate all their operands and fail when one fails. */
const STRICT_OPERATORS = new Set([
  '==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', 'in', '[]', '.', '-_', 'list', 'map',
]);

const unknown: Probe = () => UNKNOWN;

/** Returns `(present) => true` when evaluating the expression is certain to fail; undefined when it never can be decided statically. */
export function absenceFailure(ast: ASTNode): ((present: Presence) => boolean) | undefined {
  const probe = analyse(ast);
  return probe === unknown ? undefined : (present) => probe(present) === FAIL;
}

function analyse(node: unknown): Probe {
  if (!isNode(node)) return unknown;
  const args = node.args;
  switch (node.op) {
    case '.':
    case '[]': {
      const step = stepMember(node);
      if (step && STRICT_MAPS.has(step.map)) return (present) => (holds(present, step) ? UNKNOWN : FAIL);
      if (step) return unknown;
      return strict(Array.isArray(args) ? args : []);
    }
    case 'call':
      if (Array.isArray(args) && args[0] === 'has') return hasProbe(args[1]);
      return strict(Array.isArray(args) && Array.isArray(args[1]) ? args[1] : []);
    case 'rcall':
      // Macros (exists, all, map, filter …) evaluate their body per element and may absorb its
      // errors; only the receiver is certainly evaluated.
      return strict(Array.isArray(args) ? [args[1]] : []);
    case '?:': {
      const [condition, then, otherwise] = (Array.isArray(args) ? args : []).map(analyse) as [Probe?, Probe?, Probe?];
      if (!condition || !then || !otherwise) return unknown;
      if (condition === unknown && (then === unknown || otherwise === unknown)) return unknown;
      return (present) => {
        const c = condition(present);
        if (c === FAIL) return FAIL;
        if (c === TRUE) return then(present) === FAIL ? FAIL : UNKNOWN;
        if (c === FALSE) return otherwise(present) === FAIL ? FAIL : UNKNOWN;
        return then(present) === FAIL && otherwise(present) === FAIL ? FAIL : UNKNOWN;
      };
    }
    case '&&':
    case '||':
      return logical(node.op, Array.isArray(args) ? args : []);
    case '!_': {
      const operand = analyse(Array.isArray(args) ? args[0] : undefined);
      if (operand === unknown) return unknown;
      return (present) => {
        const o = operand(present);
        return o === TRUE ? FALSE : o === FALSE ? TRUE : o;
      };
    }
    default:
      return STRICT_OPERATORS.has(node.op) ? strict(Array.isArray(args) ? args : []) : unknown;
  }
}

/** `has(first.x)` is known from presence; `has(first.x.y)` fails when `x` is absent. */
function hasProbe(argList: unknown): Probe {
  const target = Array.isArray(argList) ? argList[0] : undefined;
  if (!isNode(target)) return unknown;
  const step = stepMember(target);
  if (step) return STRICT_MAPS.has(step.map) ? (present) => (holds(present, step) ? TRUE : FALSE) : unknown;
  // has(a.b): `a` is evaluated strictly.
  const receiver = Array.isArray(target.args) ? target.args[0] : undefined;
  return strict([receiver]);
}

function strict(operands: readonly unknown[]): Probe {
  const probes = operands.map(analyse).filter((p) => p !== unknown);
  if (probes.length === 0) return unknown;
  return (present) => {
    for (const probe of probes) if (probe(present) === FAIL) return FAIL;
    return UNKNOWN;
  };
}

function logical(op: '&&' | '||', operands: readonly unknown[]): Probe {
  const [left, right] = operands.map(analyse) as [Probe?, Probe?];
  if (!left || !right || (left === unknown && right === unknown)) return unknown;
  // The value that decides the result whatever the other side does (false for &&, true for ||).
  const decisive = op === '&&' ? FALSE : TRUE;
  const neutral = op === '&&' ? TRUE : FALSE;
  return (present) => {
    const a = left(present);
    const b = right(present);
    if (a === decisive || b === decisive) return decisive;
    if (a === neutral) return b;
    if (b === neutral) return a;
    return a === FAIL && b === FAIL ? FAIL : UNKNOWN;
  };
}

function stepMember(node: ASTNode): { map: string; name: string } | undefined {
  if ((node.op !== '.' && node.op !== '[]') || !Array.isArray(node.args)) return undefined;
  const [target, member] = node.args as [unknown, unknown];
  if (!isNode(target) || target.op !== 'id' || typeof target.args !== 'string' || !MEMBER_MAPS.has(target.args)) return undefined;
  const name = typeof member === 'string' ? member : isNode(member) && member.op === 'value' && typeof member.args === 'string' ? member.args : undefined;
  return name === undefined ? undefined : { map: target.args, name };
}

function holds(present: Presence, member: { map: string; name: string }): boolean {
  return member.map === 'fields' ? present.field(member.name) : present.step(member.name);
}

function isNode(value: unknown): value is ASTNode & { args: unknown } {
  return !!value && typeof value === 'object' && 'op' in value;
}
