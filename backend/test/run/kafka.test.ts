/**
 * `weft run` end to end on a real Kafka protocol broker (librdkafka's mock cluster) and MariaDB:
 * a generated payment workload produced onto the templates' topics comes out of the store as its
 * ground truth — with one instance, and with two instances sharing the consumer groups.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunService } from '../../src/run/index.js';
import { describeScore } from '../../src/workload/index.js';
import {
  eventually, flushRecords, freshDatabase, kafkaFor, paymentWorkload, PERFECT, produce, quietLog, readDeadLetters,
  runConfig, scoreStore, sourceTopics, startMockKafka, verdictOf, type MockKafka,
} from './harness.js';

let kafka: MockKafka;

beforeAll(async () => {
  kafka = await startMockKafka();
});

afterAll(async () => {
  await kafka?.stop();
});

async function runWorkload(instances: number, db: string, group: string, seed: number) {
  const url = await freshDatabase(db);
  const workload = paymentWorkload(250, seed);
  const config = runConfig(kafka.brokers, url, {
    kafka: {
      brokers: kafka.brokers, group, sessionTimeoutMs: 10000,
      topics: { anchor: `${group}-anchor`, join: `${group}-join`, deadLetters: `${group}-dead` },
    },
    sources: sourceTopics(`${group}-`),
  });
  const services: RunService[] = [];
  for (let i = 0; i < instances; i++) services.push(await RunService.start(config, { logger: quietLog, listen: false }));
  try {
    const producer = kafkaFor(kafka.brokers).producer();
    await producer.connect();
    await produce(producer, [...workload.records, ...flushRecords(workload.lastTime)], `${group}-`);
    await producer.disconnect();
    const score = await eventually(() => scoreStore(url, workload.truth), (s) => { if (process.env.WEFT_TEST_LOG) console.log(describeScore(s)); return JSON.stringify(verdictOf(s)) === JSON.stringify(PERFECT); }, 90_000, 1500);
    return { workload, score, services, group };
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
}

describe('weft run on Kafka and MariaDB', () => {
  it('one instance: the sessions and orphans in the store are the workload\'s truth; poison records are dead letters', async () => {
    const { workload, score, services, group } = await runWorkload(1, 'weft_run_kafka_one', 'one', 11);
    expect(verdictOf(score), describeScore(score)).toEqual(PERFECT);
    expect(score.pairPrecision).toBe(1);
    expect(score.pairRecall).toBe(1);

    const malformed = workload.records.filter((r) => r.malformed);
    expect(malformed.length).toBeGreaterThan(0);
    const letters = await readDeadLetters(kafka.brokers, `${group}-dead`, malformed.length);
    expect(letters.map((l) => l.value).sort()).toEqual(malformed.map((r) => r.text).sort());
    expect(new Set(letters.map((l) => l.reason))).toEqual(new Set(['malformed', 'no_time']));

    const metrics = await services[0]!.metrics.registry.getMetricsAsJSON();
    const total = (name: string) => (metrics.find((m) => m.name === name)?.values ?? []).reduce((n, v) => n + Number(v.value), 0);
    expect(total('weft_dead_letters_total')).toBe(malformed.length);
    expect(total('weft_records_in_total')).toBe(workload.records.length + 4);
    expect(total('weft_sessions_fired_total')).toBeGreaterThanOrEqual(workload.truth.sessions.length);
    expect(total('weft_orphans_total')).toBeGreaterThanOrEqual(workload.truth.orphans.length);
  });

  it('two instances in one group give the same result as one', async () => {
    const { score, services } = await runWorkload(2, 'weft_run_kafka_two', 'two', 12);
    expect(verdictOf(score), describeScore(score)).toEqual(PERFECT);
    // Both did work: each held partitions of the anchor stage at some point.
    const fired = await Promise.all(services.map(async (s) => (await s.metrics.fired.get()).values.reduce((n, v) => n + v.value, 0)));
    expect(fired.every((n) => n > 0), `fires per instance: ${fired.join(', ')}`).toBe(true);
  });
});
