import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, FieldSet, Input, SecretInput } from '@grafana/ui';
import type { WeftDataSourceOptions, WeftSecureJsonData } from './types';

type Props = DataSourcePluginOptionsEditorProps<WeftDataSourceOptions, WeftSecureJsonData>;

/** The correlator URL (jsonData) and bearer token (secureJsonData) the `weft` proxy route uses. */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;
  return (
    <FieldSet label="Weft correlator">
      <Field
        label="Correlator URL"
        description="Where Grafana's server reaches `weft serve` or `weft run` (default port 8787). Requests go through Grafana's proxy, never from the browser."
        required
      >
        <Input
          id="weft-ds-url"
          width={60}
          placeholder="http://weft:8787"
          value={jsonData.url ?? ''}
          onChange={(e) => onOptionsChange({ ...options, jsonData: { ...jsonData, url: e.currentTarget.value.trim().replace(/\/+$/, '') } })}
        />
      </Field>
      <Field label="Token" description="The correlator's --token, if it was started with one. Stored encrypted.">
        <SecretInput
          id="weft-ds-token"
          width={60}
          isConfigured={Boolean(secureJsonFields?.token)}
          value={secureJsonData?.token ?? ''}
          onChange={(e) => onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, token: e.currentTarget.value } })}
          onReset={() =>
            onOptionsChange({ ...options, secureJsonFields: { ...secureJsonFields, token: false }, secureJsonData: { ...secureJsonData, token: '' } })
          }
        />
      </Field>
    </FieldSet>
  );
}
