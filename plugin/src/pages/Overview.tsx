import { css } from '@emotion/css';
import { applyFieldOverrides, FieldColorModeId, type GrafanaTheme2, type TimeRange } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { LegendDisplayMode } from '@grafana/schema';
import { Alert, InlineFieldRow, Stack, Text, TimeSeries, Tooltip, useStyles2, useTheme2 } from '@grafana/ui';
import { WeftApiError, type WeftApi } from '../api/client';
import { max, parsePrometheus, sum, type Sample } from '../api/prometheus';
import type { SessionSummary, StatsRow } from '../api/types';
import { useApi } from '../components/ApiContext';
import { TemplatePicker } from '../components/TemplatePicker';
import { Empty, ErrorState, Loading } from '../components/States';
import { TimePicker } from '../components/TimePicker';
import { useLoad } from '../components/useLoad';
import { useUrlState } from '../components/urlState';
import { useWidth } from '../components/useWidth';
import { bucketFor, verdictCountFrames } from '../datasource/frames';

/** Sessions read to estimate splits and anomalous field values (the rollups count, this samples). */
const SAMPLE = 1000;

interface OverviewData {
  readonly rows: StatsRow[];
  readonly intervalMs: number;
  readonly anomalous: SessionSummary[];
  readonly anomalousMore: boolean;
  readonly recent: SessionSummary[];
  readonly recentMore: boolean;
  readonly orphans: number;
  readonly orphansMore: boolean;
}

async function loadOverview(api: WeftApi, range: { from: number; to: number }, template: string): Promise<OverviewData> {
  const intervalMs = Math.max(60_000, Math.ceil((range.to - range.from) / 240 / 60_000) * 60_000);
  const base = { from: range.from, to: range.to, ...(template ? { template } : {}) };
  const [rows, anomalous, recent, orphans] = await Promise.all([
    api.stats({ ...base, bucket: bucketFor(intervalMs).bucket }),
    api.searchSessions({ ...base, severity: ['critical', 'warning'], limit: SAMPLE }),
    api.searchSessions({ ...base, limit: SAMPLE }),
    api.orphans({ ...base, limit: SAMPLE }),
  ]);
  return {
    rows,
    intervalMs,
    anomalous: anomalous.sessions,
    anomalousMore: anomalous.cursor !== null,
    recent: recent.sessions,
    recentMore: recent.cursor !== null,
    orphans: orphans.orphans.length,
    orphansMore: orphans.cursor !== null,
  };
}

/** Metrics are served by `weft run` (contract 2); `weft serve` alone has none, which is not an error. */
async function loadHealth(api: WeftApi): Promise<{ ready: boolean; detail?: unknown; samples: Sample[] | undefined }> {
  const ready = await api.ready().catch((error: unknown) => {
    if (error instanceof WeftApiError && error.kind === 'unreachable') throw error;
    return { ready: false, detail: error instanceof Error ? error.message : String(error) };
  });
  const samples = await api.metrics().then(parsePrometheus, () => undefined);
  return { ...ready, samples };
}

/** Macro risk stats: verdict counts over time per template, critical share, anomalous values, late/orphan/split counts, health. */
export function OverviewPage() {
  const api = useApi();
  const s = useStyles2(getStyles);
  const url = useUrlState();
  const template = url.get('template');
  const from = url.timeRange.from.valueOf();
  const to = url.timeRange.to.valueOf();
  const [data, reload] = useLoad(() => loadOverview(api, { from, to }, template), [api, from, to, template]);
  const [health] = useLoad(() => loadHealth(api), [api]);
  return (
    <PluginPage actions={<TimePicker value={url.timeRange} onChange={url.setTimeRange} />}>
      <InlineFieldRow>
        <TemplatePicker id="weft-overview-template" placeholder="All templates" value={template} onChange={(t) => url.set({ template: t })} />
      </InlineFieldRow>
      {data.state === 'loading' && <Loading text="Loading stats…" />}
      {data.state === 'error' && <ErrorState error={data.error} retry={reload} />}
      {data.state === 'done' && data.value.rows.length === 0 && (
        <Empty message="No sessions in this time range.">
          Widen the time range, or check below that the correlator is running and consuming its sources.
        </Empty>
      )}
      {data.state === 'done' && data.value.rows.length > 0 && <OverviewView data={data.value} range={url.timeRange} samples={health.state === 'done' ? health.value.samples : undefined} />}
      <section aria-label="Correlator health" className={s.section}>
        <h3>Correlator health</h3>
        {health.state === 'loading' && <Loading text="Checking the correlator…" />}
        {health.state === 'error' && <ErrorState error={health.error} />}
        {health.state === 'done' && <Health ready={health.value.ready} detail={health.value.detail} samples={health.value.samples} />}
      </section>
    </PluginPage>
  );
}

