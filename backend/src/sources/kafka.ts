/** Kafka plumbing for `weft run`: the client, topic metadata, and the partitioner of internal topics. */
import { Kafka, logLevel, Partitioners, type Admin, type Producer, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../run/config.js';

export function kafkaClient(config: KafkaConfig, log: Logger): Kafka {
  const sasl: SASLOptions | undefined = config.sasl
    ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions)
    : undefined;
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    ...(sasl ? { sasl } : {}),
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const { message, ...extra } = entry;
      const method = level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
      kafkaLog[method](extra, message);
    },
  });
}

/**
 * A producer with kafkajs 2's default partitioner named explicitly (the Java client's murmur2, so
 * keyed source records land where other producers put the same keys): left implicit, kafkajs logs
 * its "switched default partitioner" warning on every start. Internal topics are partitioned by
 * {@link partitionOf}, which every send names itself.
 */
export function producerOf(kafka: Kafka): Producer {
  return kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
}

/**
 * Partition counts of `topics`. Asks for the internal ones to be created first; brokers that refuse
 * (librdkafka's mock cluster) or auto-create on first use are fine, so that failure is not fatal.
 */
export async function topicPartitions(admin: Admin, topics: readonly string[], create: readonly string[], partitions: number, log: Logger): Promise<Map<string, number>> {
  try {
    await admin.createTopics({ topics: create.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
  } catch (error) {
    log.debug({ err: String(error) }, 'createTopics refused (broker auto-creates topics?)');
  }
  const counts = new Map<string, number>();
  for (let attempt = 0; ; attempt++) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
      for (const t of meta) counts.set(t.name, t.partitions.length);
      if (topics.every((t) => (counts.get(t) ?? 0) > 0)) return counts;
    } catch (error) {
      if (attempt >= 20) throw error;
    }
    if (attempt >= 20) throw new Error(`no partitions for ${topics.filter((t) => !counts.get(t)).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** FNV-1a over UTF-16 code units: the same key lands in the same partition on every instance. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
