import { dateMath, dateTime, type DateTime, type RawTimeRange, type TimeRange } from '@grafana/data';
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router-dom';

export const DEFAULT_RANGE: RawTimeRange = { from: 'now-24h', to: 'now' };

function parseTime(text: string, roundUp: boolean): DateTime | undefined {
  if (/^\d+$/.test(text)) return dateTime(Number(text));
  return dateMath.toDateTime(text, { roundUp });
}

/** The time range kept in the URL as `from`/`to` (relative like `now-6h` or epoch ms), as Grafana does. */
export function toTimeRange(raw: RawTimeRange): TimeRange {
  const from = parseTime(String(raw.from), false) ?? dateTime().subtract(24, 'hours');
  const to = parseTime(String(raw.to), true) ?? dateTime();
  return { from, to, raw };
}

function rawOf(value: DateTime | string): string {
  return typeof value === 'string' ? value : String(value.valueOf());
}

/**
 * Page state in the URL (so a search can be shared): read a parameter, read all of a repeated one,
 * set several at once (empty values removed), and the time range.
 */
export function useUrlState() {
  const [params, setParams] = useSearchParams();
  const get = useCallback((name: string) => params.get(name) ?? '', [params]);
  const getAll = useCallback((name: string) => params.getAll(name), [params]);
  const set = useCallback(
    (patch: Record<string, string | readonly string[] | undefined>, options: { replace?: boolean } = {}) => {
      setParams(
        (previous) => {
          const next = new URLSearchParams(previous);
          for (const [name, value] of Object.entries(patch)) {
            next.delete(name);
            if (value === undefined) continue;
            for (const v of typeof value === 'string' ? [value] : value) if (v !== '') next.append(name, v);
          }
          return next;
        },
        { replace: options.replace ?? false },
      );
    },
    [setParams],
  );
  const from = params.get('from') ?? String(DEFAULT_RANGE.from);
  const to = params.get('to') ?? String(DEFAULT_RANGE.to);
  const timeRange = useMemo(() => toTimeRange({ from, to }), [from, to]);
  const setTimeRange = useCallback(
    (range: TimeRange) => set({ from: rawOf(range.raw.from), to: rawOf(range.raw.to), cursor: undefined }),
    [set],
  );
  return { params, get, getAll, set, timeRange, setTimeRange };
}
