/**
 * `weft run` configuration: a YAML file, then environment variables (each setting has one), then
 * defaults. Validated with zod so a typo is an error naming the setting, not a silent default.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

const kafkaSchema = z.strictObject({
  brokers: z.array(z.string().min(1)).min(1),
  clientId: z.string().min(1).default('weft'),
  /** Consumer-group prefix: stages join `<group>-normalise`, `<group>-join`, `<group>-anchor`. */
  group: z.string().min(1).default('weft'),
  ssl: z.boolean().default(false),
  sasl: z.strictObject({
    mechanism: z.enum(SASL_MECHANISMS),
    username: z.string(),
    password: z.string(),
  }).optional(),
  /** Internal topics (partitioned by anchor key / join value) and the dead-letter topic. */
  topics: z.strictObject({
    anchor: z.string().min(1).default('weft-anchor'),
    join: z.string().min(1).default('weft-join'),
    deadLetters: z.string().min(1).default('weft-dead-letters'),
  }).default({ anchor: 'weft-anchor', join: 'weft-join', deadLetters: 'weft-dead-letters' }),
  /** Partitions of the internal topics when weft creates them (brokers that auto-create use their own default). */
  partitions: z.number().int().positive().default(4),
  /** Where a group without committed offsets starts on the source topics. */
  fromBeginning: z.boolean().default(true),
  sessionTimeoutMs: z.number().int().positive().default(10_000),
  /** Longest a fetch waits for new records: bounds the latency each internal hop adds when traffic is light. */
  maxWaitMs: z.number().int().positive().default(50),
});

export const configSchema = z.strictObject({
  /** Directory of template files (*.yaml, *.yml, *.json); watched for changes. */
  templates: z.string().optional(),
  store: z.string().default('sqlite:./weft.db'),
  http: z.strictObject({
    port: z.number().int().min(0).max(65535).default(8787),
    host: z.string().default('0.0.0.0'),
    /** Bearer token for the API, ingest and metrics (health stays open). */
    token: z.string().optional(),
    /** Largest ingest body, bytes. */
    bodyLimit: z.number().int().positive().default(8 * 1024 * 1024),
  }).default({ port: 8787, host: '0.0.0.0', bodyLimit: 8 * 1024 * 1024 }),
  kafka: kafkaSchema.optional(),
  /** Per source: the topic to read, overriding the templates' `topic`. */
  sources: z.record(z.string(), z.strictObject({ topic: z.string().min(1) })).default({}),
  checkpoint: z.strictObject({
    /** How often engine state and offsets are checkpointed (and Kafka offsets committed). */
    intervalMs: z.number().int().positive().default(2_000),
  }).default({ intervalMs: 2_000 }),
  backpressure: z.strictObject({
    /** Embedded mode: HTTP records waiting for the engine before ingest answers 503. */
    maxPendingRecords: z.number().int().positive().default(100_000),
    /** Kafka: records fetched per partition batch at most (bounds memory while the store is slow). */
    maxBatchBytes: z.number().int().positive().default(1024 * 1024),
  }).default({ maxPendingRecords: 100_000, maxBatchBytes: 1024 * 1024 }),
  /** How often every instance checks the store for template changes (other instances' PUTs). */
  templatesPollMs: z.number().int().positive().default(2_000),
  /** Without Kafka, dead letters are appended to this NDJSON file. */
  deadLetterFile: z.string().default('./weft-dead-letters.ndjson'),
  otlp: z.strictObject({ endpoint: z.string().url() }).optional(),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).default({ level: 'info' }),
});

export type RunConfig = z.infer<typeof configSchema>;
export type KafkaConfig = z.infer<typeof kafkaSchema>;

type Parse = (text: string) => unknown;
const int: Parse = (t) => (/^-?\d+$/.test(t.trim()) ? Number(t) : t);
const bool: Parse = (t) => (['1', 'true', 'yes', 'on'].includes(t.toLowerCase()) ? true : ['0', 'false', 'no', 'off'].includes(t.toLowerCase()) ? false : t);
const list: Parse = (t) => t.split(',').map((s) => s.trim()).filter((s) => s !== '');
const text: Parse = (t) => t;

