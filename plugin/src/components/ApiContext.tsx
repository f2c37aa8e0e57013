import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { APP_PROXY_BASE, backendSrvTransport, WeftApi } from '../api/client';

const ApiContext = createContext<WeftApi | undefined>(undefined);

/** The correlator API behind the app's proxy route; tests and the harness may give their own. */
export function ApiProvider({ api, children }: { api?: WeftApi; children: ReactNode }) {
  const value = useMemo(() => api ?? new WeftApi(backendSrvTransport(APP_PROXY_BASE)), [api]);
  return <ApiContext.Provider value={value}>{children}</ApiContext.Provider>;
}

export function useApi(): WeftApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside ApiProvider');
  return api;
}
