import { InlineField, Select } from '@grafana/ui';
import { useApi } from './ApiContext';
import { useLoad } from './useLoad';

/** The template filter of the search and overview pages: the correlator's stored templates, or any id typed. */
export function TemplatePicker({ id, value, placeholder, onChange }: { id: string; value: string; placeholder: string; onChange: (template: string | undefined) => void }) {
  const api = useApi();
  const [templates] = useLoad(() => api.templates(), [api]);
  const options = templates.state === 'done' ? templates.value.map((t) => ({ value: t.id, label: t.id })) : [];
  return (
    <InlineField label="Template" labelWidth={12}>
      <Select
        inputId={id}
        width={24}
        isClearable
        allowCustomValue
        placeholder={placeholder}
        options={options}
        value={value || null}
        onChange={(v) => onChange(v?.value ?? undefined)}
      />
    </InlineField>
  );
}
