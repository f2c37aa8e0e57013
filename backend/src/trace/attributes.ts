import type { AttributeValue, Attributes } from '@opentelemetry/api';

/** Like the SDK's default span limits: a record with more leaves keeps the first ones and counts the rest. */
export const MAX_ATTRIBUTES = 128;
export const MAX_VALUE_CHARS = 4096;

export interface Flattened {
  readonly attributes: Attributes;
  readonly dropped: number;
}

/**
 * A raw record as span attributes: nested objects become dotted keys (`order.id`), arrays of one
 * scalar type stay arrays, other arrays and odd values become JSON text, nulls are skipped.
 */
export function flattenRecord(value: unknown, into: Attributes = {}, limit = MAX_ATTRIBUTES): Flattened {
  let count = Object.keys(into).length;
  let dropped = 0;
  const put = (key: string, v: AttributeValue): void => {
    if (count >= limit) {
      dropped++;
      return;
    }
    into[key] = v;
    count++;
  };
  const walk = (prefix: string, v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0 && prefix !== '') put(prefix, '{}');
      for (const [k, child] of entries) walk(prefix === '' ? k : `${prefix}.${k}`, child);
      return;
    }
    const key = prefix === '' ? 'value' : prefix;
    const attribute = attributeValue(v);
    if (attribute !== undefined) put(key, attribute);
  };
  walk('', value);
  return { attributes: into, dropped };
}

/** A scalar or homogeneous scalar array as an attribute value; anything else as (bounded) JSON text. */
export function attributeValue(v: unknown): AttributeValue | undefined {
  switch (typeof v) {
    case 'string':
      return clip(v);
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'bigint':
      return String(v);
    default:
      break;
  }
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    const kinds = new Set(v.map((e) => typeof e));
    if (v.length > 0 && kinds.size === 1) {
      const [kind] = kinds;
      if (kind === 'string') return (v as string[]).map(clip);
      if (kind === 'boolean') return v as boolean[];
      if (kind === 'number' && (v as number[]).every(Number.isFinite)) return v as number[];
    }
  }
  return clip(JSON.stringify(v) ?? String(v));
}

function clip(s: string): string {
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}…` : s;
}
