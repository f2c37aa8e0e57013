/**
 * `weft load --brokers B [--template T.yaml] [--sessions N] [--rate R] [--seed S] [--no-pace]`
 *
 * The compose stack's load generator: produces the payment workload (`weft generate`'s records,
 * starting now) to the Kafka topics the template's sources declare, paced at the records' arrival
 * times, so `weft run` sees live traffic with its disorder, late, duplicated and malformed records.
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { loadTemplateFile, TemplateError } from '../template/index.js';
import { streamPayment } from '../workload/index.js';
import { producerOf } from '../sources/index.js';

const USAGE = `usage: weft load --brokers HOST:PORT[,…] [options]

  --template T.yaml   template whose sources name the topics (default templates/payment.yaml)
  --sessions N        orders to produce (default 100000)
  --rate R            orders per second (default 10)
  --seed S            workload seed (default: the current time)
  --no-pace           produce as fast as the brokers take it (arrival order kept)
  --client-id ID      Kafka client id (default weft-load)
`;

const BATCH_MS = 100;
const BATCH_MAX = 5_000;

export async function loadCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        brokers: { type: 'string' },
        template: { type: 'string', default: new URL('../../../templates/payment.yaml', import.meta.url).pathname },
        sessions: { type: 'string', default: '100000' },
        rate: { type: 'string', default: '10' },
        seed: { type: 'string' },
        'no-pace': { type: 'boolean', default: false },
        'client-id': { type: 'string', default: 'weft-load' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`weft load: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sessions = Number(values.sessions);
  const rate = Number(values.rate);
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  if (!values.brokers || !Number.isInteger(sessions) || sessions <= 0 || !(rate > 0) || !Number.isInteger(seed)) {
    process.stderr.write(`weft load: --brokers is required; --sessions and --seed take whole numbers, --rate a positive number\n${USAGE}`);
    return 2;
  }
  let topics: Map<string, string>;
  try {
    topics = new Map([...loadTemplateFile(values.template).sources].map(([name, spec]) => [name, spec.topic]));
  } catch (error) {
    if (error instanceof TemplateError) {
      process.stderr.write(`weft load: invalid template\n${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const kafka = new Kafka({ clientId: values['client-id'], brokers: values.brokers.split(','), logLevel: logLevel.WARN });
  const producer = producerOf(kafka);
  await producer.connect();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const sent = await produce(producer, topics, {
      sessions,
      seed,
      meanIntervalMs: 1000 / rate,
      pace: !values['no-pace'],
      signal: stop.signal,
    });
    process.stderr.write(`weft load: ${sent.records.toLocaleString('en')} records to ${[...sent.byTopic.keys()].join(', ')} (${sent.skipped} lines without a known source skipped)\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await producer.disconnect();
  }
}

export interface ProduceOptions {
  readonly sessions: number;
  readonly seed: number;
  readonly meanIntervalMs: number;
  /** Wait for each record's arrival time (true time starts now). */
  readonly pace: boolean;
  readonly signal?: AbortSignal;
  /** Clock, for pacing (default Date.now). */
  readonly now?: () => number;
}

export interface ProduceResult {
  records: number;
  skipped: number;
  byTopic: Map<string, number>;
}

/**
 * Produces the workload's lines to their source's topic in arrival order, in batches of at most
 * {@link BATCH_MS} of arrival time. A malformed line (the workload writes a few on purpose) is sent
 * as its raw text to the topic of the source it names, like a broken producer would.
 */
export async function produce(producer: Producer, topics: ReadonlyMap<string, string>, options: ProduceOptions): Promise<ProduceResult> {
  const now = options.now ?? Date.now;
  const startMs = now();
  const { lines } = streamPayment({ sessions: options.sessions, seed: options.seed, startMs, meanIntervalMs: options.meanIntervalMs });
  const result: ProduceResult = { records: 0, skipped: 0, byTopic: new Map() };
  let batch = new Map<string, Message[]>();
  let batchSize = 0;
  let batchUntil = -Infinity;
  const flush = async () => {
    if (batchSize === 0) return;
    await producer.sendBatch({ topicMessages: [...batch].map(([topic, messages]) => ({ topic, messages })) });
    for (const [topic, messages] of batch) result.byTopic.set(topic, (result.byTopic.get(topic) ?? 0) + messages.length);
    result.records += batchSize;
    batch = new Map();
    batchSize = 0;
  };
  for (const line of lines) {
    if (options.signal?.aborted) break;
    const { source, value, at } = parseLine(line);
    const topic = source === undefined ? undefined : topics.get(source);
    if (topic === undefined) {
      result.skipped++;
      continue;
    }
    if (at !== undefined && at > batchUntil) {
      await flush();
      if (options.pace && at > now()) await sleep(at - now(), options.signal);
      batchUntil = at + BATCH_MS;
    }
    const messages = batch.get(topic) ?? [];
    messages.push({ value });
    batch.set(topic, messages);
    if (++batchSize >= BATCH_MAX) await flush();
  }
  await flush();
  return result;
}

function parseLine(line: string): { source?: string; value: string; at?: number } {
  try {
    const parsed = JSON.parse(line) as { source?: unknown; value?: unknown; at?: unknown };
    return {
      ...(typeof parsed.source === 'string' ? { source: parsed.source } : {}),
      value: JSON.stringify(parsed.value),
      ...(typeof parsed.at === 'number' ? { at: parsed.at } : {}),
    };
  } catch {
    const source = /"source"\s*:\s*"([^"]+)"/.exec(line)?.[1];
    const value = /"value"\s*:\s*(.*?)(,\s*"at"\s*:.*)?}?\s*$/.exec(line)?.[1] ?? line;
    return { ...(source !== undefined ? { source } : {}), value };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