function OverviewView({ data, range, samples }: { data: OverviewData; range: TimeRange; samples: Sample[] | undefined }) {
  const s = useStyles2(getStyles);
  const total = data.rows.reduce((acc, r) => acc + r.count, 0);
  const critical = data.rows.filter((r) => r.severity === 'critical').reduce((acc, r) => acc + r.count, 0);
  const warning = data.rows.filter((r) => r.severity === 'warning').reduce((acc, r) => acc + r.count, 0);
  const splits = data.recent.filter((r) => r.splitOf !== null).length;
  const lateReapplied = samples ? sum(samples, 'weft_late_reapplied_total') : undefined;
  const lateDropped = samples ? sum(samples, 'weft_late_dropped_total') : undefined;
  const byTemplate = [...new Set(data.rows.map((r) => r.template))].sort();
  const sampleNote = (n: number, more: boolean) => (more ? `${n}+` : String(n));

  return (
    <>
      <div className={s.stats} role="list" aria-label="Totals">
        <Stat label="Sessions" value={total.toLocaleString()} />
        <Stat label="Critical share" value={total === 0 ? '—' : `${((100 * critical) / total).toFixed(1)} %`} tone={critical > 0 ? 'error' : undefined} hint={`${critical} critical of ${total}`} />
        <Stat label="Warnings" value={warning.toLocaleString()} tone={warning > 0 ? 'warning' : undefined} />
        <Stat label="Orphans" value={sampleNote(data.orphans, data.orphansMore)} hint="Records that matched a step but joined no session" />
        <Stat label="Suspected splits" value={sampleNote(splits, false)} hint={`Among the latest ${data.recent.length}${data.recentMore ? '' : ' (all)'} sessions`} />
        <Stat label="Late re-applied" value={lateReapplied === undefined ? 'n/a' : lateReapplied.toLocaleString()} hint="Since the correlator started (weft_late_reapplied_total)" />
        <Stat label="Late dropped" value={lateDropped === undefined ? 'n/a' : lateDropped.toLocaleString()} tone={lateDropped ? 'error' : undefined} hint="Past session.lateness (weft_late_dropped_total)" />
      </div>
      <section aria-label="Verdicts over time" className={s.section}>
        <h3>Verdicts over time</h3>
        {byTemplate.map((t) => (
          <VerdictChart key={t} template={t} rows={data.rows.filter((r) => r.template === t)} range={range} intervalMs={data.intervalMs} />
        ))}
      </section>
      <section aria-label="Top anomalous field values" className={s.section}>
        <h3>Top anomalous field values</h3>
        <AnomalousValues sessions={data.anomalous} all={data.recent} more={data.anomalousMore} />
      </section>
    </>
  );
}

