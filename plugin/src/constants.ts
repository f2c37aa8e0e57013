import pluginJson from './plugin.json';

export const PLUGIN_ID = pluginJson.id;
export const PLUGIN_BASE_URL = `/a/${PLUGIN_ID}`;

export enum ROUTES {
  Sessions = 'sessions',
  Session = 'session',
  Overview = 'overview',
  Templates = 'templates',
}

export const prefixRoute = (route: string) => `${PLUGIN_BASE_URL}/${route}`;

/** Settings the app keeps in its plugin settings (jsonData); the token lives in secureJsonData. */
export interface AppSettings {
  /** The correlator's base URL as Grafana's server reaches it. */
  url?: string;
}
