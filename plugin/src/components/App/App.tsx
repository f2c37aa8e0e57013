import type { AppRootProps } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { EmptyState, LinkButton } from '@grafana/ui';
import { Route, Routes } from 'react-router-dom';
import type { WeftApi } from '../../api/client';
import { PLUGIN_ID, ROUTES, type AppSettings } from '../../constants';
import { OverviewPage } from '../../pages/Overview';
import { SessionPage } from '../../pages/Session';
import { SessionsPage } from '../../pages/Sessions';
import { TemplatesPage } from '../../pages/Templates';
import { ApiProvider } from '../ApiContext';

export type AppProps = AppRootProps<AppSettings> & { api?: WeftApi };

/** Routes relative to /a/weft-sessions-app (react-router v6, as Grafana 11+ app plugins use). */
export default function App({ meta, api }: AppProps) {
  if (!meta.jsonData?.url) return <NotConfigured />;
  return (
    <ApiProvider api={api}>
      <Routes>
        <Route path={`${ROUTES.Session}/:id`} element={<SessionPage />} />
        <Route path={ROUTES.Overview} element={<OverviewPage />} />
        <Route path={`${ROUTES.Templates}/:id`} element={<TemplatesPage />} />
        <Route path={ROUTES.Templates} element={<TemplatesPage />} />
        <Route path="*" element={<SessionsPage />} />
      </Routes>
    </ApiProvider>
  );
}

function NotConfigured() {
  return (
    <PluginPage>
      <EmptyState
        variant="call-to-action"
        message="Weft is not connected to a correlator yet"
        button={
          <LinkButton icon="cog" href={`/plugins/${PLUGIN_ID}`}>
            Open the configuration
          </LinkButton>
        }
      >
        Set the correlator URL (where Grafana's server reaches `weft serve` or `weft run`, port 8787 by default) and its token on the app's Configuration page.
      </EmptyState>
    </PluginPage>
  );
}
