/**
 * Plain-ASCII charts for the terminal (the demo's "verdicts over time"): a stacked column chart,
 * one glyph per series, so it reads the same in any terminal, log file or CI output.
 */

export interface StackedPoint {
  /** Bucket start, epoch ms. */
  readonly time: number;
  readonly counts: Readonly<Record<string, number>>;
}

export interface StackedChartOptions {
  /** Series from the bottom of each column up (also the legend order). */
  readonly series: readonly string[];
  /** Columns at most (buckets are merged to fit). Default 60. */
  readonly width?: number;
  /** Rows of the plot. Default 12. */
  readonly height?: number;
  /** Legend text of a series (default: its name). */
  readonly label?: (series: string) => string;
}

/** Glyphs by stacking position; enough for the verdicts of a template, then repeated. */
const GLYPHS = ['#', '@', '%', '&', '*', '+', '=', '~', ':', '.'];

export function glyphOf(index: number): string {
  return GLYPHS[index % GLYPHS.length]!;
}

/** Merges consecutive buckets so that at most `width` columns remain; returns columns and their span. */
export function mergeColumns(points: readonly StackedPoint[], width: number): { columns: StackedPoint[]; per: number } {
  const per = Math.max(1, Math.ceil(points.length / width));
  const columns: StackedPoint[] = [];
  for (let i = 0; i < points.length; i += per) {
    const counts: Record<string, number> = {};
    for (const p of points.slice(i, i + per)) for (const [k, n] of Object.entries(p.counts)) counts[k] = (counts[k] ?? 0) + n;
    columns.push({ time: points[i]!.time, counts });
  }
  return { columns, per };
}

/**
 * Renders the points (consecutive, evenly spaced buckets, oldest first) as stacked columns with a
 * y axis, a time axis (UTC HH:MM at both ends) and a legend. Each column is scaled so that its total
 * height is proportional to its total; each series gets rows in proportion to its share (see
 * {@link stackRows}).
 */
export function stackedChart(points: readonly StackedPoint[], options: StackedChartOptions): string {
  const height = options.height ?? 12;
  const { columns } = mergeColumns(points, options.width ?? 60);
  if (columns.length === 0) return '(no sessions)\n';
  const totals = columns.map((c) => options.series.reduce((s, k) => s + (c.counts[k] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const stacks = columns.map((c, i) => stackRows(options.series.map((k) => c.counts[k] ?? 0), Math.round((totals[i]! / max) * height)));
  const label = (n: number) => String(n).padStart(String(max).length);
  const lines: string[] = [];
  for (let row = height - 1; row >= 0; row--) {
    const axis = row === height - 1 ? label(max) : row === 0 ? label(0) : ' '.repeat(String(max).length);
    lines.push(`${axis} |${stacks.map((s) => s[row] ?? ' ').join('')}`);
  }
  const pad = ' '.repeat(String(max).length);
  lines.push(`${pad} +${'-'.repeat(columns.length)}`);
  const first = hhmm(columns[0]!.time);
  const last = hhmm(columns[columns.length - 1]!.time);
  const gap = Math.max(1, columns.length - first.length - last.length);
  lines.push(`${pad}  ${first}${' '.repeat(gap)}${last} UTC`);
  lines.push('');
  options.series.forEach((name, i) => lines.push(`${pad}  ${glyphOf(i)} ${options.label ? options.label(name) : name}`));
  return lines.join('\n') + '\n';
}

/**
 * Glyphs of one column from the bottom: `rows` cells shared among the series in proportion to their
 * counts, rounded so that they add up to `rows` (largest remainders first). A series too small for
 * a cell in a column gets none there: the chart shows shares, the legend the totals.
 */
function stackRows(counts: readonly number[], rows: number): string[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || rows === 0) return [];
  const exact = counts.map((n) => (n / total) * rows);
  const cells = exact.map(Math.floor);
  let left = rows - cells.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, rest: x - Math.floor(x) })).sort((a, b) => b.rest - a.rest);
  for (const { i } of order) {
    if (left-- <= 0) break;
    cells[i]!++;
  }
  return cells.flatMap((n, i) => Array<string>(n).fill(glyphOf(i)));
}

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}
