import { describe, expect, it } from 'vitest';
import { glyphOf, mergeColumns, stackedChart } from '../src/cli/chart.js';

const t0 = Date.parse('2026-09-21T14:00:00Z');
const at = (m: number, counts: Record<string, number>) => ({ time: t0 + m * 60_000, counts });

describe('stacked ASCII chart', () => {
  it('merges buckets to fit the width, keeping every count', () => {
    const points = Array.from({ length: 130 }, (_, i) => at(i, { a: 1, b: i % 2 }));
    const { columns, per } = mergeColumns(points, 60);
    expect(per).toBe(3);
    expect(columns).toHaveLength(44);
    const sum = (k: string) => columns.reduce((s, c) => s + (c.counts[k] ?? 0), 0);
    expect(sum('a')).toBe(130);
    expect(sum('b')).toBe(65);
  });

  it('stacks series bottom-up in proportion, scales columns to the tallest, and labels axes and legend', () => {
    const chart = stackedChart([at(0, { bad: 2, good: 2 }), at(1, { good: 2 }), at(2, {})], { series: ['bad', 'good'], height: 4, label: (s) => `${s}!` });
    const lines = chart.split('\n');
    const plot = lines.slice(0, 4).map((l) => l.slice(l.indexOf('|') + 1));
    // Column 0: total 4 = full height, half bad (bottom) half good; column 1: total 2 = half height; column 2 empty.
    expect(plot.map((row) => row[0])).toEqual([glyphOf(1), glyphOf(1), glyphOf(0), glyphOf(0)]);
    expect(plot.map((row) => row[1])).toEqual([' ', ' ', glyphOf(1), glyphOf(1)]);
    expect(plot.map((row) => row[2])).toEqual([' ', ' ', ' ', ' ']);
    expect(lines[0]).toMatch(/^4 \|/);
    expect(lines[3]).toMatch(/^0 \|/);
    expect(chart).toContain('14:00');
    expect(chart).toContain('14:02 UTC');
    expect(chart).toContain(`${glyphOf(0)} bad!`);
    expect(chart).toContain(`${glyphOf(1)} good!`);
  });

  it('shares the rows of a column in proportion, rounding by largest remainders so the height is kept', () => {
    const chart = stackedChart([at(0, { a: 14, b: 75, c: 11 })], { series: ['a', 'b', 'c'], height: 10 });
    const column = chart.split('\n').slice(0, 10).map((l) => l[l.indexOf('|') + 1]).join('');
    // 1.4, 7.5, 1.1 rows: floors 1, 7, 1 and the spare row to b (remainder .5). Read top-down.
    expect(column).toBe(glyphOf(2) + glyphOf(1).repeat(8) + glyphOf(0));
  });

  it('says so when there is nothing to draw', () => {
    expect(stackedChart([], { series: ['a'] })).toBe('(no sessions)\n');
  });
});
