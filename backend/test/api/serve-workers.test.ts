import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/bench/ports.js';
import { mysqlHarness, session, type Harness } from '../store/harness.js';

/** `weft serve --workers N` (built CLI): N node:cluster workers on one port, replaced when they die, stopped together. */
const root = join(import.meta.dirname, '../../..');
const weft = join(root, 'backend/bin/weft.js');
const TOKEN = 'workers-token';

/** Collects the server's stderr and resolves when `count` lines match `pattern`. */
class Output {
  text = '';
  private waiters: (() => void)[] = [];
  constructor(child: ChildProcess) {
    child.stderr!.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      for (const w of this.waiters) w();
    });
  }
  lines(pattern: RegExp): RegExpMatchArray[] {
    return [...this.text.matchAll(new RegExp(pattern.source, 'gm'))];
  }
  until(pattern: RegExp, count: number, ms = 30_000): Promise<RegExpMatchArray[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} × ${pattern}; stderr:\n${this.text}`)), ms);
      const check = () => {
        const found = this.lines(pattern);
        if (found.length >= count) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(found);
        }
      };
      this.waiters.push(check);
      check();
    });
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('weft serve --workers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await mysqlHarness();
    const store = await h.open();
    await store.upsertSessions([session('k1', { fields: { user_id: 'u1' } })]);
  });
  afterAll(async () => {
    await h.destroy();
  });

  it('serves from N processes on one port, replaces a worker that dies, and stops them all on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [weft, 'serve', '--store', h.url, '--port', String(port), '--token', TOKEN, '--workers', '2', '--log-level', 'warn'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const out = new Output(child);
    try {
      const listening = await out.until(/listening on .*\(worker (\d+), pid (\d+)\)$/, 2);
      const pids = listening.map((m) => Number(m[2]));
      expect(new Set(pids).size).toBe(2);

      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/api/search?q=${encodeURIComponent('{ .user_id = "u1" }')}`)).status).toBe(401);
      // Many requests over fresh connections: the primary hands them to both workers; each answers the same.
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const r = await fetch(`${base}/api/search?q=${encodeURIComponent('{ .user_id = "u1" }')}`, { headers: { authorization: `Bearer ${TOKEN}`, connection: 'close' } });
          expect(r.status).toBe(200);
          return ((await r.json()) as { traces: unknown[] }).traces.length;
        }),
      );
      expect(answers).toEqual(Array.from({ length: 20 }, () => 1));

      process.kill(pids[0]!, 'SIGKILL');
      await out.until(/worker \d+ exited \(SIGKILL\); starting another/, 1);
      const after = await out.until(/listening on .*\(worker (\d+), pid (\d+)\)$/, 3);
      expect(Number(after[2]![2])).not.toBe(pids[0]);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      for (const m of after) expect(alive(Number(m[2]))).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a bad --workers or --log-level with a clear message', () => {
    const bad = spawnSync(process.execPath, [weft, 'serve', '--store', 'sqlite::memory:', '--workers', 'many'], { cwd: root, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--workers must be 1–64 or auto, got many/);
    const level = spawnSync(process.execPath, [weft, 'serve', '--store', 'sqlite::memory:', '--log-level', 'loud'], { cwd: root, encoding: 'utf8' });
    expect(level.status).toBe(2);
    expect(level.stderr).toMatch(/--log-level must be one of .*got loud/);
  });
});
