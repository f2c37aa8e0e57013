import { css } from '@emotion/css';
import type { AppPluginMeta, GrafanaTheme2, PluginConfigPageProps, PluginMeta } from '@grafana/data';
import { getBackendSrv } from '@grafana/runtime';
import { Alert, Button, Field, FieldSet, Input, SecretInput, Stack, useStyles2 } from '@grafana/ui';
import { useState, type FormEvent } from 'react';
import { lastValueFrom } from 'rxjs';
import { APP_PROXY_BASE, backendSrvTransport, WeftApi, WeftApiError } from '../../api/client';
import type { AppSettings } from '../../constants';

export type AppConfigProps = PluginConfigPageProps<AppPluginMeta<AppSettings>>;

type TestResult = { state: 'idle' } | { state: 'testing' } | { state: 'ok'; message: string } | { state: 'failed'; title: string; message: string };

/**
 * The correlator URL (jsonData.url) and token (secureJsonData.token) that the app's `weft` proxy
 * route uses: the browser only ever calls Grafana, which adds the token on its side.
 */
export default function AppConfig({ plugin }: AppConfigProps) {
  const s = useStyles2(getStyles);
  const { enabled, pinned, jsonData, secureJsonFields } = plugin.meta;
  const [url, setUrl] = useState(jsonData?.url ?? '');
  const [token, setToken] = useState('');
  const [tokenSet, setTokenSet] = useState(Boolean(secureJsonFields?.token));
  const [saving, setSaving] = useState(false);
  const [test, setTest] = useState<TestResult>({ state: 'idle' });
  const urlError = url !== '' && !/^https?:\/\/[^\s/]+/.test(url) ? 'Give an http:// or https:// URL, e.g. http://weft:8787' : undefined;

  const save = async (event?: FormEvent) => {
    event?.preventDefault();
    if (urlError || url === '') return;
    setSaving(true);
    try {
      await updatePlugin(plugin.meta.id, {
        enabled: enabled ?? true,
        pinned: pinned ?? true,
        jsonData: { ...jsonData, url: url.trim().replace(/\/+$/, '') },
        // Left out when untouched, so a saved token is kept (Grafana never sends it back).
        secureJsonData: tokenSet ? undefined : { token },
      });
      setTest(await testConnection());
    } catch (error) {
      setTest({ state: 'failed', title: 'Settings not saved', message: error instanceof Error ? error.message : String(error) });
    } finally {
      setSaving(false);
    }
  };

  return (
    <form onSubmit={save}>
      <FieldSet label="Weft correlator">
        <Field
          label="Correlator URL"
          description="Where Grafana's server reaches `weft serve` or `weft run` (default port 8787)."
          invalid={Boolean(urlError)}
          error={urlError}
          required
        >
          <Input id="weft-url" data-testid="weft-config-url" width={60} placeholder="http://weft:8787" value={url} onChange={(e) => setUrl(e.currentTarget.value.trim())} />
        </Field>
        <Field label="Token" description="The correlator's --token, if it was started with one. Stored encrypted by Grafana." className={s.marginTop}>
          <SecretInput
            id="weft-token"
            data-testid="weft-config-token"
            width={60}
            value={token}
            isConfigured={tokenSet}
            placeholder="Bearer token"
            onChange={(e) => setToken(e.currentTarget.value.trim())}
            onReset={() => {
              setToken('');
              setTokenSet(false);
            }}
          />
        </Field>
        <Stack direction="row" gap={1}>
          <Button type="submit" disabled={saving || url === '' || Boolean(urlError)}>
            Save &amp; test
          </Button>
          <Button type="button" variant="secondary" disabled={test.state === 'testing'} onClick={async () => { setTest({ state: 'testing' }); setTest(await testConnection()); }}>
            Test connection
          </Button>
        </Stack>
        <div className={s.marginTop} data-testid="weft-config-test">
          {test.state === 'ok' && <Alert severity="success" title="Connected">{test.message}</Alert>}
          {test.state === 'failed' && <Alert severity="error" title={test.title}>{test.message}</Alert>}
        </div>
      </FieldSet>
    </form>
  );
}

/** Tests the saved settings through the proxy route: readiness (outside auth), then an authenticated search. */
export async function testConnection(api = new WeftApi(backendSrvTransport(APP_PROXY_BASE))): Promise<TestResult> {
  try {
    const ready = await api.ready();
    await api.searchSessions({ limit: 1 });
    if (!ready.ready) return { state: 'failed', title: 'Correlator not ready', message: `It answers, but its store is not reachable: ${JSON.stringify(ready.detail ?? {})}` };
    return { state: 'ok', message: 'The correlator answers, its store is ready and it accepts the token.' };
  } catch (error) {
    if (error instanceof WeftApiError) return { state: 'failed', title: `Connection failed (${error.kind})`, message: `${error.advice} (${error.message})` };
    return { state: 'failed', title: 'Connection failed', message: String(error) };
  }
}

async function updatePlugin(pluginId: string, data: Partial<PluginMeta<AppSettings>>) {
  return lastValueFrom(getBackendSrv().fetch({ url: `/api/plugins/${pluginId}/settings`, method: 'POST', data }));
}

const getStyles = (theme: GrafanaTheme2) => ({
  marginTop: css({ marginTop: theme.spacing(2) }),
});
