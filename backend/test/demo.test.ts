import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';

const root = join(import.meta.dirname, '../..');
const weft = join(root, 'backend/bin/weft.js');

describe('weft demo (built)', () => {
  it('--no-serve: generates, replays into SQLite, prints the summary and the chart of verdicts over time, and exits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
    const r = spawnSync(process.execPath, [weft, 'demo', '--sessions', '300', '--seed', '5', '--dir', dir, '--no-serve'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    const sessions = Number(/^sessions +([\d,]+)/m.exec(out)?.[1]?.replace(/,/g, ''));
    expect(sessions).toBeGreaterThanOrEqual(300);
    // Verdict counts add up to the sessions.
    const verdicts = [...out.matchAll(/^ {2}([a-z_]+) +([\d,]+) +#+$/gm)].map((m) => [m[1]!, Number(m[2]!.replace(/,/g, ''))] as const);
    expect(verdicts.length).toBeGreaterThan(3);
    expect(verdicts.reduce((s, [, n]) => s + n, 0)).toBe(sessions);
    expect(out).toMatch(/^orphans +\d+/m);
    expect(out).toMatch(/^late repaired +\d+/m);
    // The chart: a y axis from the tallest column down to 0, a time axis, and one legend line per verdict.
    expect(out).toMatch(/^verdicts over time/m);
    expect(out).toMatch(/^ *\d+ \|.*[#@%&*+]/m);
    expect(out).toMatch(/^ *0 \|/m);
    expect(out).toMatch(/\d\d:\d\d +\d\d:\d\d UTC/);
    for (const [verdict, n] of verdicts) expect(out).toMatch(new RegExp(`^ +\\S ${verdict} \\((critical|warning|info|ok), ${n.toLocaleString('en')}\\)$`, 'm'));
    expect(out).not.toMatch(/serving the Weft API/);
  });

  it('serves the API on the given port, prints the URLs and three sessions that exist, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
    const child = spawn(process.execPath, [weft, 'demo', '--sessions', '200', '--seed', '6', '--dir', dir, '--port', '0'], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      while (!/three sessions to open:[\s\S]*\/trace/.test(out) || out.split('/trace').length < 4) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`demo did not start serving\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const base = /serving the Weft API on (http:\/\/\S+)/.exec(out)![1]!;
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      const search = await fetch(`${base}/api/sessions`);
      expect(search.status).toBe(200);
      expect(((await search.json()) as { sessions: unknown[] }).sessions.length).toBeGreaterThan(0);
      const examples = [...out.matchAll(/^ {2}([0-9a-f]{16}) {2}([a-z_]+) \((critical|warning|ok)\)/gm)];
      expect(examples.map((m) => m[3])).toEqual(['critical', 'warning', 'ok']);
      const store = await openStore(`sqlite:${join(dir, 'weft.db')}`);
      try {
        for (const [, id, verdict, severity] of examples) {
          const session = await store.getSession(id!);
          expect(session, id).toMatchObject({ verdict, severity });
        }
      } finally {
        await store.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
