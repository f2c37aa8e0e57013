import type { Consumer, Kafka } from 'kafkajs';
import type { KafkaConfig, RunConfig } from './config.js';

/**
 * A consumer of one of `weft run`'s stages (normalise, join, anchor): every stage's group uses the
 * same session, rebalance and fetch settings, from the Kafka and backpressure config.
 */
export function stageConsumer(kafka: Kafka, config: Pick<RunConfig, 'backpressure'> & { kafka: KafkaConfig }, groupId: string): Consumer {
  const k = config.kafka;
  return kafka.consumer({
    groupId,
    sessionTimeout: k.sessionTimeoutMs,
    rebalanceTimeout: Math.max(k.sessionTimeoutMs, 10_000),
    heartbeatInterval: Math.max(500, Math.floor(k.sessionTimeoutMs / 5)),
    maxBytesPerPartition: config.backpressure.maxBatchBytes,
    maxWaitTimeInMs: k.maxWaitMs,
    allowAutoTopicCreation: true,
  });
}
