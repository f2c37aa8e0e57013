import { spawn, type ChildProcess } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produce } from '../src/cli/load.js';
import { loadTemplateFile } from '../src/template/index.js';
import { generatePayment } from '../src/workload/index.js';

/** `weft load` against librdkafka's mock cluster (kcat): what is produced is the workload, per topic. */

let kcat: ChildProcess;
let brokers: string[];

beforeAll(async () => {
  kcat = spawn('kcat', ['-b', 'localhost:1', '-X', 'test.mock.num.brokers=1', '-d', 'mock', '-C', '-t', 'weft-load-keepalive', '-o', 'end'], { stdio: ['ignore', 'ignore', 'pipe'] });
  brokers = await new Promise<string[]>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`mock cluster did not start: ${log.slice(0, 300)}`)), 15_000);
    kcat.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /bootstrap\.servers=(\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        kcat.stderr!.removeAllListeners('data');
        kcat.stderr!.resume();
        resolve(match[1]!.split(','));
      }
    });
  });
});

afterAll(() => {
  kcat?.kill('SIGKILL');
});

describe('weft load', () => {
  it("produces every workload line to its source's topic, with the values as generated", async () => {
    const template = loadTemplateFile(new URL('../../templates/payment.yaml', import.meta.url).pathname);
    const topics = new Map([...template.sources].map(([name, spec]) => [name, spec.topic]));
    const kafka = new Kafka({ clientId: 'weft-load-test', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const startMs = Date.parse('2026-10-01T00:00:00Z');
    const result = await produce(producer, topics, { sessions: 120, seed: 3, meanIntervalMs: 1000, pace: false, now: () => startMs });
    await producer.disconnect();

    // The same workload, generated directly: the expected values per topic in arrival order.
    const expected = new Map<string, string[]>();
    for (const line of generatePayment({ sessions: 120, seed: 3, startMs, meanIntervalMs: 1000 }).lines) {
      let source: string | undefined;
      let value: string;
      try {
        const parsed = JSON.parse(line) as { source: string; value: unknown };
        source = parsed.source;
        value = JSON.stringify(parsed.value);
      } catch {
        continue; // malformed lines: counted below, their text is whatever the generator broke
      }
      const topic = topics.get(source);
      if (topic) expected.set(topic, [...(expected.get(topic) ?? []), value]);
    }
    expect([...result.byTopic.keys()].sort()).toEqual([...topics.values()].sort());

    const consumer = kafka.consumer({ groupId: `weft-load-test-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics.values()], fromBeginning: true });
    const received = new Map<string, string[]>();
    let count = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${count} of ${result.records}`)), 45_000);
      void consumer.run({
        eachMessage: async ({ topic, message }) => {
          received.set(topic, [...(received.get(topic) ?? []), message.value!.toString()]);
          if (++count === result.records) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();

    for (const [topic, values] of expected) {
      const got = received.get(topic)!.filter((v) => {
        try {
          JSON.parse(v);
          return true;
        } catch {
          return false;
        }
      });
      // Partitions interleave on consumption: compare as multisets.
      expect([...got].sort(), topic).toEqual([...values].sort());
    }
  });
});
