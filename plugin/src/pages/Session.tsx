import { css } from '@emotion/css';
import { dateTime, dateTimeFormat, LoadingState, type DataFrame, type GrafanaTheme2, type TraceLog } from '@grafana/data';
import { PanelRenderer, PluginPage } from '@grafana/runtime';
import { Alert, Badge, ConfirmButton, ControlledCollapse, Icon, InteractiveTable, Stack, Text, TextLink, useStyles2 } from '@grafana/ui';
import { useState } from 'react';
import { useParams } from 'react-router-dom';
import type { SessionDetail, SessionVersion as Version, Severity } from '../api/types';
import { useApi } from '../components/ApiContext';
import { BehaviourTree } from '../components/BehaviourTree';
import { ErrorState, Loading } from '../components/States';
import { useLoad } from '../components/useLoad';
import { useWidth } from '../components/useWidth';
import { VerdictBadge } from '../components/VerdictBadge';
import { prefixRoute, ROUTES } from '../constants';
import { traceFrame } from '../datasource/frames';
import { formatDuration } from './Sessions';

const ALERT_SEVERITY: Record<Severity, 'error' | 'warning' | 'info' | 'success'> = {
  critical: 'error',
  warning: 'warning',
  info: 'info',
  ok: 'success',
};

interface Loaded {
  readonly session: SessionDetail;
  readonly trace: DataFrame | undefined;
  readonly traceError: unknown;
  /** The template's behaviour tree, when the correlator stores the template. */
  readonly tree: Record<string, string | null> | undefined;
}

