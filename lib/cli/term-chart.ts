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

/** The chart as text, every line at most `columns` - 1 wide, or '' when there is too little to draw. */
export function lossChart(losses: readonly number[], columns: number, height = 8): string {
  const finite = losses.filter(Number.isFinite);
  const max = columns - 1;
  const labelWidth = 12; // asciichart's "   1.2345 ┤" axis labels, measured below anyway
  let width = Math.min(100, max - labelWidth);
  if (finite.length < 2 || width < 10) return '';
  const title = `loss over ${finite.length} batches:`.slice(0, max);
  for (;;) {
    const series = buckets(finite, width);
    const chart = asciichart.plot(series, { height, format: (x: number) => x.toFixed(4).padStart(9) });
    const widest = Math.max(...chart.split('\n').map((l) => l.length));
    if (widest <= max) return `${title}\n${chart}`;
    width -= widest - max;
    if (width < 10) return '';
  }
}
