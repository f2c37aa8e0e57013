import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_SETTINGS, loadConfig, parseConfig } from '../../src/run/index.js';

describe('weft run configuration', () => {
  it('reads YAML, and every setting can be overridden from the environment', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'weft-config-')), 'weft.yaml');
    writeFileSync(file, 'store: sqlite:./a.db\nhttp: { port: 9000 }\nkafka: { brokers: [a:9092], group: g1 }\nsources: { billing: { topic: bill } }\n');
    const fromFile = loadConfig(file, {});
    expect(fromFile).toMatchObject({ store: 'sqlite:./a.db', http: { port: 9000, host: '0.0.0.0' }, kafka: { brokers: ['a:9092'], group: 'g1', clientId: 'weft' } });
    const env = loadConfig(file, {
      WEFT_STORE: 'mysql://root@db:3306/weft', WEFT_HTTP_PORT: '9100', WEFT_KAFKA_BROKERS: 'b:9092, c:9092', WEFT_KAFKA_SSL: 'true',
      WEFT_KAFKA_SASL_MECHANISM: 'scram-sha-512', WEFT_KAFKA_SASL_USERNAME: 'u', WEFT_KAFKA_SASL_PASSWORD: 'p',
      WEFT_CHECKPOINT_INTERVAL_MS: '750', WEFT_LOG_LEVEL: 'debug', WEFT_SOURCE_BILLING_TOPIC: 'billing-v2', WEFT_SOURCE_GAME_TOPIC: 'game-v2',
    });
    expect(env).toMatchObject({
      store: 'mysql://root@db:3306/weft', http: { port: 9100 },
      kafka: { brokers: ['b:9092', 'c:9092'], group: 'g1', ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } },
      checkpoint: { intervalMs: 750 }, log: { level: 'debug' }, sources: { billing: { topic: 'billing-v2' }, game: { topic: 'game-v2' } },
    });
  });

  it('every documented variable maps to a setting the schema accepts', () => {
    for (const s of ENV_SETTINGS) expect(s.env).toMatch(/^WEFT_[A-Z_]+$/);
    expect(() => parseConfig({}, { WEFT_OTLP_ENDPOINT: 'http://collector:4318' })).not.toThrow();
  });

  it('refuses bad settings with the setting named', () => {
    expect(() => parseConfig({}, { WEFT_HTTP_PORT: 'eighty' })).toThrow(/http\.port: .* \(from WEFT_HTTP_PORT="eighty"\)/);
    expect(() => parseConfig({}, { WEFT_KAFKA_BROKERS: ',' })).toThrow(/kafka\.brokers: .* \(from WEFT_KAFKA_BROKERS=","\)/);
    // A bad value from the file is not blamed on a variable.
    expect(() => parseConfig({ http: { port: 'eighty' } }, {})).toThrow(/http\.port: [^(\n]*$/m);
    expect(() => parseConfig({ kafka: { brokers: [] } })).toThrow(/kafka\.brokers/);
    expect(() => parseConfig({ chekpoint: { intervalMs: 5 } })).toThrow(ConfigError);
  });
});
