/**
 * The terminal form of the bench's lines: a table row per result (every figure's median and
 * spread: images/s with its min-max, the others as ± half their min-max range), the ceiling and
 * the absent peers as sentences. Printed as the lines arrive, so a long
 * run shows its progress. JSON lines (--json, or a pipe) carry the same facts and more.
 */
import type { Line } from './lines.js';
import type { Spread } from './timing.js';

const COLUMNS: Array<[string, number]> = [
  ['impl', 18],
  ['model', 15],
  ['pass', 9],
  ['batch', 5],
  ['images/s (min-max)', 26],
  ['ms/batch', 14],
  ['GFLOP/s', 14],
  ['of ceiling', 14],
  ['notes', 0],
];

/** 3 significant digits, thousands grouped: 31,300; 142; 0.0599. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return String(Number(x.toPrecision(3)));
}

const fmtSpread = (s: Spread) => `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
/** A figure's median and its spread as half the min-max range, relative: "70.9 ±3.2%". */
const fmtPm = (s: Spread, f: (x: number) => string = fmt) =>
  `${f(s.median)} ±${s.median ? ((50 * (s.max - s.min)) / Math.abs(s.median)).toFixed(1) : '0'}%`;

function row(cells: string[]): string {
  return cells
    .map((c, i) => (COLUMNS[i][1] ? c.padEnd(COLUMNS[i][1]) : c))
    .join(' ')
    .trimEnd();
}

function who(l: Line): string {
  return l.label ? `${String(l.impl)} (${String(l.label)})` : String(l.impl);
}

/** The column titles, printed before the first result row. */
export function tableHeader(): string {
  return row(COLUMNS.map((c) => c[0]));
}

/** The text for one line, or null for lines the table leaves out. */
export function tableText(l: Line): string | null {
  const dev = l.device as { name: string; model: string; threads: number; isa: string } | undefined;
  switch (l.type) {
    case 'start':
      return [
        `convkit ${String(l.convkit_version)} bench on ${dev?.name} (${dev?.model}, ${dev?.threads} threads, ${dev?.isa}): ${String(l.cases)} cases, ${String(l.rounds)} rounds after ${String(l.warmup)} warm-up`,
        '',
      ].join('\n');
    case 'ceiling': {
      const g = l.gflops as Spread;
      const cmp = l.compare as { ratio: number | null } | undefined;
      const vs = cmp?.ratio ? `, ${cmp.ratio}x the earlier run` : '';
      return `SGEMM ceiling ${String(l.M)}x${String(l.N)}x${String(l.K)} (${String(l.kernel)}): ${fmtSpread(g)} GFLOP/s${vs}`;
    }
    case 'result': {
      const notes: string[] = [];
      if (l.path) notes.push(String(l.path));
      for (const [k, r] of Object.entries((l.vs as Record<string, number> | undefined) ?? {})) notes.push(`${fmt(r)}x ${k}`);
      const cmp = l.compare as { ratio: number | null } | undefined;
      if (cmp) notes.push(cmp.ratio === null ? 'no earlier line' : `${cmp.ratio}x earlier`);
      const share = l.ceiling_share as Spread | null;
      return row([
        who(l),
        `${String(l.model)} ${String(l.variant)}`,
        String(l.pass),
        String(l.batch),
        fmtSpread(l.images_per_s as Spread),
        fmtPm(l.ms_per_batch as Spread),
        fmtPm(l.gflops as Spread),
        share ? fmtPm(share, pct) : '-',
        notes.join(', '),
      ]);
    }
    case 'peer':
      return `${who(l)}: absent: ${String(l.reason)}`;
    case 'skip':
      return `${who(l)} skips ${String(l.model)} ${String(l.variant)} ${String(l.pass)} batch ${String(l.batch)}: ${String(l.reason)}`;
    case 'error':
      return `${who(l)} FAILED on ${String(l.model)} ${String(l.variant)} ${String(l.pass)} batch ${String(l.batch)}: ${String(l.reason)}`;
    case 'done':
      return `\ndone in ${String(l.seconds)} s`;
    default:
      return null;
  }
}
