import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { streamPayment, type PaymentOptions } from './payment.js';
import type { PaymentTruth } from './truth.js';

/**
 * Streams a payment workload (NDJSON, arrival order) with backpressure, then writes the truth.
 * `out` is a file path (the truth then defaults to `out` + ".truth.json"), or a stream the caller
 * owns, such as stdout (left open; the truth is written only to a `truthPath` given). Memory stays
 * bounded by the records in flight.
 */
export async function writePayment(options: PaymentOptions, out: string | Writable, truthPath?: string): Promise<PaymentTruth> {
  const { lines, truth } = streamPayment(options);
  const owned = typeof out === 'string';
  const stream = owned ? createWriteStream(out, { encoding: 'utf8' }) : out;
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  failed.catch(() => undefined);
  let chunk = '';
  for (const line of lines) {
    chunk += line + '\n';
    if (chunk.length >= 1 << 16) {
      const ok = stream.write(chunk);
      chunk = '';
      if (!ok) await Promise.race([once(stream, 'drain'), failed]);
    }
  }
  if (owned) {
    stream.end(chunk);
    await Promise.race([once(stream, 'finish'), failed]);
  } else if (chunk && !stream.write(chunk)) {
    await Promise.race([once(stream, 'drain'), failed]);
  }
  const truthTo = truthPath ?? (owned ? `${out}.truth.json` : undefined);
  if (truthTo !== undefined) await writeFile(truthTo, JSON.stringify(truth) + '\n');
  return truth;
}
