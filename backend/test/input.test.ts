import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputError, inputLines, LineSplitter } from '../src/cli/input.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-input-'));

function split(chunks: readonly string[]): string[] {
  const splitter = new LineSplitter();
  return [...chunks.flatMap((c) => splitter.push(c)), ...splitter.end()];
}

async function readAll(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of inputLines(path)) out.push(...batch);
  return out;
}

describe('LineSplitter', () => {
  it('joins lines cut by chunk boundaries, CRLF included, and keeps blank lines', () => {
    expect(split(['{"a":', '1}\n{"b"', ':2}\r', '\n\n', 'last'])).toEqual(['{"a":1}', '{"b":2}', '', 'last']);
  });

  it('drops a byte-order mark before the first line only', () => {
    expect(split(['\uFEFF{"a":1}\n\uFEFFx\n'])).toEqual(['{"a":1}', '\uFEFFx']);
    expect(split(['\uFEFF', 'only'])).toEqual(['only']);
  });

  it('gives every line of an input that ends with a newline, and no empty last line', () => {
    expect(split(['a\nb\n'])).toEqual(['a', 'b']);
    expect(split([])).toEqual([]);
  });
});

describe('inputLines', () => {
  const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ source: 's', value: { i, text: 'é€😀'.repeat(i % 7) } }));
  const text = lines.join('\n') + '\n';

  it('reads a gzip file (by its magic bytes, whatever its name) as the plain file, multi-byte characters across chunks intact', async () => {
    const plain = join(dir, 'plain.ndjson');
    const zipped = join(dir, 'zipped.log');
    writeFileSync(plain, text);
    writeFileSync(zipped, gzipSync(text));
    expect(await readAll(plain)).toEqual(lines);
    expect(await readAll(zipped)).toEqual(lines);
  });

  it('yields nothing for an empty file', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    expect(await readAll(empty)).toEqual([]);
  });

  it('a truncated gzip file: every complete line before the break, then an InputError that says where', async () => {
    const truncated = join(dir, 'truncated.gz');
    const whole = gzipSync(text);
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const read: string[] = [];
    let failure: unknown;
    try {
      for await (const batch of inputLines(truncated)) read.push(...batch);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).afterLine).toBe(read.length);
    expect((failure as InputError).message).toMatch(new RegExp(`after line ${read.length}: unexpected end of file`));
    expect(read.length).toBeGreaterThan(0);
    expect(read).toEqual(lines.slice(0, read.length));
  });

  it('a missing file rejects with the system error', async () => {
    await expect(readAll(join(dir, 'missing.ndjson'))).rejects.toThrow(/ENOENT/);
  });
});
