/**
 * Shutdown with a request whose client went away mid-handler: close() must wait for that handler
 * before the caller closes the store under it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.js';
import { openStore } from '../../src/store/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('API server shutdown', () => {
  it('lets a handler whose client disconnected finish with the store before close() resolves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-api-drain-'));
    dirs.push(dir);
    const store = await openStore(`sqlite:${join(dir, 'weft.db')}`);
    let outcome = 'not finished';
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const app = await buildServer({
      store,
      templates: [],
      plugins: [
        async (scope) => {
          scope.get('/api/slow', async () => {
            entered();
            await new Promise((resolve) => setTimeout(resolve, 300));
            try {
              await store.ping();
              outcome = 'store answered';
            } catch (error) {
              outcome = `store failed: ${(error as Error).message}`;
            }
            return { outcome };
          });
        },
      ],
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const request = http.get(`http://127.0.0.1:${port}/api/slow`);
    request.on('error', () => undefined);
    await inHandler;
    request.destroy();
    // The abort reaches the server asynchronously; give it a moment before shutting down.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await app.close();
    await store.close();
    expect(outcome).toBe('store answered');
  });
});
