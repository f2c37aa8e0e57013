import type { PanelRendererProps } from '@grafana/runtime';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test, vi } from 'vitest';
import { detail, summary, T0, TRACE } from '../test/fixtures';
import { fakeBackend, pending, routes } from '../test/grafana';
import { location, renderApp } from '../test/render';

// Grafana's panel renderer (the trace view) exists only inside Grafana: record what the page hands it.
vi.mock('@grafana/runtime', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@grafana/runtime')>()),
  PanelRenderer: ({ pluginId, data }: PanelRendererProps) => (
    <div data-testid="panel-renderer" data-plugin={pluginId} data-rows={data?.series[0]?.length} data-vis={data?.series[0]?.meta?.preferredVisualisationType} />
  ),
}));

const SEARCH = 'sessions?template=payment&verdict=paid_no_callback&severity=critical&q=amount%20%3E%20100&from=1736935200000&to=1736938800000';

describe('Sessions page', () => {
  test('loading', async () => {
    fakeBackend(routes({ 'GET /api/sessions': pending, 'GET /api/templates': { body: { templates: [] } }, 'GET /api/stats': { body: { rows: [] } } }));
    renderApp('sessions');
    expect(await screen.findByText('Searching sessions…')).toBeInTheDocument();
  });

  test('error: the correlator is down, and the user is told what to do', async () => {
    fakeBackend(routes({ 'GET /api/sessions': { status: 502, body: { message: 'Bad Gateway' } }, 'GET /api/templates': { body: { templates: [] } }, 'GET /api/stats': { body: { rows: [] } } }));
    renderApp('sessions');
    expect(await screen.findByText('Correlator unreachable')).toBeInTheDocument();
    expect(screen.getByText(/check that `weft serve` or `weft run` is running/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /retry/i })).toBeInTheDocument();
  });

  test('empty', async () => {
    fakeBackend(routes({ 'GET /api/sessions': { body: { sessions: [], cursor: null } }, 'GET /api/templates': { body: { templates: [] } }, 'GET /api/stats': { body: { rows: [] } } }));
    renderApp('sessions');
    expect(await screen.findByText('No sessions match these filters in this time range.')).toBeInTheDocument();
  });

  test('data: filters from the URL go to the API; verdict badges; rows link to the session', async () => {
    const { requests } = fakeBackend(
      routes({
        'GET /api/sessions': {
          body: {
            sessions: [summary(), summary({ id: 'payment:o-2:1', key: 'o-2', start: T0 + 1000, verdict: 'ok', severity: 'ok', fields: { amount: 300 } })],
            cursor: 'next-page',
          },
        },
        'GET /api/templates': { body: { templates: [{ id: 'payment', text: '', revision: 1, updatedAt: T0 }] } },
        'GET /api/stats': { body: { rows: [] } },
      }),
    );
    renderApp(SEARCH);
    expect(await screen.findByText('o-2')).toBeInTheDocument();
    const search = requests.find((r) => r.path === '/api/sessions')!;
    expect(search.params.get('template')).toBe('payment');
    expect(search.params.getAll('verdict')).toEqual(['paid_no_callback']);
    expect(search.params.getAll('severity')).toEqual(['critical']);
    expect(search.params.get('f.amount.gt')).toBe('100');
    expect(search.params.get('from')).toBe('1736935200000');
    expect(search.params.get('to')).toBe('1736938800000');
    expect(search.params.get('limit')).toBe('50');

    const rows = screen.getAllByRole('row');
    const first = rows.find((r) => within(r).queryByText('o-1'))!;
    expect(within(first).getByText('paid_no_callback')).toBeInTheDocument();
    expect(within(first).getByRole('link').getAttribute('href')).toBe('/a/weft-sessions-app/session/payment%3Ao-1%3A1');
    expect(screen.getByDisplayValue('amount > 100')).toBeInTheDocument();
  });

  test('sorting by a column and paging to older sessions keep their state in the URL', async () => {
    const { requests } = fakeBackend(
      routes({
        'GET /api/sessions': (r) => ({
          body: r.params.get('cursor')
            ? { sessions: [summary({ id: 'old', key: 'o-0' })], cursor: null }
            : { sessions: [summary({ key: 'b-key' }), summary({ id: 'x2', key: 'a-key' })], cursor: 'c1' },
        }),
        'GET /api/templates': { body: { templates: [] } },
        'GET /api/stats': { body: { rows: [] } },
      }),
    );
    renderApp('sessions');
    await screen.findByText('b-key');
    await userEvent.click(screen.getByText('Anchor key'));
    await waitFor(() => expect(location.current).toMatch(/sort=key%3Aasc/));
    const keys = screen.getAllByRole('row').slice(1).map((r) => within(r).queryByText(/-key$/)?.textContent);
    expect(keys).toEqual(['a-key', 'b-key']);

    await userEvent.click(screen.getByRole('button', { name: /older/i }));
    expect(await screen.findByText('o-0')).toBeInTheDocument();
    expect(requests.filter((r) => r.path === '/api/sessions').at(-1)!.params.get('cursor')).toBe('c1');
    expect(location.current).toMatch(/cursor=c1/);
  });

  test('a malformed field condition is shown at the input and not sent', async () => {
    const { requests } = fakeBackend(routes({ 'GET /api/sessions': { body: { sessions: [], cursor: null } }, 'GET /api/templates': { body: { templates: [] } }, 'GET /api/stats': { body: { rows: [] } } }));
    renderApp('sessions');
    await screen.findByText('No sessions match these filters in this time range.');
    await userEvent.type(screen.getByLabelText('Field conditions'), 'amount >> 3');
    expect(await screen.findByText(/"amount >> 3" is not <field> <op> <value>/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /search/i })).toBeDisabled();
    expect(requests.filter((r) => r.path === '/api/sessions')).toHaveLength(1);
  });
});

