import { css } from '@emotion/css';
import { dateTimeFormat, type GrafanaTheme2, type SelectableValue } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import {
  Alert,
  Badge,
  Button,
  Field,
  Input,
  InteractiveTable,
  LinkButton,
  Select,
  Stack,
  Text,
  TextArea,
  TextLink,
  useStyles2,
} from '@grafana/ui';
import { useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { templateIssues, WeftApiError } from '../api/client';
import { parentsOf, type PreviewRecord, type PreviewResult, type TemplateIssue, type TemplateSummary } from '../api/types';
import { useApi } from '../components/ApiContext';
import { BehaviourTree } from '../components/BehaviourTree';
import { Empty, ErrorState, Loading } from '../components/States';
import { useLoad } from '../components/useLoad';
import { VerdictBadge } from '../components/VerdictBadge';
import { YamlEditor } from '../components/YamlEditor';
import { prefixRoute, ROUTES } from '../constants';

export const NEW_TEMPLATE = `id: my_flow
title: My business flow
sources:
  app: { topic: app-log, time: ts, disorder: 30s }
steps:
  started:  { source: app, when: 'r.event == "start"', anchor: 'r.order_id' }
  finished: { source: app, when: 'r.event == "finish"', anchor: 'r.order_id' }
session: { gap: 15m, maxSpan: 2h, complete: [started, finished] }
fields:
  took_ms: 'time.finished - time.started'
verdicts:
  - { id: unfinished, severity: warning, when: 'count.finished == 0', explain: 'started but never finished' }
  - { id: ok, severity: ok, when: 'true' }
`;

/** Templates: the list, or one template's editor (`templates/:id`, `templates/new`). */
export function TemplatesPage() {
  const { id } = useParams<{ id: string }>();
  return id ? <TemplateEditor id={id} /> : <TemplateList />;
}

function TemplateList() {
  const api = useApi();
  const [list, reload] = useLoad(() => api.templates(), [api]);
  return (
    <PluginPage
      actions={
        <LinkButton icon="plus" href={`${prefixRoute(ROUTES.Templates)}/new`}>
          New template
        </LinkButton>
      }
    >
      {list.state === 'loading' && <Loading text="Loading templates…" />}
      {list.state === 'error' && <ErrorState error={list.error} retry={reload} />}
      {list.state === 'done' && list.value.length === 0 && (
        <Empty message="No templates stored in the correlator yet.">
          Create one with New template, or start the correlator with --template so its templates are listed here.
        </Empty>
      )}
      {list.state === 'done' && list.value.length > 0 && (
        <InteractiveTable<TemplateSummary>
          data={list.value}
          getRowId={(t) => t.id}
          columns={[
            {
              id: 'id',
              header: 'Template',
              sortType: 'string',
              cell: ({ row: { original } }: { row: { original: TemplateSummary } }) => (
                <TextLink href={`${prefixRoute(ROUTES.Templates)}/${encodeURIComponent(original.id)}`} inline={false}>
                  {original.id}
                </TextLink>
              ),
            },
            { id: 'revision', header: 'Revision', sortType: 'number' },
            {
              id: 'updatedAt',
              header: 'Updated',
              sortType: 'number',
              cell: ({ row: { original } }: { row: { original: TemplateSummary } }) => (original.updatedAt ? dateTimeFormat(original.updatedAt) : '—'),
            },
          ]}
        />
      )}
    </PluginPage>
  );
}

type Validation = { state: 'idle' } | { state: 'checking' } | { state: 'valid' } | { state: 'invalid'; issues: TemplateIssue[] } | { state: 'error'; error: unknown };

function TemplateEditor({ id }: { id: string }) {
  const api = useApi();
  const s = useStyles2(getStyles);
  const navigate = useNavigate();
  const isNew = id === 'new';
  const [loaded, reload] = useLoad<{ text: string; revision: number } | undefined>(() => (isNew ? Promise.resolve(undefined) : api.template(id)), [api, id]);
  const [text, setText] = useState<string | undefined>(undefined);
  const [newId, setNewId] = useState('');
  const [validation, setValidation] = useState<Validation>({ state: 'idle' });
  const [saved, setSaved] = useState<TemplateSummary | undefined>();
  const [saveError, setSaveError] = useState<unknown>();

  const current = text ?? (loaded.state === 'done' ? loaded.value?.text ?? NEW_TEMPLATE : undefined);

  // Validate as the user types (debounced): the correlator compiles the template, issues come back with lines.
  useEffect(() => {
    if (current === undefined) return;
    let cancelled = false;
    const timer = setTimeout(() => {
      setValidation({ state: 'checking' });
      api.validateTemplate(current).then(
        (r) => !cancelled && setValidation(r.ok ? { state: 'valid' } : { state: 'invalid', issues: r.issues }),
        (error: unknown) => !cancelled && setValidation({ state: 'error', error }),
      );
    }, 400);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api, current]);

  const targetId = isNew ? newId.trim() || /^id:\s*([A-Za-z0-9_.-]+)/m.exec(current ?? '')?.[1] || '' : id;
  const save = async () => {
    if (current === undefined || targetId === '') return;
    setSaveError(undefined);
    try {
      const record = await api.saveTemplate(targetId, current);
      setSaved(record);
      setText(undefined);
      if (isNew) navigate(`${prefixRoute(ROUTES.Templates)}/${encodeURIComponent(record.id)}`);
      else reload();
    } catch (error) {
      if (error instanceof WeftApiError && error.kind === 'bad_request') setValidation({ state: 'invalid', issues: templateIssues(error) });
      setSaveError(error);
    }
  };

  const issues = validation.state === 'invalid' ? validation.issues : [];
  return (
    <PluginPage pageNav={{ text: isNew ? 'New template' : id }}>
      {loaded.state === 'loading' && <Loading text="Loading the template…" />}
      {loaded.state === 'error' && <ErrorState error={loaded.error} retry={reload} />}
      {current !== undefined && (
        <div className={s.layout}>
          <section aria-label="Template" className={s.pane}>
            <Stack direction="row" gap={1} alignItems="center" wrap="wrap">
              {isNew ? (
                <Field label="Template id" className={s.idField}>
                  <Input id="weft-template-id" width={24} placeholder="from the id: line" value={newId} onChange={(e) => setNewId(e.currentTarget.value)} />
                </Field>
              ) : (
                loaded.state === 'done' && loaded.value && <Badge text={`revision ${loaded.value.revision}`} color="blue" />
              )}
              <ValidationBadge validation={validation} />
              <Button icon="save" onClick={save} disabled={validation.state === 'invalid' || targetId === ''}>
                Save
              </Button>
            </Stack>
            {saved && <Alert severity="success" title={`Saved ${saved.id}, revision ${saved.revision}`}>Running correlators pick it up on their next reload.</Alert>}
            {saveError !== undefined && !(saveError instanceof WeftApiError && saveError.kind === 'bad_request') && (
              <ErrorState error={saveError} title="Not saved" />
            )}
            {validation.state === 'error' && <ErrorState error={validation.error} title="Could not validate" />}
            <YamlEditor label="Template YAML" value={current} onChange={setText} issues={issues} />
          </section>
          <section aria-label="Live preview" className={s.pane}>
            <Preview text={current} template={isNew ? undefined : id} />
          </section>
        </div>
      )}
    </PluginPage>
  );
}

function ValidationBadge({ validation }: { validation: Validation }) {
  switch (validation.state) {
    case 'idle':
    case 'checking':
      return <Badge text="checking…" color="darkgrey" />;
    case 'valid':
      return <Badge text="valid" color="green" icon="check" />;
    case 'invalid':
      return <Badge text={`${validation.issues.length} problem${validation.issues.length === 1 ? '' : 's'}`} color="red" icon="exclamation-triangle" />;
    case 'error':
      return <Badge text="not checked" color="orange" />;
  }
}

/** Sample records (one JSON per line: `{"source": …, "value": {…}}`) → the sessions and tree the template makes. */
export function parseRecords(text: string): { records: PreviewRecord[]; errors: string[] } {
  const records: PreviewRecord[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (typeof parsed !== 'object' || parsed === null || typeof (parsed as PreviewRecord).source !== 'string' || !('value' in parsed)) {
        errors.push(`line ${i + 1}: expected {"source": "<source>", "value": {…}}`);
        return;
      }
      records.push(parsed as PreviewRecord);
    } catch (error) {
      errors.push(`line ${i + 1}: not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
  });
  return { records, errors };
}

function Preview({ text, template }: { text: string; template: string | undefined }) {
  const api = useApi();
  const s = useStyles2(getStyles);
  const [records, setRecords] = useState('');
  const [result, setResult] = useState<{ state: 'idle' } | { state: 'running' } | { state: 'done'; value: PreviewResult } | { state: 'error'; error: unknown }>({ state: 'idle' });
  const [selected, setSelected] = useState(0);
  const [recent] = useLoad(() => (template ? api.searchSessions({ template, limit: 20 }) : Promise.resolve({ sessions: [], cursor: null })), [api, template]);
  const parsed = parseRecords(records);

  const pick = async (id: string) => {
    const session = await api.getSession(id);
    setRecords(session.events.map((e) => JSON.stringify({ source: e.source, value: e.value })).join('\n'));
  };
  const run = async () => {
    setResult({ state: 'running' });
    try {
      setResult({ state: 'done', value: await api.preview(text, parsed.records) });
      setSelected(0);
    } catch (error) {
      setResult({ state: 'error', error });
    }
  };
  const options: Array<SelectableValue<string>> =
    recent.state === 'done' ? recent.value.sessions.map((x) => ({ value: x.id, label: `${x.key} · ${x.verdict ?? 'pending'}`, description: dateTimeFormat(x.start) })) : [];

  return (
    <Stack direction="column" gap={1}>
      <Text element="h3">Live preview</Text>
      <Stack direction="row" gap={1}>
        <Select
          aria-label="Records of a recent session"
          width={40}
          placeholder={template ? 'Pick records from a recent session…' : 'Save first to pick stored sessions'}
          options={options}
          disabled={!template}
          onChange={(v) => v.value && void pick(v.value)}
        />
        <Button icon="play" onClick={run} disabled={parsed.records.length === 0 || parsed.errors.length > 0 || result.state === 'running'}>
          Preview
        </Button>
      </Stack>
      <Field label="Sample records" description='One per line: {"source": "billing", "value": { …the raw record… }}' invalid={parsed.errors.length > 0} error={parsed.errors.join('; ')}>
        <TextArea aria-label="Sample records" rows={8} className={s.mono} value={records} onChange={(e) => setRecords(e.currentTarget.value)} />
      </Field>
      {result.state === 'running' && <Loading text="Running the template over the records…" />}
      {result.state === 'error' &&
        (result.error instanceof WeftApiError && result.error.kind === 'bad_request' ? (
          <Alert severity="error" title="The template or the records were refused">
            {templateIssues(result.error).map((i, n) => (
              <div key={n}>
                {i.line !== undefined ? `Line ${i.line}: ` : ''}
                {i.path ? `${i.path}: ` : ''}
                {i.message}
              </div>
            ))}
          </Alert>
        ) : (
          <ErrorState error={result.error} />
        ))}
      {result.state === 'done' && <PreviewView result={result.value} selected={selected} onSelect={setSelected} />}
    </Stack>
  );
}

function PreviewView({ result, selected, onSelect }: { result: PreviewResult; selected: number; onSelect: (i: number) => void }) {
  const s = useStyles2(getStyles);
  const session = result.sessions[selected];
  return (
    <Stack direction="column" gap={1}>
      {result.sessions.length === 0 ? (
        <Text color="warning">These records make no session: check the steps' `when` and `anchor` expressions against them.</Text>
      ) : (
        <table className={s.previewTable}>
          <tbody>
            {result.sessions.map((x, i) => (
              <tr key={x.id} aria-selected={i === selected} onClick={() => onSelect(i)} style={{ cursor: 'pointer', fontWeight: i === selected ? 600 : 400 }}>
                <td>{x.key}</td>
                <td>
                  <VerdictBadge verdict={x.verdict} severity={x.severity} />
                </td>
                <td>{x.events.length} records</td>
                <td className={s.previewFields}>
                  {Object.entries(x.fields)
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join('  ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {session && (
        <>
          {session.explain && <Text color="secondary">{session.explain}</Text>}
          <BehaviourTree tree={parentsOf(result.tree)} events={session.events} missing={[]} />
        </>
      )}
      {result.orphans.length > 0 && (
        <Text color="secondary">
          {result.orphans.length} orphan record(s): {result.orphans.map((o) => `${o.step} (${o.reason})`).join(', ')}
        </Text>
      )}
      {result.errors.length > 0 && (
        <Text color="error">Refused: {result.errors.map((r) => `record ${r.record}: ${r.reason}`).join('; ')}</Text>
      )}
    </Stack>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  layout: css({ display: 'grid', gridTemplateColumns: 'minmax(0, 3fr) minmax(0, 2fr)', gap: theme.spacing(3), [theme.breakpoints.down('lg')]: { gridTemplateColumns: '1fr' } }),
  pane: css({ minWidth: 0, display: 'flex', flexDirection: 'column', gap: theme.spacing(1) }),
  idField: css({ marginBottom: 0 }),
  mono: css({ fontFamily: theme.typography.fontFamilyMonospace, fontSize: theme.typography.bodySmall.fontSize }),
  previewTable: css({ width: '100%', td: { padding: theme.spacing(0.5, 1, 0.5, 0), verticalAlign: 'top', whiteSpace: 'nowrap' } }),
  previewFields: css({ whiteSpace: 'normal !important' as 'normal', fontFamily: theme.typography.fontFamilyMonospace, fontSize: theme.typography.bodySmall.fontSize, color: theme.colors.text.secondary }),
});
