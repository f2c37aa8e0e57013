import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { apiContract } from './contract.js';

describe('API over SQLite filled by weft replay', () => {
  apiContract(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-api-sqlite-'));
    return { url: `sqlite:${join(dir, 'weft.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  });
});
