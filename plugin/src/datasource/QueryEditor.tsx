import { type QueryEditorProps, type SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, MultiSelect, RadioButtonGroup, Select } from '@grafana/ui';
import type { ChangeEvent } from 'react';
import { SEVERITIES } from '../api/types';
import type { WeftDataSource } from './datasource';
import type { SeriesBy } from './frames';
import { QUERY_TYPES, type QueryType, type WeftDataSourceOptions, type WeftQuery } from './types';

type Props = QueryEditorProps<WeftDataSource, WeftQuery, WeftDataSourceOptions>;

const SERIES_BY: Array<SelectableValue<SeriesBy>> = [
  { value: 'verdict', label: 'Verdict' },
  { value: 'severity', label: 'Severity' },
  { value: 'template', label: 'Template' },
];

/** Built from @grafana/ui inline fields, like Grafana's own datasources' editors. */
export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const type: QueryType = query.queryType ?? 'sessions';
  const set = (patch: Partial<WeftQuery>, run = false) => {
    onChange({ ...query, ...patch });
    if (run) onRunQuery();
  };
  const text = (key: 'template' | 'verdict' | 'filter' | 'sessionId' | 'field' | 'key') => ({
    value: query[key] ?? '',
    onChange: (e: ChangeEvent<HTMLInputElement>) => set({ [key]: e.currentTarget.value }),
    onBlur: () => onRunQuery(),
  });
  const filters = type === 'sessions' || type === 'verdictCounts';

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14}>
          <RadioButtonGroup<QueryType>
            options={QUERY_TYPES.map((q) => ({ value: q.value, label: q.label, description: q.description }))}
            value={type}
            onChange={(v) => set({ queryType: v }, true)}
          />
        </InlineField>
      </InlineFieldRow>
      {type === 'trace' && (
        <InlineFieldRow>
          <InlineField label="Session id" labelWidth={14} tooltip="A session id, or a variable such as $session" grow>
            <Input id="weft-session-id" placeholder="payment:order-8812:…" {...text('sessionId')} />
          </InlineField>
        </InlineFieldRow>
      )}
      {type === 'fieldValues' && (
        <InlineFieldRow>
          <InlineField label="Field" labelWidth={14}>
            <Input id="weft-field" width={24} placeholder="trans_id" {...text('field')} />
          </InlineField>
          <InlineField label="Template" labelWidth={10}>
            <Input id="weft-fv-template" width={20} placeholder="any" {...text('template')} />
          </InlineField>
        </InlineFieldRow>
      )}
      {filters && (
        <>
          <InlineFieldRow>
            <InlineField label="Template" labelWidth={14}>
              <Input id="weft-template" width={20} placeholder="any (or $template)" {...text('template')} />
            </InlineField>
            <InlineField label="Verdict" labelWidth={10} tooltip="Comma-separated verdict ids, or a variable">
              <Input id="weft-verdict" width={28} placeholder="any" {...text('verdict')} />
            </InlineField>
            <InlineField label="Severity" labelWidth={10}>
              <MultiSelect
                inputId="weft-severity"
                width={36}
                options={SEVERITIES.map((s) => ({ value: s, label: s }))}
                value={query.severity ?? []}
                onChange={(v) => set({ severity: v.map((x) => x.value!).filter(Boolean) }, true)}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Fields" labelWidth={14} grow tooltip="amount > 100 and trans_id = $trans (=, >, >=, <, <=, ^= for prefix; a|b for any of)">
              <Input id="weft-filter" placeholder="amount > 100 and channel = alipay" {...text('filter')} />
            </InlineField>
          </InlineFieldRow>
        </>
      )}
      {type === 'sessions' && (
        <InlineFieldRow>
          <InlineField label="Anchor key" labelWidth={14}>
            <Input id="weft-key" width={28} placeholder="order-8812" {...text('key')} />
          </InlineField>
          <InlineField label="Limit" labelWidth={10}>
            <Input
              id="weft-limit"
              type="number"
              width={12}
              min={1}
              max={1000}
              value={query.limit ?? 100}
              onChange={(e) => set({ limit: Number(e.currentTarget.value) || undefined })}
              onBlur={() => onRunQuery()}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {type === 'verdictCounts' && (
        <InlineFieldRow>
          <InlineField label="Series by" labelWidth={14}>
            <Select<SeriesBy>
              inputId="weft-series-by"
              width={20}
              options={SERIES_BY}
              value={query.seriesBy ?? 'verdict'}
              onChange={(v) => set({ seriesBy: v.value }, true)}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </div>
  );
}
