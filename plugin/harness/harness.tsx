/**
 * A small stand-in for Grafana's frontend shell, enough to mount the *built* plugin (dist/module.js,
 * an AMD module like Grafana loads through SystemJS) with Grafana's theme, global styles and
 * runtime services:
 * - shared modules: react, react-dom, @grafana/data|ui|runtime, @emotion/css, rxjs, react-router —
 *   the externals of the plugin's webpack build — handed to the module's `define`;
 * - backend_srv over window.fetch, so requests go to the harness server's plugin-proxy route (which
 *   adds the token, as Grafana's proxy does) and on to a real `weft serve`;
 * - PluginPage as a page header with the app's navigation (plugin.json includes) and actions;
 * - PanelRenderer: Grafana's trace view is part of Grafana itself, so the harness draws a plain
 *   waterfall of the same trace frame, labelled as a stand-in.
 */
import * as emotionCss from '@emotion/css';
import * as grafanaData from '@grafana/data';
import { createTheme, type AppPlugin, type AppPluginMeta, type DataFrame, type NavModelItem, type PluginMeta } from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import { setBackendSrv, type BackendSrv, type BackendSrvRequest, type FetchResponse, type PanelRendererProps } from '@grafana/runtime';
// Internal setters Grafana itself calls at start-up (not exported to plugins; see internal.d.ts).
import { setPanelRenderer } from 'grafana-runtime-internal/PanelRenderer';
import { setPluginPage } from 'grafana-runtime-internal/PluginPage';
import * as grafanaUi from '@grafana/ui';
import { GlobalStyles, Icon, ThemeContext } from '@grafana/ui';
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as ReactRouter from 'react-router';
import * as ReactRouterDom from 'react-router-dom';
import { BrowserRouter, NavLink, Route, Routes } from 'react-router-dom';
import * as rxjs from 'rxjs';
import { Observable } from 'rxjs';

const PLUGIN_ID = 'weft-sessions-app';
const PUBLIC = `/public/plugins/${PLUGIN_ID}`;

const shared: Record<string, unknown> = {
  react: React,
  'react-dom': ReactDOM,
  'react/jsx-runtime': jsxRuntime,
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUi,
  '@grafana/runtime': grafanaRuntime,
  '@emotion/css': emotionCss,
  rxjs,
  'react-router': ReactRouter,
  'react-router-dom': ReactRouterDom,
};

/** Loads an AMD module the way Grafana's SystemJS loader does, with the shared modules as its dependencies. */
function loadAmd<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = window as unknown as { define?: unknown };
    w.define = (deps: string[], factory: (...args: unknown[]) => T) => {
      const missing = deps.filter((d) => !(d in shared));
      if (missing.length > 0) reject(new Error(`plugin needs modules the harness does not share: ${missing.join(', ')}`));
      else resolve(factory(...deps.map((d) => shared[d])));
    };
    (w.define as { amd?: unknown }).amd = {};
    const script = document.createElement('script');
    script.src = url;
    script.onerror = () => reject(new Error(`cannot load ${url}`));
    document.head.appendChild(script);
  });
}

function fetchObservable<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
  return new Observable((subscriber) => {
    const controller = new AbortController();
    const body = options.data === undefined ? undefined : typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
    fetch(options.url, {
      method: options.method ?? 'GET',
      body,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      signal: controller.signal,
    })
      .then(async (response) => {
        const text = await response.text();
        let data: unknown = text;
        if (options.responseType !== 'text') {
          try {
            data = text === '' ? undefined : JSON.parse(text);
          } catch {
            data = { message: text };
          }
        }
        const result = { data: data as T, status: response.status, statusText: response.statusText, ok: response.ok, headers: response.headers, redirected: response.redirected, type: response.type, url: response.url, config: options };
        if (response.ok) {
          subscriber.next(result);
          subscriber.complete();
        } else {
          subscriber.error(result);
        }
      })
      .catch((error: unknown) => subscriber.error({ status: 0, data: { message: String(error) }, statusText: String(error), config: options }));
    return () => controller.abort();
  });
}

setBackendSrv({ fetch: fetchObservable } as unknown as BackendSrv);

function TraceStandIn({ data, width }: PanelRendererProps) {
  const frame: DataFrame | undefined = data?.series[0];
  const theme = grafanaUi.useTheme2();
  if (!frame) return null;
  const col = (name: string) => frame.fields.find((f) => f.name === name)?.values ?? [];
  const start = col('startTime') as number[];
  const duration = col('duration') as number[];
  const names = col('operationName') as string[];
  const services = col('serviceName') as string[];
  const parents = col('parentSpanID') as Array<string | undefined>;
  const ids = col('spanID') as string[];
  const t0 = Math.min(...start);
  const t1 = Math.max(...start.map((s, i) => s + (duration[i] ?? 0)));
  const depth = (i: number): number => {
    const parent = parents[i];
    const p = parent ? ids.indexOf(parent) : -1;
    return p < 0 ? 0 : 1 + depth(p);
  };
  const palette = theme.visualization.palette;
  const serviceList = [...new Set(services)];
  const labelWidth = 300;
  const barWidth = Math.max(100, width - labelWidth - 24);
  return (
    <div style={{ padding: 8, fontSize: 12 }} data-testid="trace-stand-in">
      <div style={{ color: theme.colors.text.secondary, marginBottom: 6 }}>
        Harness stand-in for Grafana&apos;s trace view · {frame.length} spans · {serviceList.join(', ')}
      </div>
      {names.map((name, i) => {
        const left = t1 > t0 ? ((start[i]! - t0) / (t1 - t0)) * barWidth : 0;
        const w = t1 > t0 ? Math.max(2, ((duration[i] ?? 0) / (t1 - t0)) * barWidth) : 2;
        const color = theme.visualization.getColorByName(palette[serviceList.indexOf(services[i]!) % palette.length]!);
        return (
          <div key={i} style={{ display: 'flex', alignItems: 'center', height: 22, borderBottom: `1px solid ${theme.colors.border.weak}` }}>
            <div style={{ width: labelWidth, paddingLeft: depth(i) * 14, whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }}>
              <span style={{ display: 'inline-block', width: 8, height: 8, background: color, marginRight: 6 }} />
              <b>{services[i]}</b> {name}
            </div>
            <div style={{ position: 'relative', width: barWidth, height: 12 }}>
              <div style={{ position: 'absolute', left, width: w, height: 12, background: color, borderRadius: 2 }} />
            </div>
          </div>
        );
      })}
    </div>
  );
}
setPanelRenderer(TraceStandIn as never);