describe('Session page', () => {
  const base = {
    'GET /api/sessions/payment:o-1:1/trace': { body: TRACE },
  };

  test('loading', async () => {
    fakeBackend(routes({ 'GET /api/sessions/payment:o-1:1': pending, ...base }));
    renderApp('session/payment%3Ao-1%3A1');
    expect(await screen.findByText('Loading the session…')).toBeInTheDocument();
  });

  test('error: unknown session', async () => {
    fakeBackend(routes({ 'GET /api/sessions/nope': { status: 404, body: { error: 'not_found', message: 'no session nope' } } }));
    renderApp('session/nope');
    expect(await screen.findByText('Not found')).toBeInTheDocument();
    expect(screen.getByText('no session nope')).toBeInTheDocument();
  });

  test('data: verdict with explanation, trace view fed the trace frame, behaviour tree with the missing step, fields, raw records, versions', async () => {
    fakeBackend(
      routes({
        'GET /api/sessions/payment:o-1:1': {
          body: detail({
            history: [
              { version: 3, verdict: 'paid_no_callback', severity: 'critical', status: 'final', eventCount: 4, start: T0, end: T0 + 90_000, writtenAt: Date.UTC(2025, 0, 15, 11, 0, 0) },
              { version: 1, verdict: null, severity: null, status: 'open', eventCount: 2, start: T0, end: T0 + 5_000, writtenAt: Date.UTC(2025, 0, 15, 10, 1, 0) },
            ],
          }),
        },
        ...base,
      }),
    );
    renderApp('session/payment%3Ao-1%3A1');
    expect(await screen.findByText('Verdict: paid_no_callback')).toBeInTheDocument();
    expect(screen.getByTestId('weft-verdict')).toHaveTextContent('paid but the channel never called back');

    const panel = screen.getByTestId('panel-renderer');
    expect(panel).toHaveAttribute('data-plugin', 'traces');
    expect(panel).toHaveAttribute('data-rows', '3');
    expect(panel).toHaveAttribute('data-vis', 'trace');

    const tree = screen.getByRole('list', { name: 'Behaviour tree' });
    expect(tree.querySelector('[data-step="channel_callback"]')).toHaveAttribute('data-state', 'missing');
    expect(tree.querySelector('[data-step="order_placed"]')).toHaveAttribute('data-state', 'present');
    // The tree follows the trace: pay_ui_opened hangs under order_placed.
    expect(tree.querySelector('[data-step="order_placed"] [data-step="pay_ui_opened"]')).not.toBeNull();
    expect(screen.getByText(/Missing expected step: channel_callback/)).toBeInTheDocument();

    const fields = screen.getByRole('region', { name: 'Fields' });
    expect(within(fields).getByText('trans_id')).toBeInTheDocument();
    expect(within(fields).getByText('120.5')).toBeInTheDocument();

    const records = screen.getByRole('region', { name: 'Raw records' });
    expect(within(records).getByText(/order_placed · billing/)).toBeInTheDocument();
    expect(within(records).queryByText(/"create_order"/)).toBeNull();
    await userEvent.click(within(records).getByText(/order_placed · billing/));
    expect(within(records).getByText(/"create_order"/)).toBeInTheDocument();

    const versions = screen.getByRole('region', { name: 'Version history' });
    expect(within(versions).getByText('pending')).toBeInTheDocument();
    expect(within(versions).getAllByRole('row')).toHaveLength(3);
    expect(within(versions).getByText('open')).toBeInTheDocument();
  });

  test('the stored template\'s tree places missing steps at their parent', async () => {
    const tree = [
      { step: 'order_placed', source: 'billing', parent: null },
      { step: 'pay_ui_opened', source: 'client', parent: 'order_placed' },
      { step: 'receipt_uploaded', source: 'client', parent: 'pay_ui_opened' },
      { step: 'channel_callback', source: 'channel', parent: 'receipt_uploaded' },
      { step: 'payment_completed', source: 'billing', parent: 'receipt_uploaded' },
    ];
    const { requests } = fakeBackend(
      routes({
        'GET /api/sessions/payment:o-1:1': { body: detail() },
        'GET /api/templates/payment': { body: { id: 'payment', text: 'id: payment # …', revision: 4, updatedAt: T0 } },
        'POST /api/templates/validate': { body: { valid: true, issues: [], tree } },
        ...base,
      }),
    );
    renderApp('session/payment%3Ao-1%3A1');
    const list = await screen.findByRole('list', { name: 'Behaviour tree' });
    expect(list.querySelector('[data-step="receipt_uploaded"] [data-step="channel_callback"]')).toHaveAttribute('data-state', 'missing');
    expect(requests.find((r) => r.path === '/api/templates/validate')!.data).toEqual({ text: 'id: payment # …' });
  });

  test('suspected split: merge calls the API and reloads; a failure is shown', async () => {
    let merged = false;
    const { requests } = fakeBackend(
      routes({
        'GET /api/sessions/payment:o-1:2': () => ({
          body: merged ? detail({ id: 'payment:o-1:2', splitOf: 'payment:o-1:1', status: 'merged', mergedInto: 'payment:o-1:1' }) : detail({ id: 'payment:o-1:2', splitOf: 'payment:o-1:1' }),
        }),
        'GET /api/sessions/payment:o-1:2/trace': { body: TRACE },
        'POST /api/sessions/payment:o-1:1/merge': () => {
          merged = true;
          return { body: { ok: true } };
        },
        'POST /api/sessions/payment:o-1:1/unmerge': { status: 409, body: { error: 'conflict', message: 'session payment:o-1:1 has no operator merge to undo' } },
      }),
    );
    renderApp('session/payment%3Ao-1%3A2');
    const split = await screen.findByTestId('weft-split');
    await userEvent.click(within(split).getByRole('button', { name: 'Merge into it' }));
    await userEvent.click(within(split).getByRole('button', { name: 'Merge' }));
    await waitFor(() => expect(requests.some((r) => r.method === 'POST' && r.path === '/api/sessions/payment:o-1:1/merge')).toBe(true));
    expect(requests.find((r) => r.method === 'POST')!.data).toEqual({ with: 'payment:o-1:2' });
    const after = await screen.findByText(/Merged into/);
    await userEvent.click(within(after.parentElement!).getByRole('button', { name: 'Unmerge' }));
    await userEvent.click(within(after.parentElement!).getByRole('button', { name: 'Unmerge' }));
    expect(await screen.findByText('The correlator refused the change')).toBeInTheDocument();
    expect(screen.getByText('session payment:o-1:1 has no operator merge to undo')).toBeInTheDocument();
  });

  test('suspected split still open: no merge button, the reason instead', async () => {
    fakeBackend(
      routes({
        'GET /api/sessions/payment:o-1:2': { body: detail({ id: 'payment:o-1:2', splitOf: 'payment:o-1:1', status: 'open' }) },
        'GET /api/sessions/payment:o-1:2/trace': { body: TRACE },
      }),
    );
    renderApp('session/payment%3Ao-1%3A2');
    const split = await screen.findByTestId('weft-split');
    expect(within(split).getByTestId('weft-merge-later')).toHaveTextContent('once its window has closed');
    expect(within(split).queryByRole('button', { name: 'Merge into it' })).toBeNull();
  });
});
