/**
 * The chart of the training loss printed at the end of a run on a terminal, drawn with
 * asciichart (a small, dependency-free line-chart library). The per-batch losses are averaged
 * into as many buckets as the terminal has columns for, which also smooths batch noise.
 */
import asciichart from 'asciichart';

/** Means of `values` in `n` consecutive buckets of (nearly) equal size. */
export function buckets(values: readonly number[], n: number): number[] {
  if (values.length <= n) return [...values];
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    const lo = Math.floor((b * values.length) / n);
    const hi = Math.floor(((b + 1) * values.length) / n);
    let s = 0;
    for (let i = lo; i < hi; i++) s += values[i];
    out.push(s / (hi - lo));
  }
  return out;
}

/** The chart as text, at most `columns` - 1 wide, or '' when there is too little to draw. */
export function lossChart(losses: readonly number[], columns: number, height = 8): string {
  const finite = losses.filter(Number.isFinite);
  const labelWidth = 12; // asciichart's "  1.2345 ┤" axis labels
  const width = Math.min(100, columns - 1 - labelWidth);
  if (finite.length < 2 || width < 10) return '';
  const series = buckets(finite, width);
  const chart = asciichart.plot(series, { height, format: (x: number) => x.toFixed(4).padStart(9) });
  return `training loss over the run (${finite.length} batches, ${series.length} columns):\n${chart}`;
}