interface Include {
  type: string;
  name: string;
  path?: string;
  icon?: string;
}

function HarnessPage({ children, actions, pageNav }: grafanaRuntime.PluginPageProps) {
  const theme = grafanaUi.useTheme2();
  const current = navItems.find((n) => window.location.pathname.startsWith(n.path));
  const title = (pageNav as NavModelItem | undefined)?.text ?? current?.name ?? 'Weft sessions';
  const subTitle = (pageNav as NavModelItem | undefined)?.subTitle;
  return (
    <div style={{ padding: theme.spacing(2, 3) }}>
      <div style={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', gap: 16, marginBottom: theme.spacing(2) }}>
        <div>
          <h1 style={{ margin: 0 }}>{title}</h1>
          {subTitle && <div style={{ color: theme.colors.text.secondary }}>{subTitle}</div>}
        </div>
        <div>{actions}</div>
      </div>
      {children}
    </div>
  );
}
setPluginPage(HarnessPage as never);

let navItems: Array<{ name: string; path: string; icon?: string }> = [];

function Shell({ plugin, meta, includes }: { plugin: AppPlugin; meta: AppPluginMeta; includes: Include[] }) {
  const theme = grafanaUi.useTheme2();
  const Root = plugin.root!;
  const Config = plugin.configPages?.[0]?.body;
  return (
    <div style={{ display: 'flex', minHeight: '100vh', background: theme.colors.background.canvas }}>
      <nav style={{ width: 200, flexShrink: 0, background: theme.colors.background.primary, borderRight: `1px solid ${theme.colors.border.weak}`, padding: theme.spacing(2, 1) }}>
        <div style={{ display: 'flex', alignItems: 'center', gap: 8, padding: theme.spacing(0, 1, 2), fontWeight: 500 }}>
          <img src={`${PUBLIC}/img/logo.svg`} width={24} height={24} alt="" /> {meta.name}
        </div>
        {includes
          .filter((i) => i.type === 'page' && i.path)
          .map((i) => (
            <NavLink
              key={i.path}
              to={i.path!}
              style={({ isActive }) => ({
                display: 'flex',
                alignItems: 'center',
                gap: 8,
                padding: theme.spacing(0.75, 1),
                borderRadius: theme.shape.radius.default,
                color: isActive ? theme.colors.text.primary : theme.colors.text.secondary,
                background: isActive ? theme.colors.action.selected : 'transparent',
              })}
            >
              {i.icon ? <Icon name={i.icon as never} /> : <Icon name="apps" />} {i.name}
            </NavLink>
          ))}
      </nav>
      <main style={{ flexGrow: 1, minWidth: 0 }}>
        <Routes>
          <Route
            path={`/plugins/${PLUGIN_ID}`}
            element={
              <HarnessPage pageNav={{ text: 'Configuration' }}>{Config ? <Config plugin={plugin as never} query={{}} /> : null}</HarnessPage>
            }
          />
          <Route path={`/a/${PLUGIN_ID}/*`} element={<Root meta={meta} basename={`/a/${PLUGIN_ID}`} path={`/a/${PLUGIN_ID}`} query={{}} onNavChanged={() => undefined} />} />
        </Routes>
      </main>
    </div>
  );
}

async function main() {
  const [pluginJson, settings] = await Promise.all([
    fetch(`${PUBLIC}/plugin.json`).then((r) => r.json() as Promise<{ name: string; includes: Include[] }>),
    fetch(`/api/plugins/${PLUGIN_ID}/settings`).then((r) => r.json() as Promise<Partial<PluginMeta>>),
  ]);
  const { plugin } = await loadAmd<{ plugin: AppPlugin }>(`${PUBLIC}/module.js`);
  const meta = { ...settings, id: PLUGIN_ID, name: pluginJson.name, type: 'app', baseUrl: PUBLIC, module: `${PUBLIC}/module.js`, info: {} } as unknown as AppPluginMeta;
  plugin.meta = meta;
  navItems = pluginJson.includes.filter((i) => i.path).map((i) => ({ name: i.name, path: i.path!, icon: i.icon }));
  const theme = createTheme({ colors: { mode: 'dark' } });
  createRoot(document.getElementById('root')!).render(
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <BrowserRouter>
        <Shell plugin={plugin} meta={meta} includes={pluginJson.includes} />
      </BrowserRouter>
    </ThemeContext.Provider>,
  );
  (window as unknown as { __harnessReady: boolean }).__harnessReady = true;
}

main().catch((error: unknown) => {
  document.getElementById('root')!.textContent = `harness failed: ${error instanceof Error ? error.stack : String(error)}`;
  (window as unknown as { __harnessError: string }).__harnessError = String(error);
});