/** One session: verdict, trace view, behaviour tree, fields, raw records, versions, split/merge. */
export function SessionPage() {
  const { id = '' } = useParams<{ id: string }>();
  const api = useApi();
  const [result, reload] = useLoad<Loaded>(async () => {
    const [session, trace] = await Promise.all([api.getSession(id), api.getTrace(id).then(ok, fail)]);
    const tree = await api.templateTree(session.template).catch(() => undefined);
    return { session, tree, trace: trace.ok ? traceFrame(trace.value, 'trace') : undefined, traceError: trace.ok ? undefined : trace.error };
  }, [api, id]);

  return (
    <PluginPage
      pageNav={{ text: result.state === 'done' ? `${result.value.session.template} · ${result.value.session.key}` : 'Session', subTitle: id }}
    >
      {result.state === 'loading' && <Loading text="Loading the session…" />}
      {result.state === 'error' && <ErrorState error={result.error} retry={reload} />}
      {result.state === 'done' && <SessionView loaded={result.value} onChanged={reload} />}
    </PluginPage>
  );
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const ok = <T,>(value: T): Settled<T> => ({ ok: true, value });
const fail = (error: unknown): Settled<never> => ({ ok: false, error });

function SessionView({ loaded, onChanged }: { loaded: Loaded; onChanged: () => void }) {
  const s = useStyles2(getStyles);
  const [traceRef, traceWidth] = useWidth<HTMLDivElement>(1000);
  const { session, trace } = loaded;
  const missing = missingFromTrace(trace);
  const tree = loaded.tree ?? treeFromTrace(trace);
  const timeRange = { from: dateTime(session.start), to: dateTime(session.end), raw: { from: dateTime(session.start), to: dateTime(session.end) } };

  return (
    <Stack direction="column" gap={2}>
      <div className={s.header}>
        <VerdictBadge verdict={session.verdict} severity={session.severity} />
        <Badge text={session.status} color={session.status === 'final' ? 'blue' : session.status === 'open' ? 'purple' : 'darkgrey'} />
        <Text color="secondary">
          {dateTimeFormat(session.start, { format: 'YYYY-MM-DD HH:mm:ss.SSS' })} · {formatDuration(session.end - session.start)} ·{' '}
          {session.events.length} records · version {session.version}
        </Text>
      </div>
      {session.severity && (
        <Alert severity={ALERT_SEVERITY[session.severity]} title={`Verdict: ${session.verdict ?? 'none'}`} data-testid="weft-verdict">
          {session.explain ?? 'No explanation given by the template for this verdict.'}
        </Alert>
      )}
      <SplitMerge session={session} onChanged={onChanged} />

      <section aria-label="Trace">
        <h3>Trace</h3>
        {trace ? (
          <div className={s.trace} ref={traceRef}>
            <PanelRenderer
              title=""
              pluginId="traces"
              width={traceWidth}
              height={Math.min(600, 120 + 28 * trace.length)}
              data={{ series: [trace], state: LoadingState.Done, timeRange }}
            />
          </div>
        ) : (
          <ErrorState title="No trace for this session" error={loaded.traceError} />
        )}
      </section>

      <div className={s.columns}>
        <section aria-label="Behaviour tree" className={s.column}>
          <h3>Behaviour tree</h3>
          {missing.length > 0 && (
            <Text color="error" element="p">
              <Icon name="exclamation-triangle" /> Missing expected step{missing.length === 1 ? '' : 's'}: {missing.join(', ')}
            </Text>
          )}
          <BehaviourTree tree={tree} events={session.events} missing={missing} />
        </section>
        <section aria-label="Fields" className={s.column}>
          <h3>Fields</h3>
          {Object.keys(session.fields).length === 0 ? (
            <Text color="secondary">The template derived no fields for this session.</Text>
          ) : (
            <table className={s.kv}>
              <tbody>
                {Object.entries(session.fields).map(([name, value]) => (
                  <tr key={name}>
                    <th>{name}</th>
                    <td>{Array.isArray(value) ? value.join(', ') : String(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>

      <section aria-label="Raw records">
        <h3>Raw records</h3>
        {session.events.map((event, index) => (
          <ControlledCollapse
            key={index}
            label={`${dateTimeFormat(event.time, { format: 'HH:mm:ss.SSS' })}  ${event.step} · ${event.source}`}
            isOpen={false}
          >
            <pre className={s.json}>{JSON.stringify(event.value, null, 2)}</pre>
          </ControlledCollapse>
        ))}
      </section>

      <section aria-label="Version history">
        <h3>Version history</h3>
        {session.history && session.history.length > 0 ? (
          <InteractiveTable<Version>
            columns={[
              { id: 'version', header: 'Version' },
              { id: 'status', header: 'Status' },
              {
                id: 'verdict',
                header: 'Verdict',
                cell: ({ row: { original } }: { row: { original: Version } }) => <VerdictBadge verdict={original.verdict} severity={original.severity} />,
              },
              { id: 'eventCount', header: 'Records' },
              {
                id: 'writtenAt',
                header: 'Stored at',
                cell: ({ row: { original } }: { row: { original: Version } }) => dateTimeFormat(original.writtenAt, { format: 'YYYY-MM-DD HH:mm:ss' }),
              },
            ]}
            data={[...session.history]}
            getRowId={(v) => String(v.version)}
          />
        ) : (
          <Text color="secondary">
            Version {session.version}
            {session.updatedAt ? `, stored ${dateTimeFormat(session.updatedAt)}` : ''}; earlier versions were not kept.
          </Text>
        )}
      </section>
    </Stack>
  );
}

/**
 * Split/merge decisions (the API's merge keeps the target and absorbs the other): merge a suspected
 * split into the session it split from; undo an operator's merge from either side.
 */
function SplitMerge({ session, onChanged }: { session: SessionDetail; onChanged: () => void }) {
  const api = useApi();
  const [error, setError] = useState<unknown>();
  const act = (action: () => Promise<unknown>) => async () => {
    setError(undefined);
    try {
      await action();
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const link = (id: string) => (
    <TextLink href={`${prefixRoute(ROUTES.Session)}/${encodeURIComponent(id)}`} inline>
      {id}
    </TextLink>
  );
  const absorbed = session.links?.operatorMerged ?? [];
  if (!session.splitOf && !session.mergedInto && absorbed.length === 0) return null;
  return (
    <Alert severity="info" title={session.mergedInto ? 'Merged' : absorbed.length > 0 ? 'Merged by an operator' : 'Suspected split'} data-testid="weft-split">
      <Stack direction="column" gap={1}>
        {session.splitOf && session.status !== 'merged' && (
          <Stack direction="row" gap={1} alignItems="center">
            <span>This session opened soon after {link(session.splitOf)} ended, with the same anchor key.</span>
            {session.status === 'open' ? (
              // The correlator still fires an open session from its own copy, which would undo a merge (the API refuses it).
              <span data-testid="weft-merge-later">It can be merged once its window has closed (it is still open).</span>
            ) : (
              <ConfirmButton confirmText="Merge" onConfirm={act(() => api.merge(session.splitOf!, session.id))}>
                Merge into it
              </ConfirmButton>
            )}
          </Stack>
        )}
        {absorbed.length > 0 && (
          <Stack direction="row" gap={1} alignItems="center">
            <span>
              Holds the records of {absorbed.map((a, i) => <span key={a.id}>{i > 0 ? ', ' : ''}{link(a.id)}</span>)}, merged by an operator.
            </span>
            <ConfirmButton confirmText="Unmerge" confirmVariant="destructive" onConfirm={act(() => api.unmerge(session.id))}>
              Unmerge
            </ConfirmButton>
          </Stack>
        )}
        {session.mergedInto && (
          <Stack direction="row" gap={1} alignItems="center">
            <span>Merged into {link(session.mergedInto)}.</span>
            <ConfirmButton confirmText="Unmerge" confirmVariant="destructive" onConfirm={act(() => api.unmerge(session.mergedInto!))}>
              Unmerge
            </ConfirmButton>
          </Stack>
        )}
        {error !== undefined && <ErrorState error={error} title="The correlator refused the change" />}
      </Stack>
    </Alert>
  );
}

type Column = unknown[];
/** Step parents read from the trace (record spans parented by the behaviour tree), in time order. */
export function treeFromTrace(frame: DataFrame | undefined): Record<string, string | null> {
  if (!frame) return {};
  const col = (name: string) => (frame.fields.find((f) => f.name === name)?.values ?? []) as Column;
  const spanIds = col('spanID') as string[];
  const parents = col('parentSpanID') as Array<string | undefined>;
  const names = col('operationName') as string[];
  const rootIndex = parents.findIndex((p) => !p);
  const nameOf = new Map(spanIds.map((id, i) => [id, i === rootIndex ? null : names[i]!]));
  const out: Record<string, string | null> = {};
  names.forEach((name, i) => {
    if (i === rootIndex || name in out) return;
    out[name] = nameOf.get(parents[i] ?? '') ?? null;
  });
  for (const step of missingFromTrace(frame)) if (!(step in out)) out[step] = null;
  return out;
}

/** Expected steps the session lacks: `missing_step` events on the root span. */
export function missingFromTrace(frame: DataFrame | undefined): string[] {
  if (!frame) return [];
  const parents = (frame.fields.find((f) => f.name === 'parentSpanID')?.values ?? []) as Array<string | undefined>;
  const logs = (frame.fields.find((f) => f.name === 'logs')?.values ?? []) as TraceLog[][];
  const root = parents.findIndex((p) => !p);
  return (logs[root] ?? [])
    .filter((l) => l.name === 'missing_step')
    .map((l) => String(l.fields.find((f) => f.key === 'step')?.value ?? ''))
    .filter((step) => step !== '');
}

const getStyles = (theme: GrafanaTheme2) => ({
  header: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'center' }),
  trace: css({ border: `1px solid ${theme.colors.border.weak}`, borderRadius: theme.shape.radius.default, overflow: 'auto' }),
  columns: css({ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(360px, 1fr))', gap: theme.spacing(3) }),
  column: css({ minWidth: 0 }),
  kv: css({
    width: '100%',
    th: { textAlign: 'left', fontWeight: theme.typography.fontWeightMedium, padding: theme.spacing(0.5, 1), whiteSpace: 'nowrap', verticalAlign: 'top' },
    td: { fontFamily: theme.typography.fontFamilyMonospace, padding: theme.spacing(0.5, 1), wordBreak: 'break-all' },
    'tr:nth-child(odd)': { background: theme.colors.background.secondary },
  }),
  json: css({ margin: 0, fontSize: theme.typography.bodySmall.fontSize, maxHeight: 360, overflow: 'auto' }),
});
