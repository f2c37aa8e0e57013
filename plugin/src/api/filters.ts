import type { Params } from './client';

/**
 * The field filter typed in the Sessions search box and the datasource's query editor:
 * conditions joined by `and`, `&&` or `,` — `amount > 100 and trans_id = T123 and channel ^= ali`.
 * Operators: `=` (equality; `a|b` for any of several), `>`, `>=`, `<`, `<=`, `^=` (prefix).
 * It becomes the API's `f.<field>[.gt|.gte|.lt|.lte|.prefix]` parameters.
 */
export type FilterOp = '=' | '>' | '>=' | '<' | '<=' | '^=';

export interface FieldFilter {
  readonly field: string;
  readonly op: FilterOp;
  readonly values: readonly string[];
}

export interface FilterParseError {
  /** 1-based position of the condition in the text. */
  readonly condition: number;
  readonly text: string;
  readonly message: string;
}

export interface ParsedFilter {
  readonly filters: FieldFilter[];
  readonly errors: FilterParseError[];
}

const CONDITION = /^([A-Za-z_][\w.-]*)\s*(>=|<=|\^=|=|>|<)\s*(.+)$/;
const SUFFIX: Record<FilterOp, string> = { '=': '', '>': '.gt', '>=': '.gte', '<': '.lt', '<=': '.lte', '^=': '.prefix' };

export function parseFieldFilter(text: string): ParsedFilter {
  const filters: FieldFilter[] = [];
  const errors: FilterParseError[] = [];
  const parts = text
    .split(/\s+and\s+|\s*&&\s*|\s*,\s*/i)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  parts.forEach((part, index) => {
    const match = CONDITION.exec(part);
    if (!match) {
      errors.push({ condition: index + 1, text: part, message: `"${part}" is not <field> <op> <value> (op: = > >= < <= ^=)` });
      return;
    }
    const [, field, op, rawValue] = match as unknown as [string, string, FilterOp, string];
    if (/^[=<>^!]/.test(rawValue)) {
      errors.push({ condition: index + 1, text: part, message: `"${part}" is not <field> <op> <value> (op: = > >= < <= ^=)` });
      return;
    }
    const values = (op === '=' ? rawValue.split('|') : [rawValue]).map(unquote).filter((v) => v !== '');
    if (values.length === 0) {
      errors.push({ condition: index + 1, text: part, message: `"${part}" has no value` });
      return;
    }
    if ((op === '>' || op === '>=' || op === '<' || op === '<=') && /^-?\d/.test(values[0]!) && !Number.isFinite(Number(values[0]))) {
      errors.push({ condition: index + 1, text: part, message: `"${values[0]}" is not a number` });
      return;
    }
    filters.push({ field, op, values });
  });
  return { filters, errors };
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

/** The API's query parameters for these filters. Two bounds on one field make a range. */
export function filterParams(filters: readonly FieldFilter[]): Params {
  const params: Record<string, string[]> = {};
  for (const f of filters) {
    const key = `f.${f.field}${SUFFIX[f.op]}`;
    params[key] = [...(params[key] ?? []), ...f.values];
  }
  return params;
}

export function formatFilter(filters: readonly FieldFilter[]): string {
  return filters.map((f) => `${f.field} ${f.op} ${f.values.join('|')}`).join(' and ');
}