/** Every setting's environment variable (the README's table is this list). */
export const ENV_SETTINGS: ReadonlyArray<{ env: string; path: string; parse: Parse; help: string }> = [
  { env: 'WEFT_TEMPLATES', path: 'templates', parse: text, help: 'templates directory (watched)' },
  { env: 'WEFT_STORE', path: 'store', parse: text, help: 'store URL: sqlite:./weft.db or mysql://user:pass@host:port/db' },
  { env: 'WEFT_HTTP_PORT', path: 'http.port', parse: int, help: 'HTTP port (API, ingest, health, metrics)' },
  { env: 'WEFT_HTTP_HOST', path: 'http.host', parse: text, help: 'HTTP listen address' },
  { env: 'WEFT_TOKEN', path: 'http.token', parse: text, help: 'bearer token for everything but /healthz and /readyz' },
  { env: 'WEFT_HTTP_BODY_LIMIT', path: 'http.bodyLimit', parse: int, help: 'largest ingest body, bytes (413 beyond)' },
  { env: 'WEFT_KAFKA_BROKERS', path: 'kafka.brokers', parse: list, help: 'comma-separated brokers; unset: no Kafka (embedded mode)' },
  { env: 'WEFT_KAFKA_CLIENT_ID', path: 'kafka.clientId', parse: text, help: 'Kafka client id' },
  { env: 'WEFT_KAFKA_GROUP', path: 'kafka.group', parse: text, help: 'consumer group prefix (one group per stage)' },
  { env: 'WEFT_KAFKA_SSL', path: 'kafka.ssl', parse: bool, help: 'TLS to the brokers' },
  { env: 'WEFT_KAFKA_SASL_MECHANISM', path: 'kafka.sasl.mechanism', parse: text, help: 'plain, scram-sha-256, scram-sha-512' },
  { env: 'WEFT_KAFKA_SASL_USERNAME', path: 'kafka.sasl.username', parse: text, help: 'SASL user' },
  { env: 'WEFT_KAFKA_SASL_PASSWORD', path: 'kafka.sasl.password', parse: text, help: 'SASL password' },
  { env: 'WEFT_KAFKA_TOPIC_ANCHOR', path: 'kafka.topics.anchor', parse: text, help: 'internal topic keyed by anchor key' },
  { env: 'WEFT_KAFKA_TOPIC_JOIN', path: 'kafka.topics.join', parse: text, help: 'internal topic keyed by join value' },
  { env: 'WEFT_KAFKA_TOPIC_DEAD_LETTERS', path: 'kafka.topics.deadLetters', parse: text, help: 'dead-letter topic' },
  { env: 'WEFT_KAFKA_PARTITIONS', path: 'kafka.partitions', parse: int, help: 'partitions of internal topics weft creates' },
  { env: 'WEFT_KAFKA_FROM_BEGINNING', path: 'kafka.fromBeginning', parse: bool, help: 'a new group starts at the oldest record' },
  { env: 'WEFT_KAFKA_SESSION_TIMEOUT_MS', path: 'kafka.sessionTimeoutMs', parse: int, help: 'consumer session timeout (a dead instance\'s partitions move after it)' },
  { env: 'WEFT_KAFKA_MAX_WAIT_MS', path: 'kafka.maxWaitMs', parse: int, help: 'longest a fetch waits for records (latency per hop when traffic is light)' },
  { env: 'WEFT_CHECKPOINT_INTERVAL_MS', path: 'checkpoint.intervalMs', parse: int, help: 'checkpoint and offset-commit period' },
  { env: 'WEFT_MAX_PENDING_RECORDS', path: 'backpressure.maxPendingRecords', parse: int, help: 'embedded mode: queued HTTP records before 503' },
  { env: 'WEFT_MAX_BATCH_BYTES', path: 'backpressure.maxBatchBytes', parse: int, help: 'Kafka fetch bytes per partition' },
  { env: 'WEFT_TEMPLATES_POLL_MS', path: 'templatesPollMs', parse: int, help: 'how often the store is checked for template changes' },
  { env: 'WEFT_DEAD_LETTER_FILE', path: 'deadLetterFile', parse: text, help: 'embedded mode: dead-letter NDJSON file' },
  { env: 'WEFT_OTLP_ENDPOINT', path: 'otlp.endpoint', parse: text, help: 'OTLP/HTTP traces endpoint' },
  { env: 'WEFT_LOG_LEVEL', path: 'log.level', parse: text, help: 'fatal … trace, silent' },
];

/** Per-source topic overrides: WEFT_SOURCE_<NAME>_TOPIC (name upper-cased, `-` as `_`). */
const SOURCE_TOPIC_ENV = /^WEFT_SOURCE_([A-Z0-9_]+)_TOPIC$/;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads `file` (when given), applies `env`, validates. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): RunConfig {
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`${file}: cannot read: ${(error as Error).message}`);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${file}: not a YAML mapping`);
      raw = parsed as Record<string, unknown>;
    }
  }
  return parseConfig(raw, env, file ?? '<env>');
}

export function parseConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, origin = '<config>'): RunConfig {
  const doc = structuredClone(raw);
  // Setting path → the variable that set it: a bad value is reported under the name the operator typed.
  const setBy = new Map<string, string>();
  for (const setting of ENV_SETTINGS) {
    const value = env[setting.env];
    if (value === undefined || value === '') continue;
    setPath(doc, setting.path, setting.parse(value));
    setBy.set(setting.path, setting.env);
  }
  for (const [name, value] of Object.entries(env)) {
    const match = SOURCE_TOPIC_ENV.exec(name);
    if (!match || value === undefined || value === '') continue;
    const sources = (doc.sources ??= {}) as Record<string, unknown>;
    const wanted = match[1]!.toLowerCase();
    const source = Object.keys(sources).find((s) => s.toLowerCase().replace(/-/g, '_') === wanted) ?? wanted;
    sources[source] = { topic: value };
    setBy.set(`sources.${source}`, name);
  }
  const result = configSchema.safeParse(doc);
  if (!result.success) {
    const issues = result.error.issues.map((i) => {
      const path = i.path.join('.');
      const variable = variableOf(setBy, path);
      return `  ${path || '(top)'}: ${i.message}${variable ? ` (from ${variable}=${JSON.stringify(env[variable])})` : ''}`;
    });
    throw new ConfigError(`${origin}: invalid configuration\n${issues.join('\n')}`);
  }
  return result.data;
}

/** The variable that set `path` or a setting above it, if one did. */
function variableOf(setBy: ReadonlyMap<string, string>, path: string): string | undefined {
  for (let at = path; at !== ''; at = at.includes('.') ? at.slice(0, at.lastIndexOf('.')) : '') {
    const variable = setBy.get(at);
    if (variable !== undefined) return variable;
  }
  return undefined;
}

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = doc;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}
