/**
 * The built plugin in a real browser: headless Chromium (Debian's package) driven by playwright-core,
 * the harness shell (Grafana's theme, shared modules, runtime services), and a real correlator
 * (`weft serve`) over a SQLite store filled by `weft replay` of a generated payment workload. Each
 * page is opened, checked for its content, and photographed; WEFT_SCREENSHOTS=<dir> keeps the
 * pictures (`npm run screenshots -w plugin` writes docs/screenshots/).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildHarness } from './build';
import { startHarnessServer } from './server';

const REPO = path.resolve(__dirname, '../..');
const WEFT = path.join(REPO, 'backend/bin/weft.js');
const TEMPLATE = path.join(REPO, 'templates/payment.yaml');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'harness-token';
const START = 1_790_000_000_000;
const SHOTS = process.env.WEFT_SCREENSHOTS ? path.resolve(process.env.WEFT_SCREENSHOTS) : fs.mkdtempSync(path.join(os.tmpdir(), 'weft-shots-'));
const RANGE = `from=${START - 10 * 60_000}&to=${START + 3 * 3_600_000}`;

let work: string;
let correlator: ChildProcess | undefined;
let correlatorUrl: string;
let harness: { url: string; close: () => Promise<void> } | undefined;
let context: BrowserContext | undefined;
let page: Page;
const problems: string[] = [];

function weft(args: string[]): void {
  const result = spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`weft ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
}

/** `weft serve` on a free port; resolves with its URL once it listens. */
function serve(db: string): Promise<string> {
  return new Promise((resolve, reject) => {
    correlator = spawn(process.execPath, [WEFT, 'serve', '--store', `sqlite:${db}`, '--port', '0', '--template', TEMPLATE, '--token', TOKEN], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    correlator.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (match) resolve(match[1]!.replace('0.0.0.0', '127.0.0.1'));
    });
    correlator.on('exit', (code) => reject(new Error(`weft serve exited (${code}): ${stderr}`)));
  });
}

