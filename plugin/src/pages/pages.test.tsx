import type { AppPluginMeta } from '@grafana/data';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import AppConfig from '../components/AppConfig/AppConfig';
import type { AppSettings } from '../constants';
import { STATS, summary, T0 } from '../test/fixtures';
import { fakeBackend, pending, routes } from '../test/grafana';
import { META, renderApp } from '../test/render';

const RANGE = `from=${T0}&to=${T0 + 10 * 60_000}`;
const METRICS = [
  'weft_consumer_lag{topic="billing-log",partition="0"} 120',
  'weft_consumer_lag{topic="billing-log",partition="1"} 5',
  'weft_watermark_lag_seconds{template="payment",source="channel"} 42.5',
  'weft_open_sessions{template="payment"} 17',
  'weft_late_reapplied_total{template="payment"} 9',
  'weft_late_dropped_total{template="payment"} 1',
].join('\n');

describe('Overview page', () => {
  const common = {
    'GET /api/templates': { body: { templates: [{ id: 'payment', revision: 1, updatedAt: T0 }] } },
    'GET /readyz': { body: { ready: true } },
  };

  test('loading', async () => {
    fakeBackend(routes({ ...common, 'GET /api/stats': pending, 'GET /api/sessions': pending, 'GET /api/orphans': pending, 'GET /metrics': pending }));
    renderApp(`overview?${RANGE}`);
    expect(await screen.findByText('Loading stats…')).toBeInTheDocument();
  });

  test('error: the token is refused, and the user is told where to set it', async () => {
    fakeBackend(routes({ ...common, 'GET /api/stats': { status: 401, body: { error: 'unauthorized', message: 'wrong bearer token' } }, 'GET /api/sessions': { body: { sessions: [], cursor: null } }, 'GET /api/orphans': { body: { orphans: [], cursor: null } } }));
    renderApp(`overview?${RANGE}`);
    expect(await screen.findByText('Correlator refused the token')).toBeInTheDocument();
    expect(screen.getByText(/set the token on the Configuration page/)).toBeInTheDocument();
  });

  test('empty: no sessions in range; health says metrics come from weft run', async () => {
    fakeBackend(routes({ ...common, 'GET /api/stats': { body: { bucket: '1m', rows: [] } }, 'GET /api/sessions': { body: { sessions: [], cursor: null } }, 'GET /api/orphans': { body: { orphans: [], cursor: null } } }));
    renderApp(`overview?${RANGE}`);
    expect(await screen.findByText('No sessions in this time range.')).toBeInTheDocument();
    expect(await screen.findByText('Correlator ready')).toBeInTheDocument();
    expect(screen.getByText(/No \/metrics on this correlator/)).toBeInTheDocument();
  });

  test('data: totals, critical share, orphans, splits, late counts, one chart per template, anomalous values, health from /metrics', async () => {
    const anomalous = [
      summary({ id: 'a1', fields: { channel: 'alipay', trans_id: 'T-1' } }),
      summary({ id: 'a2', fields: { channel: 'alipay', trans_id: 'T-2' } }),
      summary({ id: 'a3', fields: { channel: 'alipay', trans_id: 'T-3' } }),
      summary({ id: 'a4', fields: { channel: 'wechat', trans_id: 'T-4' } }),
      summary({ id: 'a5', fields: { channel: 'wechat', trans_id: 'T-5' } }),
      summary({ id: 'a6', fields: { channel: 'card', trans_id: 'T-6' } }),
    ];
    // All sessions: alipay 4 of 12, wechat 6 of 12 → among the bad ones alipay is over-represented (3 of 6).
    const baseline = [
      ...anomalous,
      ...['wechat', 'wechat', 'wechat', 'wechat', 'alipay', 'card'].map((channel, i) => summary({ id: `g${i}`, severity: 'ok', fields: { channel, trans_id: `T-g${i}` } })),
    ];
    const { requests } = fakeBackend(
      routes({
        ...common,
        'GET /api/stats': { body: { bucket: '1m', rows: [...STATS, { time: T0, template: 'refund', verdict: 'ok', severity: 'ok', count: 5 }] } },
        'GET /api/sessions': (r) => ({
          body: r.params.getAll('severity').length > 0 ? { sessions: anomalous, cursor: null } : { sessions: [...baseline, summary({ id: 'split', splitOf: 'x', fields: {} })], cursor: 'more' },
        }),
        'GET /api/orphans': { body: { orphans: [{ id: 'o', template: 'payment', step: 'channel_callback', source: 'channel', time: T0, value: {}, reason: 'no_session' }], cursor: null } },
        'GET /metrics': { body: METRICS },
      }),
    );
    renderApp(`overview?${RANGE}`);
    const totals = await screen.findByRole('list', { name: 'Totals' });
    const stat = (name: string) => within(totals).getByRole('listitem', { name });
    expect(stat('Sessions')).toHaveTextContent('83');
    expect(stat('Critical share')).toHaveTextContent('3.6 %');
    expect(stat('Orphans')).toHaveTextContent('1');
    expect(stat('Suspected splits')).toHaveTextContent('1');
    expect(await within(totals).findByText('9')).toBeInTheDocument();
    expect(stat('Late dropped')).toHaveTextContent('1');
    expect(screen.getByTestId('weft-chart-payment')).toBeInTheDocument();
    expect(screen.getByTestId('weft-chart-refund')).toBeInTheDocument();

    const top = screen.getByRole('region', { name: 'Top anomalous field values' });
    const rows = within(top).getAllByRole('row').slice(1).map((r) => within(r).getAllByRole('cell').map((c) => c.textContent));
    // trans_id is an identifier (one value per session): left out; card appears once among the bad: left out.
    // alipay: 3/6 = 50 % of the bad vs 4/13 = 31 % of all → ×1.6; wechat: 2/6 = 33 % vs 6/13 = 46 % → ×0.7.
    expect(rows).toEqual([
      ['channel', 'alipay', '3', '50 %', '31 %', '×1.6'],
      ['channel', 'wechat', '2', '33 %', '46 %', '×0.7'],
    ]);

    const health = screen.getByRole('region', { name: 'Correlator health' });
    expect(await within(health).findByText('125 msgs')).toBeInTheDocument();
    expect(within(health).getByText('42.5 s')).toBeInTheDocument();
    expect(within(health).getByText('17')).toBeInTheDocument();
    const stats = requests.find((r) => r.path === '/api/stats')!;
    expect(stats.params.get('bucket')).toBe('1m');
    expect(stats.params.get('from')).toBe(String(T0));
  });

  test('the correlator down: error with what to do', async () => {
    fakeBackend(() => ({ status: 502, body: { message: 'Bad Gateway' } }));
    renderApp(`overview?${RANGE}`);
    expect((await screen.findAllByText('Correlator unreachable')).length).toBeGreaterThan(0);
  });
});

