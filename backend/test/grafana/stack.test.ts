import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ENV_SETTINGS, parseConfig } from '../../src/run/index.js';
import { loadProvisioning, provisioningFiles, PROVISIONING, ROOT } from './resources.js';

/**
 * docker-compose.yml cannot run here (no Docker, no registry images): these checks hold it to the
 * rest of the repository instead — every setting it passes is one the reader understands, every
 * file it mounts exists, and the pieces point at each other.
 */

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, unknown>;
}

const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const services = compose.services;
const env = (name: string) => Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, String(v)]));

describe('docker-compose.yml', () => {
  it('has Grafana, TiDB (PD, TiKV, TiFlash), Kafka in KRaft mode, Prometheus, weft run and the load generator', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['pd', 'tikv', 'tiflash', 'tidb', 'kafka', 'weft', 'loadgen', 'prometheus', 'grafana']));
    expect(Object.keys(services).some((s) => /zookeeper/i.test(s))).toBe(false);
    expect(env('kafka').KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(services.weft!.build).toBe('.');
    expect(services.weft!.command).toEqual(['run']);
    expect(services.loadgen!.image).toBe(services.weft!.image);
    expect(services.loadgen!.command![0]).toBe('load');
  });

  it("weft's environment is a valid `weft run` configuration pointing at TiDB and Kafka", () => {
    const weftEnv = env('weft');
    const known = new Set(ENV_SETTINGS.map((s) => s.env));
    for (const name of Object.keys(weftEnv)) expect(known, name).toContain(name);
    const config = parseConfig({}, { ...weftEnv, WEFT_TOKEN: '' });
    expect(config.store).toBe('mysql://root@tidb:4000/weft');
    expect(config.kafka?.brokers).toEqual(['kafka:9092']);
    expect(config.http.port).toBe(8787);
    const loadArgs = services.loadgen!.command as string[];
    expect(loadArgs[loadArgs.indexOf('--brokers') + 1]).toBe(weftEnv.WEFT_KAFKA_BROKERS);
  });

  it('mounts only files that exist, and the provisioning points at the services', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (!source!.startsWith('./') || source === './plugin/dist') continue; // plugin/dist is the plugin's build output
        expect(existsSync(join(ROOT, source!)), `${name}: ${source}`).toBe(true);
      }
    }
    const grafana = services.grafana!;
    expect(grafana.volumes).toEqual(expect.arrayContaining(['./plugin/dist:/var/lib/grafana/plugins/weft-sessions-app:ro', './provisioning:/etc/grafana/provisioning:ro']));
    const provider = (loadProvisioning('dashboards/weft.yaml') as { providers: Array<{ options: { path: string } }> }).providers[0]!;
    expect(grafana.volumes).toContain(`./dashboards:${provider.options.path}:ro`);
    expect(env('grafana').GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS!.split(',')).toEqual(['weft-sessions-app', 'weft-sessions-datasource']);
    expect(env('grafana').WEFT_URL).toBe(`http://weft:${env('weft').WEFT_HTTP_PORT}`);
    expect(env('grafana').WEFT_TIDB_ADDR).toBe('tidb:4000');
    const prometheus = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: string[] }> }> };
    expect(prometheus.scrape_configs[0]!.static_configs[0]!.targets).toEqual([`weft:${env('weft').WEFT_HTTP_PORT}`]);
    expect(prometheus.scrape_configs[0]!.metrics_path).toBe('/metrics');
  });

  it('Grafana gets every environment variable the provisioning files read', () => {
    const settings = (f: string) => readFileSync(join(PROVISIONING, f), 'utf8').split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
    const used = new Set(provisioningFiles().flatMap((f) => [...settings(f).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!)));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(Object.keys(env('grafana')), name).toContain(name);
  });

  it('the Dockerfile builds the backend and runs the weft CLI with the templates', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/npm run build --workspace backend/);
    expect(dockerfile).toMatch(/^COPY templates templates$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "--max-semi-space-size=64", "backend\/bin\/weft.js"\]$/m);
    expect(env('weft').WEFT_TEMPLATES).toBe('/app/templates');
  });
});