async function api<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${correlatorUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function shot(name: string, fullPage = false): Promise<string> {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  expect(fs.statSync(file).size).toBeGreaterThan(10_000);
  return file;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-browser-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const events = path.join(work, 'events.ndjson');
  const db = path.join(work, 'weft.db');
  const [bundle] = await Promise.all([
    buildHarness(path.join(work, 'harness')),
    (async () => {
      weft(['generate', '--scenario', 'payment', '--sessions', '400', '--seed', '11', '--start', String(START), '--out', events]);
      weft(['replay', '--template', TEMPLATE, '--input', events, '--store', `sqlite:${db}`, '--out', path.join(work, 'sessions.ndjson')]);
    })(),
  ]);
  correlatorUrl = await serve(db);
  // The Templates page lists stored templates: store the one the sessions were made with.
  await api('PUT', '/api/templates/payment', { text: fs.readFileSync(TEMPLATE, 'utf8') });
  harness = await startHarnessServer({ correlatorUrl, token: TOKEN, bundleDir: bundle });
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    colorScheme: 'dark',
  });
  page = context.pages()[0] ?? (await context.newPage());
  // Generous waits: CI shares two cores with the rest of the suite.
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message: ConsoleMessage) => {
    // Failed requests are checked below, with their URL.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    // Grafana's fonts and the icons @grafana/ui does not ship (spinner, …) are served by Grafana, not
    // the plugin; `weft serve` has no /metrics (the Overview page says so: only `weft run` reports lag).
    const url = response.url();
    const expected = url.includes('/public/fonts/') || url.includes('/public/build/img/icons/') || (response.status() === 404 && url.endsWith('/weft/metrics'));
    if (response.status() >= 400 && !expected) problems.push(`HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
  });
}, 180_000);

afterEach(async (context) => {
  if (context.task.result?.state === 'fail' && page) await page.screenshot({ path: path.join(SHOTS, `failed-${context.task.name.split(':')[0]}.png`), fullPage: true });
});

afterAll(async () => {
  await context?.close();
  await harness?.close();
  correlator?.kill('SIGTERM');
  if (work) fs.rmSync(work, { recursive: true, force: true });
  // Pictures are kept only where asked for (WEFT_SCREENSHOTS), or when a test failed.
  if (!process.env.WEFT_SCREENSHOTS && !fs.readdirSync(SHOTS).some((f) => f.startsWith('failed-'))) fs.rmSync(SHOTS, { recursive: true, force: true });
});

async function open(route: string): Promise<void> {
  await page.goto(`${harness!.url}${route}`);
  await page.waitForFunction(() => (window as unknown as { __harnessReady?: boolean; __harnessError?: string }).__harnessReady || (window as unknown as { __harnessError?: string }).__harnessError);
  expect(await page.evaluate(() => (window as unknown as { __harnessError?: string }).__harnessError ?? null)).toBeNull();
}

describe('the built plugin in Chromium against weft serve', { timeout: 150_000 }, () => {
  test('Sessions: search results with verdict badges; filters in the URL narrow them', async () => {
    await open(`/a/weft-sessions-app/sessions?${RANGE}`);
    await page.getByRole('columnheader', { name: 'Verdict' }).waitFor();
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(50);
    await shot('sessions');

    await open(`/a/weft-sessions-app/sessions?${RANGE}&severity=critical`);
    await page.getByRole('columnheader', { name: 'Verdict' }).waitFor();
    const stored = await api<{ sessions: Array<{ severity: string }> }>('GET', `/api/sessions?${RANGE}&severity=critical&limit=50`);
    expect(stored.sessions.length).toBeGreaterThan(0);
    expect(await page.locator('tbody tr').count()).toBe(stored.sessions.length);
  });

  test('Session: a critical session with its verdict, trace, behaviour tree and records', async () => {
    const { sessions } = await api<{ sessions: Array<{ id: string; verdict: string; explain: string }> }>('GET', `/api/sessions?${RANGE}&severity=critical&limit=20`);
    const session = sessions[0]!;
    await open(`/a/weft-sessions-app/session/${encodeURIComponent(session.id)}`);
    await page.getByText(`Verdict: ${session.verdict}`).waitFor();
    await page.getByTestId('trace-stand-in').waitFor();
    expect(await page.locator('[data-state="present"]').count()).toBeGreaterThan(0);
    await page.getByRole('region', { name: 'Raw records' }).getByText(/ · /).first().click();
    await page.getByRole('region', { name: 'Raw records' }).locator('pre').first().waitFor();
    await shot('session', true);
  });

  test('Overview: totals, a verdict chart per template, anomalous values, health', async () => {
    await open(`/a/weft-sessions-app/overview?${RANGE}`);
    await page.getByRole('list', { name: 'Totals' }).waitFor();
    await page.getByTestId('weft-chart-payment').locator('canvas').first().waitFor();
    const total = (await api<{ rows: Array<{ count: number }> }>('GET', `/api/stats?${RANGE}&bucket=1h`)).rows.reduce((a, r) => a + r.count, 0);
    await expectText(page.getByRole('listitem', { name: 'Sessions' }), total.toLocaleString('en-US'));
    await page.getByText('Correlator ready').waitFor();
    await shot('overview', true);
  });

  test('Templates: the stored template, a validation error at its line, and a live preview', async () => {
    await open('/a/weft-sessions-app/templates');
    await page.getByRole('link', { name: 'payment' }).click();
    const editor = page.getByLabel('Template YAML');
    await editor.waitFor();
    await page.getByText('valid', { exact: true }).waitFor();
    const text = await editor.inputValue();
    const broken = text.replace("when: 'r.action == \"create_order\"'", "when: 'r.action == '");
    expect(broken).not.toBe(text);
    await editor.fill(broken);
    const line = text.split('\n').findIndex((l) => l.includes('r.action == "create_order"')) + 1;
    await page.locator(`[data-line="${line}"][data-error="true"]`).waitFor();
    await page.getByRole('button', { name: `Line ${line}` }).waitFor();
    await editor.fill(text);
    await page.getByText('valid', { exact: true }).waitFor();

    const { sessions } = await api<{ sessions: Array<{ id: string }> }>('GET', `/api/sessions?${RANGE}&severity=critical&limit=1`);
    const detail = await api<{ events: Array<{ source: string; value: unknown }> }>('GET', `/api/sessions/${encodeURIComponent(sessions[0]!.id)}`);
    await page.getByLabel('Sample records').fill(detail.events.map((e) => JSON.stringify({ source: e.source, value: e.value })).join('\n'));
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('list', { name: 'Behaviour tree' }).waitFor();
    await editor.fill(broken);
    await page.getByRole('button', { name: `Line ${line}` }).click();
    await shot('templates');
  });

  test('Configuration: the connection test goes through the proxy route to the correlator', async () => {
    await open('/plugins/weft-sessions-app');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Connected', { exact: true }).waitFor();
    await shot('config');
  });

  test('no errors in the page', () => {
    expect(problems).toEqual([]);
  });
});

async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  await expect.poll(async () => (await locator.textContent()) ?? '', { timeout: 60_000 }).toContain(text);
}
