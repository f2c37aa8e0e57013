/**
 * One producer for every stage of an instance, with group produce: while one request is in flight,
 * sends queue up and go together in the next one. Each produce request becomes one record batch per
 * partition, and librdkafka's mock cluster (like a broker whose consumers fetch often) hands a
 * consumer one record batch per partition per fetch: fewer, larger batches mean fewer round trips
 * on every internal hop. A send resolves once the brokers acknowledged it (acks: all), so stages
 * still commit only what is durable. Order is kept: messages reach each partition in the order
 * their sends were called.
 */
import type { Message, Producer } from 'kafkajs';

export interface Outgoing {
  readonly topic: string;
  readonly messages: Message[];
}

interface Pending {
  readonly topics: readonly Outgoing[];
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class Outbox {
  private queue: Pending[] = [];
  private running = false;

  /**
   * @param maxMessages a request takes whole sends up to about this many messages (kafkajs groups
   *   a request's messages per partition in time quadratic in their number)
   */
  constructor(private readonly producer: Producer, private readonly maxMessages = 4000) {}

  send(topics: readonly Outgoing[]): Promise<void> {
    const count = topics.reduce((n, t) => n + t.messages.length, 0);
    if (count === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ topics, count, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      let take = 0;
      let count = 0;
      while (take < this.queue.length && (take === 0 || count + this.queue[take]!.count <= this.maxMessages)) count += this.queue[take++]!.count;
      const group = this.queue.splice(0, take);
      const byTopic = new Map<string, Message[]>();
      for (const pending of group) {
        for (const { topic, messages } of pending.topics) {
          const list = byTopic.get(topic);
          if (list) for (const m of messages) list.push(m);
          else byTopic.set(topic, messages.slice());
        }
      }
      try {
        await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), acks: -1 });
        for (const p of group) p.resolve();
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    this.running = false;
  }
}
