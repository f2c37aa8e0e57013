/**
 * The normalise stage on a worker thread. Normalise is stateless and talks to nothing but the
 * brokers, so it runs beside the stateful stages with a Kafka client of its own: parsing, routing
 * and producing the records (a quarter to a third of an instance's CPU on a backlog) move to a
 * second core, and no record crosses between the threads. What crosses: the templates' texts (the
 * thread compiles them itself; compiled templates hold functions), counts for the instance's
 * metrics, log lines, whether its consumer is in its group.
 *
 * The worker is the compiled `normalise-worker.js` beside this file; where there is none (the
 * TypeScript sources run directly, as under the test runner), the stage runs on the instance's
 * thread instead (`normaliseRunner`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompiledTemplate } from '../template/index.js';
import type { KafkaConfig, RunConfig } from './config.js';
import type { RunMetrics } from './metrics.js';
import { NormaliseStage, type NormaliseDeps, type NormaliseRunner } from './normalise.js';

export interface NormaliseThreadData {
  readonly config: Pick<RunConfig, 'sources' | 'backpressure'> & { kafka: KafkaConfig };
  readonly partitions: { readonly anchor: number; readonly join: number };
  readonly templates: readonly string[];
  readonly logLevel: string;
}

export type ToNormalise = { kind: 'templates'; texts: readonly string[] } | { kind: 'stop' };

export type FromNormalise =
  | { kind: 'started' }
  | { kind: 'failed'; error: string }
  | { kind: 'stopped' }
  | { kind: 'joined'; joined: boolean }
  | { kind: 'log'; line: string }
  | { kind: 'counts'; recordsIn: Array<[string, number]>; rejected: Array<[string, number]>; deadLetters: Array<[string, number]> };

const WORKER = new URL('./normalise-worker.js', import.meta.url);

/** The stage on its own thread when configured and built, else on this one. */
export function normaliseRunner(deps: NormaliseDeps, metrics: RunMetrics, texts: () => string[]): NormaliseRunner {
  if (deps.config.kafka.normaliseThread && existsSync(fileURLToPath(WORKER))) return new NormaliseThread(deps, metrics, texts);
  return new NormaliseStage(deps);
}

class NormaliseThread implements NormaliseRunner {
  private worker: Worker | undefined;
  private inGroup = false;
  private stopping = false;

  constructor(private readonly deps: NormaliseDeps, private readonly metrics: RunMetrics, private readonly texts: () => string[]) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const { config, partitions, log } = this.deps;
      const data: NormaliseThreadData = {
        config: { sources: config.sources, backpressure: config.backpressure, kafka: config.kafka },
        partitions,
        templates: this.texts(),
        logLevel: log.level,
      };
      const worker = (this.worker = new Worker(WORKER, { workerData: data }));
      worker.on('message', (message: FromNormalise) => {
        if (message.kind === 'started') resolve();
        else if (message.kind === 'failed') reject(new Error(`normalise thread: ${message.error}`));
        else this.received(message);
      });
      worker.on('error', (error) => {
        log.error({ err: String(error) }, 'normalise thread failed');
        reject(error);
      });
      worker.on('exit', (code) => {
        this.inGroup = false;
        if (this.stopping) return;
        // The stage keeps no state: a new thread goes on from the group's committed offsets.
        log.error({ code }, 'normalise thread exited; starting another');
        setTimeout(() => void this.start().catch(() => undefined), 1_000).unref();
      });
    });
  }

  async setTemplates(_templates: readonly CompiledTemplate[]): Promise<void> {
    this.post({ kind: 'templates', texts: this.texts() });
  }

  joined(): boolean {
    return this.inGroup;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 30_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.post({ kind: 'stop' });
    });
  }

  private post(message: ToNormalise): void {
    this.worker?.postMessage(message);
  }

  private received(message: FromNormalise): void {
    const { metrics } = this;
    switch (message.kind) {
      case 'counts':
        for (const [source, n] of message.recordsIn) metrics.recordsIn.inc({ source }, n);
        for (const [key, n] of message.rejected) {
          const [source, reason] = key.split('\u0000') as [string, string];
          metrics.rejected.inc({ source, reason }, n);
        }
        for (const [key, n] of message.deadLetters) {
          const [source, reason] = key.split('\u0000') as [string, string];
          metrics.deadLetters.inc({ source, reason }, n);
        }
        break;
      case 'joined':
        this.inGroup = message.joined;
        break;
      case 'log':
        this.relayLog(message.line);
        break;
      default:
        break;
    }
  }

  /** A log line of the thread, through the instance's logger (its level and destination). */
  private relayLog(line: string): void {
    try {
      const { level, msg, time: _time, pid: _pid, hostname: _host, service: _service, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const name = this.deps.log.levels.labels[Number(level)] as 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'fatal' | undefined;
      if (name) this.deps.log[name](rest, String(msg ?? ''));
    } catch {
      this.deps.log.warn({ line }, 'normalise thread: unreadable log line');
    }
  }
}
