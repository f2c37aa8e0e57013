export { kafkaClient, partitionOf, producerOf, topicPartitions } from './kafka.js';
export { ingestPlugin, type IngestTarget, type IngestRecord, type IngestOptions } from './http.js';
export { TopicDeadLetters, FileDeadLetters, type DeadLetter, type DeadLetters } from './deadletter.js';
