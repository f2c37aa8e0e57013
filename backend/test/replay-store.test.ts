import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { replayCommand } from '../src/cli/replay.js';

const template = join(import.meta.dirname, '../../templates/payment.yaml');
const dir = mkdtempSync(join(tmpdir(), 'weft-replay-store-'));
const input = join(dir, 'events.ndjson');
writeFileSync(input, JSON.stringify({ source: 'billing', value: { ts: 1_790_000_000_000, log_id: 'l1', action: 'create_order', order_id: 'A1', amount: 1 } }) + '\n');

afterEach(() => void vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A replay of a large input takes minutes: a --store that cannot be opened must say so before it, not after.
describe('weft replay --store that cannot be opened', () => {
  it.each([
    ['an unknown scheme', 'postgres://db/weft', /unknown store URL/],
    ['a MySQL database that does not exist', `mysql://root@127.0.0.1:3306/weft_missing_${process.pid}`, /Unknown database/],
  ])('fails on %s before reading the input', async (_what, url, reason) => {
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    await expect(replayCommand(['--template', template, '--input', input, '--store', url, '--quiet'])).rejects.toThrow(reason);
    expect(stderr.join('')).not.toMatch(/records read/);
  });
});
