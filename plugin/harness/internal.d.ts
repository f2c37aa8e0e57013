// The harness build (build.mjs) maps these to @grafana/runtime's own dist files, the setters Grafana
// calls when it starts; @grafana/runtime's package exports keep them from plugins.
declare module 'grafana-runtime-internal/PanelRenderer' {
  import type { ComponentType } from 'react';
  export function setPanelRenderer(renderer: ComponentType<never>): void;
}
declare module 'grafana-runtime-internal/PluginPage' {
  import type { ComponentType } from 'react';
  export function setPluginPage(component: ComponentType<never>): void;
}