const TEMPLATE = ['id: payment', 'title: In-app purchase', 'sources:', '  billing: { topic: billing-log, time: ts }', 'steps:', '  order_placed: { source: billing, when: "r.action ==", anchor: r.order_id }', ''].join('\n');

describe('Templates page', () => {
  test('list: loading, error, empty, data', async () => {
    fakeBackend(routes({ 'GET /api/templates': pending }));
    const first = renderApp('templates');
    expect(await screen.findByText('Loading templates…')).toBeInTheDocument();
    first.unmount();

    fakeBackend(routes({ 'GET /api/templates': { status: 504, body: {} } }));
    const second = renderApp('templates');
    expect(await screen.findByText('Correlator unreachable')).toBeInTheDocument();
    second.unmount();

    fakeBackend(routes({ 'GET /api/templates': { body: { templates: [] } } }));
    const third = renderApp('templates');
    expect(await screen.findByText('No templates stored in the correlator yet.')).toBeInTheDocument();
    third.unmount();

    fakeBackend(routes({ 'GET /api/templates': { body: { templates: [{ id: 'payment', revision: 3, updatedAt: T0 }] } } }));
    renderApp('templates');
    const link = await screen.findByRole('link', { name: 'payment' });
    expect(link).toHaveAttribute('href', '/a/weft-sessions-app/templates/payment');
    expect(screen.getByText('3')).toBeInTheDocument();
  });

  test('editor: validation errors are shown at their line, and saving is blocked until they are fixed', async () => {
    const { requests } = fakeBackend(
      routes({
        'GET /api/templates/payment': { body: { id: 'payment', text: TEMPLATE, revision: 3, updatedAt: T0 } },
        'POST /api/templates/validate': (r) => {
          const text = (r.data as { text: string }).text;
          return text.includes('"r.action =="')
            ? { body: { valid: false, issues: [{ file: 'template.yaml', path: 'steps.order_placed.when', line: 6, message: 'CEL syntax error: unexpected end of input' }] } }
            : { body: { valid: true, issues: [], tree: [] } };
        },
        'PUT /api/templates/payment': { body: { id: 'payment', revision: 4, updatedAt: T0 + 1 } },
        'GET /api/sessions': { body: { sessions: [], cursor: null } },
      }),
    );
    renderApp('templates/payment');
    const editor = await screen.findByLabelText('Template YAML');
    expect(await screen.findByText('1 problem')).toBeInTheDocument();
    const line6 = document.querySelector('[data-line="6"]')!;
    expect(line6).toHaveAttribute('data-error', 'true');
    expect(document.querySelector('[data-line="5"]')).not.toHaveAttribute('data-error');
    const problems = screen.getByRole('list', { name: 'Template problems' });
    expect(within(problems).getByRole('button', { name: 'Line 6' })).toBeInTheDocument();
    expect(within(problems).getByText('steps.order_placed.when')).toBeInTheDocument();
    expect(within(problems).getByText('CEL syntax error: unexpected end of input')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /save/i })).toBeDisabled();

    // Jumping to the line selects it in the editor.
    await userEvent.click(within(problems).getByRole('button', { name: 'Line 6' }));
    const textarea = editor as HTMLTextAreaElement;
    expect(textarea.value.slice(textarea.selectionStart, textarea.selectionEnd)).toBe('  order_placed: { source: billing, when: "r.action ==", anchor: r.order_id }');

    await userEvent.clear(editor);
    await userEvent.type(editor, 'id: payment{enter}title: fixed');
    expect(await screen.findByText('valid')).toBeInTheDocument();
    expect(document.querySelector('[data-error]')).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: /save/i }));
    expect(await screen.findByText('Saved payment, revision 4')).toBeInTheDocument();
    expect(requests.find((r) => r.method === 'PUT')!.data).toEqual({ text: 'id: payment\ntitle: fixed' });
  });

  test('live preview: pasted records → sessions and their behaviour tree; bad lines are pointed out', async () => {
    const { requests } = fakeBackend(
      routes({
        'GET /api/templates/payment': { body: { id: 'payment', text: TEMPLATE, revision: 3, updatedAt: T0 } },
        'POST /api/templates/validate': { body: { valid: true, issues: [] } },
        'GET /api/sessions': { body: { sessions: [], cursor: null } },
        'POST /api/templates/preview': {
          body: {
            tree: [
              { step: 'order_placed', source: 'billing', parent: null },
              { step: 'delivered', source: 'game', parent: 'order_placed' },
            ],
            sessions: [{ id: 'payment:o-9:1', template: 'payment', key: 'o-9', start: T0, end: T0, status: 'final', verdict: 'not_delivered', severity: 'warning', explain: 'paid, never delivered', fields: { amount: 5 }, events: [{ step: 'order_placed', source: 'billing', time: T0, value: {} }] }],
            orphans: [],
            errors: [{ record: 2, reason: 'no parsable time' }],
          },
        },
      }),
    );
    renderApp('templates/payment');
    const records = await screen.findByLabelText('Sample records');
    await userEvent.click(records);
    await userEvent.paste('{"source": "billing", "value": {"action": "create_order"}}\nnot json');
    expect(await screen.findByText(/line 2: not JSON/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /preview/i })).toBeDisabled();

    await userEvent.clear(records);
    await userEvent.click(records);
    await userEvent.paste('{"source": "billing", "value": {"action": "create_order", "order_id": "o-9"}}\n{"source": "billing", "value": {}}');
    await userEvent.click(screen.getByRole('button', { name: /preview/i }));
    expect(await screen.findByText('not_delivered')).toBeInTheDocument();
    expect(screen.getByText('paid, never delivered')).toBeInTheDocument();
    const tree = screen.getByRole('list', { name: 'Behaviour tree' });
    expect(tree.querySelector('[data-step="order_placed"]')).toHaveAttribute('data-state', 'present');
    expect(tree.querySelector('[data-step="order_placed"] [data-step="delivered"]')).toHaveAttribute('data-state', 'absent');
    expect(screen.getByText(/record 2: no parsable time/)).toBeInTheDocument();
    const sent = requests.find((r) => r.path === '/api/templates/preview')!.data as { template: string; records: unknown[] };
    expect(sent.template).toBe(TEMPLATE);
    expect(sent.records).toEqual([
      { source: 'billing', value: { action: 'create_order', order_id: 'o-9' } },
      { source: 'billing', value: {} },
    ]);
  });
});

