import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { streamPayment, type PaymentOptions, type PaymentTruth } from '../workload/index.js';

/**
 * Bytes a file stream may hold before the writer waits for it. Node's 16 KiB default made every
 * 64 KiB chunk wait for its write to finish, so building lines and writing them never overlapped.
 */
const WRITE_AHEAD = 4 << 20;

/**
 * Writes lines (NDJSON) 64 KiB at a time with backpressure, so memory stays bounded by what is in
 * flight. `out` is a file path (created, then closed), or a stream the caller owns, such as stdout
 * (left open). Rejects on a write error.
 */
export async function writeLines(lines: Iterable<string>, out: string | Writable): Promise<void> {
  const owned = typeof out === 'string';
  const stream = owned ? createWriteStream(out, { encoding: 'utf8', highWaterMark: WRITE_AHEAD }) : out;
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
}

/**
 * Writes a payment workload (arrival order) with {@link writeLines}, then its truth: to `truthPath`,
 * by default `out` + ".truth.json" when `out` is a path; for a stream, only to a `truthPath` given.
 */
export async function writePayment(options: PaymentOptions, out: string | Writable, truthPath?: string): Promise<PaymentTruth> {
  const { lines, truth } = streamPayment(options);
  await writeLines(lines, out);
  const truthTo = truthPath ?? (typeof out === 'string' ? `${out}.truth.json` : undefined);
  if (truthTo !== undefined) await writeFile(truthTo, JSON.stringify(truth) + '\n');
  return truth;
}
