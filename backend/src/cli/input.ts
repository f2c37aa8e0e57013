import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** What went wrong with the input as a whole (not with one line): where it stopped, and why. */
export class InputError extends Error {
  constructor(
    readonly afterLine: number,
    reason: string,
  ) {
    super(`input unreadable after line ${afterLine}: ${reason}`);
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];
const BOM = '\uFEFF';
const CR = 13;

/**
 * Splits decoded text into lines: `\n` or `\r\n` ends a line, a byte-order mark before the first
 * line is dropped (JSON.parse would refuse the line), and the text after the last `\n` is a line
 * when the input ends. readline does the same at twice the cost per line, and hands lines over one
 * promise at a time; a replay reads a chunk's lines as one array.
 */
export class LineSplitter {
  private rest = '';
  private first = true;

  /** The lines that `chunk` completes. */
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines: string[] = [];
    let start = 0;
    let end: number;
    while ((end = text.indexOf('\n', start)) !== -1) {
      lines.push(this.line(text, start, end));
      start = end + 1;
    }
    this.rest = text.slice(start);
    return lines;
  }

  /** The last line, when the input does not end with a newline. */
  end(): string[] {
    const rest = this.rest;
    this.rest = '';
    return rest === '' ? [] : [this.line(rest, 0, rest.length)];
  }

  private line(text: string, start: number, end: number): string {
    if (end > start && text.charCodeAt(end - 1) === CR) end--;
    if (this.first) {
      this.first = false;
      if (text.startsWith(BOM, start)) start++;
    }
    return text.slice(start, end);
  }
}

/**
 * The lines of an input file (`-` for stdin), a chunk's worth at a time, in order. Gzip-compressed
 * input (logs are mostly shipped as `.gz`) is recognised by its magic bytes, whatever the file is
 * called, and read decompressed.
 *
 * A stream that fails part-way (a truncated or damaged gzip file) rejects with an {@link InputError}
 * after every complete line read before the failure was yielded, so a caller keeps what it processed.
 */
export async function* inputLines(path: string): AsyncGenerator<string[]> {
  const raw: Readable = path === '-' ? process.stdin : createReadStream(path);
  const head = await firstChunk(raw);
  // An empty input has ended already: a reader attached now would wait for an 'end' that is past.
  if (head === null) return;
  raw.unshift(head);
  let source = raw;
  if (GZIP_MAGIC.every((byte, i) => head[i] === byte)) {
    const gunzip = createGunzip();
    // pipe() does not pass on the source's errors; the reader must see them.
    raw.on('error', (error) => gunzip.destroy(error));
    source = raw.pipe(gunzip);
  }
  source.setEncoding('utf8');
  const splitter = new LineSplitter();
  let lines = 0;
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      const complete = splitter.push(chunk);
      lines += complete.length;
      if (complete.length > 0) yield complete;
    }
  } catch (error) {
    throw new InputError(lines, error instanceof Error ? error.message : String(error));
  }
  const last = splitter.end();
  if (last.length > 0) yield last;
}

/** The stream's first chunk (null when it is empty); rejects when it cannot be opened. */
function firstChunk(stream: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const done = (chunk: Buffer | null, error?: unknown) => {
      stream.off('readable', onReadable).off('end', onEnd).off('error', onError);
      if (error === undefined) resolve(chunk);
      else reject(error);
    };
    const onReadable = () => {
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) done(chunk);
    };
    const onEnd = () => done(null);
    const onError = (error: unknown) => done(null, error);
    stream.on('readable', onReadable).once('end', onEnd).once('error', onError);
  });
}