describe('App configuration', () => {
  const plugin = { meta: { ...META, jsonData: {}, secureJsonFields: {} } } as unknown as { meta: AppPluginMeta<AppSettings> };

  test('save stores the URL in jsonData and the token in secureJsonData, then tests the connection through the proxy', async () => {
    const { requests } = fakeBackend(
      routes({
        'POST /api/plugins/weft-sessions-app/settings': { body: {} },
        'GET /readyz': { body: { ready: true } },
        'GET /api/sessions': { body: { sessions: [], cursor: null } },
      }),
    );
    render(<AppConfig plugin={plugin as never} query={{}} />);
    await userEvent.type(screen.getByTestId('weft-config-url'), 'http://weft:8787/');
    await userEvent.type(screen.getByTestId('weft-config-token'), 's3cret');
    await userEvent.click(screen.getByRole('button', { name: /save & test/i }));
    expect(await screen.findByText('Connected')).toBeInTheDocument();
    const save = requests.find((r) => r.url === '/api/plugins/weft-sessions-app/settings')!;
    expect(save.data).toMatchObject({ enabled: true, jsonData: { url: 'http://weft:8787' }, secureJsonData: { token: 's3cret' } });
    expect(requests.filter((r) => r.url.startsWith('/api/plugin-proxy/weft-sessions-app/weft/')).map((r) => r.path)).toEqual(['/readyz', '/api/sessions']);
  });

  test('a refused token and an unreachable correlator are told apart', async () => {
    fakeBackend(routes({ 'GET /readyz': { body: { ready: true } }, 'GET /api/sessions': { status: 401, body: { message: 'wrong bearer token' } } }));
    render(<AppConfig plugin={plugin as never} query={{}} />);
    await userEvent.click(screen.getByRole('button', { name: /test connection/i }));
    expect(await screen.findByText('Connection failed (unauthorized)')).toBeInTheDocument();

    fakeBackend(() => ({ status: 502, body: { message: 'Bad Gateway' } }));
    await userEvent.click(screen.getByRole('button', { name: /test connection/i }));
    await waitFor(() => expect(screen.getByText('Connection failed (unreachable)')).toBeInTheDocument());
  });

  test('an invalid URL is pointed out and cannot be saved', async () => {
    fakeBackend(routes({}));
    render(<AppConfig plugin={plugin as never} query={{}} />);
    await userEvent.type(screen.getByTestId('weft-config-url'), 'weft:8787');
    expect(screen.getByText(/Give an http:\/\/ or https:\/\/ URL/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /save & test/i })).toBeDisabled();
  });

  test('an app without a correlator URL sends the user to the configuration', async () => {
    fakeBackend(routes({}));
    renderApp('sessions', { ...META, jsonData: {} } as AppPluginMeta<AppSettings>);
    expect(screen.getByText('Weft is not connected to a correlator yet')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: /open the configuration/i })).toHaveAttribute('href', '/plugins/weft-sessions-app');
  });
});