function VerdictChart({ template, rows, range, intervalMs }: { template: string; rows: StatsRow[]; range: TimeRange; intervalMs: number }) {
  const [ref, width] = useWidth<HTMLDivElement>(900);
  const theme = useTheme2();
  // Panels get display processors (axis and tooltip formatting) from field overrides; so must a bare TimeSeries.
  const frames = applyFieldOverrides({
    data: verdictCountFrames(rows, { from: range.from.valueOf(), to: range.to.valueOf() }, intervalMs, template),
    fieldConfig: { defaults: { color: { mode: FieldColorModeId.PaletteClassic }, custom: { lineWidth: 1, fillOpacity: 10 } }, overrides: [] },
    replaceVariables: (value) => value,
    theme,
    timeZone: 'browser',
  });
  return (
    <div ref={ref} data-testid={`weft-chart-${template}`}>
      <Text element="h4">{template}</Text>
      <TimeSeries
        frames={frames}
        width={width}
        height={220}
        timeRange={range}
        timeZone="browser"
        legend={{ showLegend: true, displayMode: LegendDisplayMode.List, placement: 'bottom', calcs: [] }}
        options={{ tooltip: { mode: 'multi', sort: 'desc' } }}
      />
    </div>
  );
}

export interface AnomalousValue {
  readonly field: string;
  readonly value: string;
  /** Critical/warning sessions holding the value. */
  readonly count: number;
  /** Of the critical/warning sessions. */
  readonly share: number;
  /** Of all sessions (the baseline sample). */
  readonly baseline: number;
  /** share / baseline: how much more often the value comes with a bad verdict. */
  readonly lift: number;
}

/** (field, value) → number of sessions holding it; identifiers (about one value per session) and numbers left out. */
function valueCounts(sessions: readonly SessionSummary[]): Map<string, { field: string; value: string; count: number }> {
  const counts = new Map<string, { field: string; value: string; count: number }>();
  for (const session of sessions) {
    for (const [field, raw] of Object.entries(session.fields)) {
      for (const v of new Set(Array.isArray(raw) ? raw : [raw])) {
        if (typeof v !== 'string') continue;
        const key = `${field}\u0000${v}`;
        const c = counts.get(key) ?? { field, value: v, count: 0 };
        c.count += 1;
        counts.set(key, c);
      }
    }
  }
  return counts;
}

/**
 * Categorical field values over-represented among critical and warning sessions: each value's share
 * of those sessions against its share of all sessions (a sample of the latest), highest lift first.
 */
export function topAnomalousValues(anomalous: readonly SessionSummary[], all: readonly SessionSummary[], limit = 10): AnomalousValue[] {
  if (anomalous.length === 0) return [];
  const bad = valueCounts(anomalous);
  const base = valueCounts(all.length > 0 ? all : anomalous);
  const baseTotal = all.length > 0 ? all.length : anomalous.length;
  const distinct = new Map<string, number>();
  for (const c of base.values()) distinct.set(c.field, (distinct.get(c.field) ?? 0) + 1);
  // A field with nearly one value per session is an identifier: its "top values" say nothing.
  const categorical = (field: string) => (distinct.get(field) ?? 0) <= Math.max(3, baseTotal / 3);
  return [...bad.entries()]
    .filter(([, c]) => categorical(c.field) && c.count > 1)
    .map(([key, c]) => {
      const share = c.count / anomalous.length;
      const baseline = Math.max(base.get(key)?.count ?? c.count, c.count) / Math.max(baseTotal, anomalous.length);
      return { ...c, share, baseline, lift: share / baseline };
    })
    .sort((a, b) => b.lift - a.lift || b.count - a.count || a.field.localeCompare(b.field))
    .slice(0, limit);
}

