import type { AppPluginMeta, PluginType } from '@grafana/data';
import { render } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import App from '../components/App/App';
import type { AppSettings } from '../constants';

export const META = {
  id: 'weft-sessions-app',
  name: 'Weft sessions',
  type: 'app' as PluginType,
  enabled: true,
  pinned: true,
  jsonData: { url: 'http://weft:8787' },
  secureJsonFields: { token: true },
  info: {} as AppPluginMeta['info'],
  module: '',
  baseUrl: 'public/plugins/weft-sessions-app',
} as unknown as AppPluginMeta<AppSettings>;

/** The last URL the app navigated to (for URL-state assertions). */
export const location: { current: string } = { current: '' };

function LocationProbe() {
  const l = useLocation();
  location.current = `${l.pathname}${l.search}`;
  return null;
}

/** Renders the app root at `path` (relative to /a/weft-sessions-app), as Grafana mounts it. */
export function renderApp(path: string, meta: AppPluginMeta<AppSettings> = META) {
  const base = '/a/weft-sessions-app';
  return render(
    <MemoryRouter initialEntries={[`${base}/${path}`]}>
      <Routes>
        <Route
          path={`${base}/*`}
          element={
            <>
              <LocationProbe />
              <App meta={meta} basename={base} query={{}} path={base} onNavChanged={() => undefined} />
            </>
          }
        />
      </Routes>
    </MemoryRouter>,
  );
}
