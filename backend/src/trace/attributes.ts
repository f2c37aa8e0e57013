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
  const state: FlattenState = { into, limit, count: Object.keys(into).length, dropped: 0 };
  walk(state, '', value);
  return { attributes: into, dropped: state.dropped };
}

interface FlattenState {
  readonly into: Attributes;
  readonly limit: number;
  count: number;
  dropped: number;
}

// Module-level functions rather than closures: a trace request flattens every record of a session.
function put(state: FlattenState, key: string, v: AttributeValue): void {
  if (state.count >= state.limit) {
    state.dropped++;
    return;
  }
  state.into[key] = v;
  state.count++;
}

function walk(state: FlattenState, prefix: string, v: unknown): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 0 && prefix !== '') put(state, prefix, '{}');
    for (const k of keys) walk(state, prefix === '' ? k : `${prefix}.${k}`, o[k]);
    return;
  }
  const attribute = attributeValue(v);
  if (attribute !== undefined) put(state, prefix === '' ? 'value' : prefix, attribute);
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
