/**
 * Weft's CEL dialect, on @marcbachmann/cel-js (chosen over @bufbuild/cel: 5–10× faster per evaluation
 * in our measurements, with type checking at compile time; see README "CEL").
 *
 * Two environments: record expressions (`when`, `anchor`, `key`) see `r`; session expressions
 * (`fields`, `verdicts`, explanations) see the session context of DESIGN.md. Integers that Weft
 * itself puts in the context (counts, times, durations) are CEL ints; numbers from JSON records are
 * doubles, so mixed int/double arithmetic is allowed (a deliberate extension of strict CEL).
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { absenceFailure, type Presence } from './presence.js';

export type CelProgram = (context: Record<string, unknown>) => unknown;

export const RECORD_VARIABLES = ['r'] as const;
export const SESSION_VARIABLES = [
  'key', 'start', 'end', 'duration', 'first', 'last', 'all', 'count', 'time', 'fields', 'steps',
] as const;

/** Context variables whose members must name a step of the template. */
export const STEP_MAPS = ['first', 'last', 'all', 'count', 'time'] as const;

const MIXED: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

function makeEnvironment(variables: readonly string[]): Environment {
  const env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false });
  for (const name of variables) env.registerVariable(name, 'dyn');
  for (const [op, apply] of Object.entries(MIXED)) {
    // The result type must be named: left out, cel-js takes the left operand's, so `int + double`
    // was typed int and `(2 + r.amount) + start` ran int + int on a double (a JS TypeError).
    env.registerOperator(`double ${op} int: double`, (a: number, b: bigint) => apply(a, Number(b)));
    env.registerOperator(`int ${op} double: double`, (a: bigint, b: number) => apply(Number(a), b));
  }
  return env;
}

const recordEnv = makeEnvironment(RECORD_VARIABLES);
const sessionEnv = makeEnvironment(SESSION_VARIABLES);

export type CelScope = 'record' | 'session';

export interface CompiledExpression {
  readonly source: string;
  readonly run: CelProgram;
  /** The checked AST (for the fast path, fastcel.ts). */
  readonly ast: ASTNode;
  /** `first.x` / `count.x` … member names, and `fields.y` names the expression reads. */
  readonly stepRefs: ReadonlySet<string>;
  readonly fieldRefs: ReadonlySet<string>;
  /** Context variables the expression reads (`first`, `start`, `steps` …). */
  readonly variables: ReadonlySet<string>;
  /**
   * Context maps the expression reads other than member by member (`all.exists(…)`, `size(first)`):
   * every step must be in them. The others need only the members in `stepRefs` / `fieldRefs`.
   */
  readonly wholeMaps: ReadonlySet<string>;
  /**
   * Session expressions: true when evaluation is certain to fail given what the session holds (it
   * reads `first.x` of an absent step on every path), so the caller may skip it. See presence.ts.
   */
  readonly fails: ((present: Presence) => boolean) | undefined;
}

/** Compiles and type-checks an expression; throws an Error whose message says what is wrong. */
export function compileCel(source: string, scope: CelScope): CompiledExpression {
  if (typeof source !== 'string' || source.trim() === '') throw new Error('expression is empty');
  const env = scope === 'record' ? recordEnv : sessionEnv;
  const parsed = env.parse(source);
  const checked = parsed.check();
  if (!checked.valid) throw new Error(firstLine(checked.error?.message ?? 'does not type-check'));
  const stepRefs = new Set<string>();
  const fieldRefs = new Set<string>();
  const variables = new Set<string>();
  const wholeMaps = new Set<string>();
  collectRefs(parsed.ast, { steps: stepRefs, fields: fieldRefs, variables, wholeMaps });
  const program = parsed as unknown as CelProgram;
  const fails = scope === 'session' ? absenceFailure(parsed.ast) : undefined;
  return { source, run: (ctx) => program(ctx), ast: parsed.ast, stepRefs, fieldRefs, variables, wholeMaps, fails };
}

interface Refs {
  readonly steps: Set<string>;
  readonly fields: Set<string>;
  readonly variables: Set<string>;
  readonly wholeMaps: Set<string>;
}

function collectRefs(node: unknown, refs: Refs): void {
  if (Array.isArray(node)) {
    for (const child of node) collectRefs(child, refs);
    return;
  }
  if (!node || typeof node !== 'object' || !('op' in node)) return;
  const ast = node as ASTNode & { args: unknown };
  const name = identifier(ast);
  if (name !== undefined) {
    // Reached only when the identifier is not the target of a member access (see below).
    refs.variables.add(name);
    refs.wholeMaps.add(name);
    return;
  }
  const member = memberAccess(ast);
  if (member) {
    refs.variables.add(member.object);
    if ((STEP_MAPS as readonly string[]).includes(member.object)) refs.steps.add(member.name);
    else if (member.object === 'fields') refs.fields.add(member.name);
    else refs.wholeMaps.add(member.object);
    return;
  }
  collectRefs(ast.args, refs);
}

function memberAccess(node: ASTNode & { args: unknown }): { object: string; name: string } | undefined {
  if (!['.', '.?', '[]', '[?]'].includes(node.op) || !Array.isArray(node.args)) return undefined;
  const [target, member] = node.args as [unknown, unknown];
  const object = identifier(target);
  if (object === undefined) return undefined;
  if (typeof member === 'string') return { object, name: member };
  if (member && typeof member === 'object' && (member as ASTNode).op === 'value') {
    const value = (member as { args: unknown }).args;
    if (typeof value === 'string') return { object, name: value };
  }
  return undefined;
}

function identifier(node: unknown): string | undefined {
  if (node && typeof node === 'object' && (node as ASTNode).op === 'id') {
    const name = (node as { args: unknown }).args;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/** CEL values (bigint ints, Maps, Optionals) back to plain JSON values. */
export function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

export function celErrorMessage(error: unknown): string {
  return firstLine(error instanceof Error ? error.message : String(error));
}
