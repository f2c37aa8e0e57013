import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { streamPayment, type PaymentOptions } from './payment.js';
import type { PaymentTruth } from './truth.js';

/**
 * Streams a payment workload to `out` (NDJSON, arrival order) with backpressure, then writes the
 * truth to `truthPath` (default: `out` + ".truth.json"). Memory stays bounded by the records in flight.
 */
export async function writePayment(options: PaymentOptions, out: string, truthPath = `${out}.truth.json`): Promise<PaymentTruth> {
  const { lines, truth } = streamPayment(options);
  const stream = createWriteStream(out, { encoding: 'utf8' });
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
  if (chunk) stream.write(chunk);
  stream.end();
  await Promise.race([once(stream, 'finish'), failed]);
  await writeFile(truthPath, JSON.stringify(truth) + '\n');
  return truth;
}