function AnomalousValues({ sessions, all, more }: { sessions: SessionSummary[]; all: SessionSummary[]; more: boolean }) {
  const s = useStyles2(getStyles);
  if (sessions.length === 0) return <Text color="secondary">No critical or warning sessions in this time range.</Text>;
  const top = topAnomalousValues(sessions, all);
  if (top.length === 0) return <Text color="secondary">No field value repeats among the {sessions.length} anomalous sessions.</Text>;
  return (
    <>
      <Text color="secondary" element="p">
        Values over-represented among {more ? `the latest ${sessions.length}` : `all ${sessions.length}`} critical and warning sessions, against the latest {all.length} sessions:
      </Text>
      <table className={s.table}>
        <thead>
          <tr>
            <th>Field</th>
            <th>Value</th>
            <th>Sessions</th>
            <th>Share</th>
            <th>Baseline</th>
            <th>Lift</th>
          </tr>
        </thead>
        <tbody>
          {top.map((t) => (
            <tr key={`${t.field}=${t.value}`}>
              <td>{t.field}</td>
              <td>{t.value}</td>
              <td>{t.count}</td>
              <td>{(100 * t.share).toFixed(0)} %</td>
              <td>{(100 * t.baseline).toFixed(0)} %</td>
              <td>×{t.lift.toFixed(1)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Health({ ready, detail, samples }: { ready: boolean; detail?: unknown; samples: Sample[] | undefined }) {
  const s = useStyles2(getStyles);
  const consumerLag = samples ? sum(samples, 'weft_consumer_lag') : undefined;
  const watermark = samples ? max(samples, 'weft_watermark_lag_seconds') : undefined;
  const open = samples ? sum(samples, 'weft_open_sessions') : undefined;
  return (
    <Stack direction="column" gap={1}>
      <Alert severity={ready ? 'success' : 'error'} title={ready ? 'Correlator ready' : 'Correlator not ready'}>
        {ready ? 'The correlator answers and its store is reachable.' : `The store is not reachable: ${JSON.stringify(detail ?? {})}. Check the database the correlator was started with.`}
      </Alert>
      {samples === undefined ? (
        <Text color="secondary">
          No /metrics on this correlator: consumer and watermark lag are reported by `weft run` (a `weft serve` only serves the store).
        </Text>
      ) : (
        <div className={s.stats}>
          <Stat label="Consumer lag" value={consumerLag === undefined ? 'n/a' : `${consumerLag.toLocaleString()} msgs`} tone={consumerLag ? 'warning' : undefined} />
          <Stat
            label="Watermark lag (max)"
            value={watermark ? `${watermark.value.toFixed(1)} s` : 'n/a'}
            hint={watermark ? `${watermark.labels.template ?? ''} / ${watermark.labels.source ?? ''}` : undefined}
          />
          <Stat label="Open sessions" value={open === undefined ? 'n/a' : open.toLocaleString()} />
        </div>
      )}
    </Stack>
  );
}

function Stat({ label, value, tone, hint }: { label: string; value: string; tone?: 'error' | 'warning'; hint?: string }) {
  const s = useStyles2(getStyles);
  const body = (
    <div className={s.stat} role="listitem" aria-label={label}>
      <div className={s.statLabel}>{label}</div>
      <div className={tone === 'error' ? s.statError : tone === 'warning' ? s.statWarning : s.statValue}>{value}</div>
    </div>
  );
  return hint ? <Tooltip content={hint}>{body}</Tooltip> : body;
}

const getStyles = (theme: GrafanaTheme2) => {
  const value = { fontSize: theme.typography.h2.fontSize, fontWeight: theme.typography.fontWeightMedium };
  return {
    section: css({ marginTop: theme.spacing(3) }),
    stats: css({ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(170px, 1fr))', gap: theme.spacing(1), marginTop: theme.spacing(2) }),
    stat: css({ background: theme.colors.background.secondary, border: `1px solid ${theme.colors.border.weak}`, borderRadius: theme.shape.radius.default, padding: theme.spacing(1.5) }),
    statLabel: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
    statValue: css(value),
    statError: css({ ...value, color: theme.colors.error.text }),
    statWarning: css({ ...value, color: theme.colors.warning.text }),
    table: css({
      th: { textAlign: 'left', padding: theme.spacing(0.5, 2, 0.5, 0), color: theme.colors.text.secondary },
      td: { padding: theme.spacing(0.5, 2, 0.5, 0), fontFamily: theme.typography.fontFamilyMonospace },
    }),
  };
};
