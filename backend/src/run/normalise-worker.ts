/**
 * Entry of the normalise thread (see normalise-thread.ts): its own Kafka client, producer and
 * consumer, the templates compiled again from their texts, and the stage itself (normalise.ts).
 * Counts and log lines go back to the instance's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { TopicDeadLetters } from '../sources/deadletter.js';
import { kafkaClient } from '../sources/kafka.js';
import { parseTemplate } from '../template/index.js';
import { NormaliseStage, type NormaliseCounts } from './normalise.js';
import type { NormaliseThreadData, ToNormalise, FromNormalise } from './normalise-thread.js';
import { Outbox } from './outbox.js';

const port = parentPort!;
const data = workerData as NormaliseThreadData;
const post = (message: FromNormalise) => port.postMessage(message);
const log = pino({ level: data.logLevel, base: { service: 'weft-run', thread: 'normalise' } }, { write: (line: string) => post({ kind: 'log', line }) });

/** Counts since the last report, keyed `source\0reason`. */
const pending = { recordsIn: new Map<string, number>(), rejected: new Map<string, number>(), deadLetters: new Map<string, number>() };
const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);
const counts: NormaliseCounts = {
  recordsIn: (source, n) => add(pending.recordsIn, source, n),
  rejected: (source, reason) => add(pending.rejected, `${source}\u0000${reason}`, 1),
  deadLetter: (source, reason) => add(pending.deadLetters, `${source}\u0000${reason}`, 1),
};
function report(): void {
  if (pending.recordsIn.size + pending.rejected.size + pending.deadLetters.size === 0) return;
  post({ kind: 'counts', recordsIn: [...pending.recordsIn], rejected: [...pending.rejected], deadLetters: [...pending.deadLetters] });
  for (const map of Object.values(pending)) map.clear();
}

const compile = (texts: readonly string[]) => texts.map((text, i) => parseTemplate(text, `template ${i + 1} (normalise thread)`));

const kafka = kafkaClient(data.config.kafka, log);
const producer = kafka.producer({ allowAutoTopicCreation: true });
const stage = new NormaliseStage({
  kafka,
  config: data.config,
  outbox: new Outbox(producer),
  deadLetters: new TopicDeadLetters(producer, data.config.kafka.topics.deadLetters),
  counts,
  log,
  partitions: data.partitions,
});
const reporter = setInterval(report, 100);
const joined = setInterval(() => post({ kind: 'joined', joined: stage.joined() }), 250);

port.on('message', (message: ToNormalise) => {
  void (async () => {
    try {
      if (message.kind === 'templates') await stage.setTemplates(compile(message.texts));
      else {
        await stage.stop();
        await producer.disconnect().catch(() => undefined);
        clearInterval(reporter);
        clearInterval(joined);
        report();
        post({ kind: 'stopped' });
        port.close();
      }
    } catch (error) {
      log.error({ err: String(error) }, `normalise thread: ${message.kind} failed`);
    }
  })();
});

try {
  await producer.connect();
  await stage.start(compile(data.templates));
  post({ kind: 'started' });
} catch (error) {
  post({ kind: 'failed', error: error instanceof Error ? error.message : String(error) });
}
