import { css } from '@emotion/css';
import { dateTimeFormat, type GrafanaTheme2, type SelectableValue } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { Button, Field, InlineField, InlineFieldRow, Input, InteractiveTable, MultiSelect, Select, Stack, Text, TextLink, useStyles2 } from '@grafana/ui';
import { useMemo, useState, type KeyboardEvent } from 'react';
import type { Params } from '../api/client';
import { filterParams, parseFieldFilter } from '../api/filters';
import { SEVERITIES, type SearchPage, type SessionSummary, type Severity } from '../api/types';
import { useApi } from '../components/ApiContext';
import { TemplatePicker } from '../components/TemplatePicker';
import { Empty, ErrorState, Loading } from '../components/States';
import { TimePicker } from '../components/TimePicker';
import { useLoad } from '../components/useLoad';
import { useUrlState } from '../components/urlState';
import { VerdictBadge } from '../components/VerdictBadge';
import { prefixRoute, ROUTES } from '../constants';

const PAGE_SIZES = [25, 50, 100, 200].map((n) => ({ value: n, label: `${n} / page` }));
type Row = SessionSummary;

/**
 * Session search: template, verdict, severity, the time picker's range and field conditions, all in
 * the URL (`?template=payment&verdict=paid_no_callback&q=amount > 100&from=now-6h&to=now`).
 * Results come newest first in keyset pages; the table sorts the page by any column.
 */
