import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseTemplate, TemplateError, type TemplateIssue } from '../src/template/index.js';

const MINI = readFileSync(new URL('./fixtures/mini.yaml', import.meta.url), 'utf8');
const mini = () => JSON.parse(JSON.stringify(parseTemplate(MINI, 'mini.yaml').document)) as Record<string, any>;

function issuesOf(doc: unknown, file = 'bad.yaml'): TemplateIssue[] {
  try {
    parseTemplate(typeof doc === 'string' ? doc : JSON.stringify(doc), file);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return [...(error as TemplateError).issues];
  }
  throw new Error('template was accepted');
}

function expectIssue(doc: unknown, path: string, message: RegExp): void {
  const issues = issuesOf(doc);
  expect(issues, JSON.stringify(issues)).toContainEqual(expect.objectContaining({ file: 'bad.yaml', path, message: expect.stringMatching(message) }));
}

describe('template loading', () => {
  it('accepts the contract example and compiles every part', () => {
    const t = parseTemplate(MINI, 'mini.yaml');
    expect(t.id).toBe('mini');
    expect(t.steps.map((s) => `${s.name}:${s.kind}`)).toEqual([
      'order_placed:anchor', 'pay_ui_opened:anchor', 'receipt_uploaded:anchor', 'payment_completed:anchor', 'channel_callback:supplement',
    ]);
    expect(t.sources.get('client')).toMatchObject({ time: '@timestamp', disorderMs: 30_000, topic: 'client-log' });
    expect(t.session).toMatchObject({ gapMs: 900_000, maxSpanMs: 7_200_000, idleFireMs: 30_000, latenessMs: 86_400_000, splitWithinMs: 7_200_000 });
    expect(t.session.complete).toEqual([0, 1, 2, 3, 4]);
    const join = t.steps[4]!;
    expect(join.kind === 'supplement' && [join.join.lowMs, join.join.highMs]).toEqual([-300_000, 1_800_000]);
    expect(t.joinFields.map((f) => f.name)).toEqual(['trans_id']);
    expect(t.treeParent.get('payment_completed')).toBe('receipt_uploaded');
    expect(t.treeParent.get('order_placed')).toBeNull();
    expect(t.verdicts.map((v) => v.id)).toEqual(['paid_no_callback', 'ok']);
  });

  it('accepts JSON as well as YAML', () => {
    expect(parseTemplate(JSON.stringify(mini()), 'mini.json').id).toBe('mini');
  });

  it('orders fields so dependencies come first', () => {
    const doc = mini();
    doc.fields = { big: 'fields.amount > 100.0', amount: 'double(first.order_placed.amount)', trans_id: 'first.receipt_uploaded.trans_id' };
    expect(parseTemplate(JSON.stringify(doc)).fields.map((f) => f.name)).toEqual(['amount', 'big', 'trans_id']);
  });

  it('reports a YAML syntax error with its line', () => {
    const issues = issuesOf('id: x\nsources: {}\nid: y\n');
    expect(issues[0]).toMatchObject({ line: 3, message: expect.stringMatching(/unique/) });
  });

  it('reports a YAML alias bomb (anchors of anchors) as an issue of the file, without expanding it', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
    expect(issuesOf(levels.join('\n'))).toEqual([expect.objectContaining({ file: 'bad.yaml', path: '', message: expect.stringMatching(/alias/i) })]);
  });

  it('gives the line of each problem in YAML', () => {
    const issues = issuesOf(MINI.replace("disorder: 30s", "disorder: 30 s"));
    expect(issues).toEqual([expect.objectContaining({ path: 'sources.client.disorder', line: 5 })]);
  });

  it('names the file, the path and the reason for a bad duration', () => {
    const doc = mini();
    doc.steps.channel_callback.join.within = ['-5m', '30 minutes'];
    expectIssue(doc, 'steps.channel_callback.join.within.1', /not a duration/);
  });

  it('rejects a join window whose bounds are reversed', () => {
    const doc = mini();
    doc.steps.channel_callback.join.within = ['30m', '-5m'];
    expectIssue(doc, 'steps.channel_callback.join.within', /after upper bound/);
  });

  it('rejects unknown sources, steps and fields', () => {
    const doc = mini();
    doc.steps.order_placed.source = 'bllling';
    doc.session.complete = ['order_placed', 'delivered'];
    doc.fields.late = 'first.delivered.at';
    doc.fields.x = 'fields.nope + 1';
    doc.steps.channel_callback.join.field = 'trans';
    doc.tree = { order_placed: { shipped: {} } };
    const issues = issuesOf(doc);
    const at = (path: string) => issues.filter((i) => i.path === path).map((i) => i.message).join('; ');
    expect(at('steps.order_placed.source')).toMatch(/unknown source "bllling"/);
    expect(at('session.complete.1')).toMatch(/unknown step "delivered"/);
    expect(at('fields.late')).toMatch(/unknown step "delivered"/);
    expect(at('fields.x')).toMatch(/unknown field "nope"/);
    expect(at('steps.channel_callback.join.field')).toMatch(/unknown field "trans"/);
    expect(at('tree.order_placed.shipped')).toMatch(/unknown step "shipped"/);
  });

  it('rejects cycles in fields', () => {
    const doc = mini();
    doc.fields = { a: 'fields.b + 1', b: 'fields.c + 1', c: 'fields.a + 1' };
    expectIssue(doc, 'fields.a', /cycle in fields: a -> b -> c -> a/);
  });

  it('rejects CEL that does not parse or type-check, at load', () => {
    const doc = mini();
    doc.steps.order_placed.when = 'r.action ==';
    doc.fields.amount = 'nosuchfn(first.order_placed.amount)';
    doc.verdicts[0].when = 'r.status == "x"';
    doc.verdicts[0].explain = 'paid {{ fields.amount + }}';
    const issues = issuesOf(doc);
    const at = (path: string) => issues.filter((i) => i.path === path).map((i) => i.message).join('; ');
    expect(at('steps.order_placed.when')).toMatch(/CEL does not compile/);
    expect(at('fields.amount')).toMatch(/CEL does not compile.*nosuchfn/);
    expect(at('verdicts.0.when')).toMatch(/CEL does not compile.*Unknown variable: r/);
    expect(at('verdicts.0.explain')).toMatch(/CEL does not compile/);
  });

  it('rejects a step with both or neither of anchor and join', () => {
    const doc = mini();
    doc.steps.order_placed.join = { field: 'trans_id', key: 'r.x', within: ['0s', '1m'] };
    expectIssue(doc, 'steps.order_placed', /exactly one of `anchor`/);
  });

  it('rejects misspelt keys, bad ids, bad severities and missing sections', () => {
    const doc = mini();
    doc.session.gapp = '1m';
    doc.id = 'Pay Ment';
    doc.verdicts[1].severity = 'fatal';
    expectIssue(doc, 'session', /gapp/);
    expectIssue(doc, 'id', /\[a-z0-9_-\]\+/);
    expectIssue(doc, 'verdicts.1.severity', /critical/);
    const noSession = mini();
    delete noSession.session;
    expectIssue(noSession, 'session', /^missing \(required\)$/);
    const noWhen = mini();
    delete noWhen.steps.order_placed.when;
    expectIssue(noWhen, 'steps.order_placed.when', /^missing \(required\)$/);
  });

  it('requires at least one anchor step', () => {
    const doc = mini();
    doc.steps = { channel_callback: doc.steps.channel_callback };
    doc.session.complete = [];
    doc.tree = undefined;
    doc.fields = { trans_id: 'string(key)' };
    doc.verdicts = [];
    expectIssue(doc, 'steps', /at least one anchor step/);
  });

  it('rejects duplicate verdict ids and tree steps listed twice', () => {
    const doc = mini();
    doc.verdicts[1].id = 'paid_no_callback';
    doc.tree = { order_placed: { pay_ui_opened: {}, receipt_uploaded: { pay_ui_opened: {} } } };
    expectIssue(doc, 'verdicts.1.id', /duplicate verdict id/);
    expectIssue(doc, 'tree.order_placed.receipt_uploaded.pay_ui_opened', /appears twice/);
  });

  it('parses durations', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('15m'), parseDuration('2h'), parseDuration('1d'), parseDuration('-5m')])
      .toEqual([500, 30_000, 900_000, 7_200_000, 86_400_000, -300_000]);
    expect(parseDuration('5 min')).toBeUndefined();
    expect(parseDuration(5)).toBeUndefined();
  });
});

describe('CEL dialect: mixed int/double arithmetic', () => {
  // Weft's context holds ints (counts, times) next to JSON doubles; a mixed operation is a double,
  // and what follows it must type as a double too (it was typed by its left operand: int).
  it('gives a double that later int and double operations accept', async () => {
    const { compileCel } = await import('../src/template/cel.js');
    const context = { key: 'k', start: 1000n, end: 2000n, duration: 1000n, first: { s: { a: 1.5 } }, last: {}, time: {}, count: { s: 2n }, fields: {} };
    const run = (source: string) => compileCel(source, 'session').run(context);
    expect(run('(2 + first.s.a) + start')).toBe(1003.5);
    expect(run('(count.s * first.s.a) - start')).toBe(-997);
    expect(run('(-(2) + 1.0) + start')).toBe(999);
    expect(run('(duration / 2.0) * count.s')).toBe(1000);
    expect(run('(count.s + 0.5) > 2')).toBe(true);
  });
});
