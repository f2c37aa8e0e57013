/**
 * Poison records (not JSON, not an object, no parsable time, unknown source) go here with the
 * reason, are counted, and never stop a partition: the dead-letter topic when Kafka is configured,
 * else an NDJSON file.
 */
import { appendFile } from 'node:fs/promises';
import type { Producer } from 'kafkajs';

export interface DeadLetter {
  readonly source: string;
  readonly reason: string;
  readonly detail: string;
  /** The record exactly as received. */
  readonly raw: string | Buffer;
  /** Where it came from: `topic/partition@offset`, or `http` with the line number. */
  readonly origin: string;
}

export interface DeadLetters {
  send(letters: readonly DeadLetter[]): Promise<void>;
}

export class TopicDeadLetters implements DeadLetters {
  constructor(private readonly producer: Producer, private readonly topic: string) {}

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.source,
        value: l.raw,
        headers: { source: l.source, reason: l.reason, detail: l.detail, origin: l.origin },
      })),
    });
  }
}

export class FileDeadLetters implements DeadLetters {
  constructor(private readonly path: string) {}

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const lines = letters.map((l) => JSON.stringify({
      source: l.source, reason: l.reason, detail: l.detail, origin: l.origin,
      raw: typeof l.raw === 'string' ? l.raw : l.raw.toString('utf8'), at: Date.now(),
    }) + '\n');
    await appendFile(this.path, lines.join(''));
  }
}