export function SessionsPage() {
  const api = useApi();
  const s = useStyles2(getStyles);
  const url = useUrlState();
  const template = url.get('template');
  const verdicts = url.getAll('verdict');
  const severities = url.getAll('severity') as Severity[];
  const q = url.get('q');
  const cursor = url.get('cursor');
  const limit = Number(url.get('limit')) || 50;
  const sort = url.get('sort');
  const [draft, setDraft] = useState(q);
  const [previous, setPrevious] = useState<string[]>([]);

  const parsed = useMemo(() => parseFieldFilter(q), [q]);
  const from = url.timeRange.from.valueOf();
  const to = url.timeRange.to.valueOf();

  const [verdictOptions] = useLoad(async () => {
    const rows = await api.stats({ from, to, bucket: '1d', ...(template ? { template } : {}) });
    return [...new Set(rows.map((r) => r.verdict).filter((v): v is string => v !== null))].sort();
  }, [api, from, to, template]);

  const params: Params | undefined = parsed.errors.length > 0 ? undefined : {
    from,
    to,
    limit,
    ...(template ? { template } : {}),
    ...(verdicts.length > 0 ? { verdict: verdicts } : {}),
    ...(severities.length > 0 ? { severity: severities } : {}),
    ...(cursor ? { cursor } : {}),
    ...filterParams(parsed.filters),
  };
  const [result, reload] = useLoad<SearchPage | undefined>(
    () => (params ? api.searchSessions(params) : Promise.resolve(undefined)),
    [api, JSON.stringify(params)],
  );

  const applyFilter = () => url.set({ q: draft.trim(), cursor: undefined });
  const draftErrors = parseFieldFilter(draft).errors;

  const verdictChoices: Array<SelectableValue<string>> = [
    ...new Set([...(verdictOptions.state === 'done' ? verdictOptions.value : []), ...verdicts]),
  ].map((v) => ({ value: v, label: v }));

  const columns = useMemo(
    () => [
      {
        id: 'start',
        header: 'Start',
        sortType: 'number' as const,
        cell: ({ row: { original } }: { row: { original: Row } }) => (
          <span className={s.nowrap}>
            <TextLink href={`${prefixRoute(ROUTES.Session)}/${encodeURIComponent(original.id)}`} inline={false}>
              {dateTimeFormat(original.start, { format: 'YYYY-MM-DD HH:mm:ss' })}
            </TextLink>
          </span>
        ),
      },
      { id: 'template', header: 'Template', sortType: 'string' as const },
      { id: 'key', header: 'Anchor key', sortType: 'string' as const },
      {
        id: 'verdict',
        header: 'Verdict',
        sortType: 'string' as const,
        cell: ({ row: { original } }: { row: { original: Row } }) => <VerdictBadge verdict={original.verdict} severity={original.severity} />,
      },
      {
        id: 'duration',
        header: 'Duration',
        sortType: 'number' as const,
        cell: ({ row: { original } }: { row: { original: Row } }) => formatDuration(original.end - original.start),
      },
      { id: 'eventCount', header: 'Records', sortType: 'number' as const },
      {
        id: 'status',
        header: 'Status',
        sortType: 'string' as const,
        cell: ({ row: { original } }: { row: { original: Row } }) => (
          <span>
            {original.status}
            {original.splitOf ? <span title={`May be the rest of ${original.splitOf}`}> · split?</span> : null}
          </span>
        ),
      },
      {
        id: 'fields',
        header: 'Fields',
        cell: ({ row: { original } }: { row: { original: Row } }) => <span className={s.fields}>{fieldSummary(original)}</span>,
      },
    ],
    [s.fields, s.nowrap],
  );
  const [sortId, sortDir] = sort.split(':');
  // With fetchData the table sorts manually: the page's rows are sorted here, by the URL's sort.
  const rows = useMemo(() => {
    const page: Array<Row & { duration: number }> =
      result.state === 'done' && result.value ? result.value.sessions.map((r) => ({ ...r, duration: r.end - r.start })) : [];
    return sortId ? sortRows(page, sortId, sortDir === 'desc') : page;
  }, [result, sortId, sortDir]);

  return (
    <PluginPage actions={<TimePicker value={url.timeRange} onChange={url.setTimeRange} />}>
      <div className={s.filters}>
        <InlineFieldRow>
          <TemplatePicker id="weft-filter-template" placeholder="Any template" value={template} onChange={(t) => url.set({ template: t, cursor: undefined })} />
          <InlineField label="Verdict" labelWidth={10}>
            <MultiSelect
              inputId="weft-filter-verdict"
              width={40}
              placeholder="Any verdict"
              options={verdictChoices}
              value={verdicts}
              allowCustomValue
              onChange={(v) => url.set({ verdict: v.map((x) => x.value!).filter(Boolean), cursor: undefined })}
            />
          </InlineField>
          <InlineField label="Severity" labelWidth={10}>
            <MultiSelect
              inputId="weft-filter-severity"
              width={36}
              placeholder="Any severity"
              options={SEVERITIES.map((v) => ({ value: v, label: v }))}
              value={severities}
              onChange={(v) => url.set({ severity: v.map((x) => x.value!).filter(Boolean), cursor: undefined })}
            />
          </InlineField>
        </InlineFieldRow>
        <Stack direction="row" gap={1} alignItems="flex-start">
          <Field
            className={s.grow}
            label="Fields"
            description="Conditions on any session field, joined by and: amount > 100 and trans_id = T1234 (operators = > >= < <= ^= for prefix; a|b for any of)"
            invalid={draftErrors.length > 0 || parsed.errors.length > 0}
            error={(draftErrors.length > 0 ? draftErrors : parsed.errors).map((e) => e.message).join('; ')}
          >
            <Input
              id="weft-filter-fields"
              aria-label="Field conditions"
              placeholder="amount > 100 and trans_id = T1234"
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => e.key === 'Enter' && applyFilter()}
            />
          </Field>
          <Button icon="search" onClick={applyFilter} disabled={draftErrors.length > 0} className={s.searchButton}>
            Search
          </Button>
        </Stack>
      </div>
      {result.state === 'loading' && <Loading text="Searching sessions…" />}
      {result.state === 'error' && <ErrorState error={result.error} retry={reload} />}
      {result.state === 'done' && result.value === undefined && (
        <Text color="secondary">Correct the field conditions above to search.</Text>
      )}
      {result.state === 'done' && result.value && rows.length === 0 && (
        <Empty message="No sessions match these filters in this time range.">
          Widen the time range, remove a filter, or check that the correlator is receiving records (Overview page).
        </Empty>
      )}
      {result.state === 'done' && result.value && rows.length > 0 && (
        <>
          <InteractiveTable<Row & { duration: number }>
            columns={columns}
            data={rows}
            getRowId={(r) => r.id}
            initialSortBy={sortId ? [{ id: sortId, desc: sortDir === 'desc' }] : []}
            fetchData={({ sortBy }) => {
              const next = sortBy[0] ? `${sortBy[0].id}:${sortBy[0].desc ? 'desc' : 'asc'}` : '';
              if (next !== sort) url.set({ sort: next }, { replace: true });
            }}
          />
          <div className={s.pager}>
            <Text color="secondary">
              {rows.length} session{rows.length === 1 ? '' : 's'} on this page, newest first
            </Text>
            <Stack direction="row" gap={1} alignItems="center">
              <Select
                aria-label="Page size"
                width={16}
                options={PAGE_SIZES}
                value={limit}
                onChange={(v) => url.set({ limit: String(v.value), cursor: undefined })}
              />
              <Button
                variant="secondary"
                icon="angle-left"
                disabled={!cursor}
                onClick={() => {
                  const back = previous[previous.length - 1];
                  setPrevious(previous.slice(0, -1));
                  url.set({ cursor: back });
                }}
              >
                Newer
              </Button>
              <Button
                variant="secondary"
                icon="angle-right"
                disabled={!result.value.cursor}
                onClick={() => {
                  setPrevious([...previous, cursor]);
                  url.set({ cursor: result.value!.cursor ?? undefined });
                }}
              >
                Older
              </Button>
            </Stack>
          </div>
        </>
      )}
    </PluginPage>
  );
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} m`;
}

function sortRows<R extends object>(rows: R[], id: string, desc: boolean): R[] {
  const value = (r: R) => (r as Record<string, unknown>)[id];
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
    return desc ? -order : order;
  });
}

function fieldSummary(session: SessionSummary): string {
  return Object.entries(session.fields)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`)
    .join('  ');
}

const getStyles = (theme: GrafanaTheme2) => ({
  filters: css({ marginBottom: theme.spacing(2) }),
  grow: css({ flexGrow: 1 }),
  nowrap: css({ whiteSpace: 'nowrap' }),
  searchButton: css({ marginTop: theme.spacing(5.5) }),
  fields: css({ fontFamily: theme.typography.fontFamilyMonospace, fontSize: theme.typography.bodySmall.fontSize, color: theme.colors.text.secondary }),
  pager: css({ display: 'flex', justifyContent: 'space-between', alignItems: 'center', marginTop: theme.spacing(1) }),
});
