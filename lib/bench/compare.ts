/**
 * `--compare FILE.jsonl`: each line of this run gets its ratio to the matching line of an earlier
 * run (same implementation and label, model form, pass, batch and device; the ceiling line to the
 * earlier ceiling). The ratio is of the medians, this run over the earlier one: above 1 is faster
 * now. A line with no match says so rather than dropping out.
 */
import { readFileSync } from 'node:fs';
import { ConvkitError } from '../errors.js';
import type { Spread } from './timing.js';

/** The fields of a bench line that compare reads (see lines.ts for the whole line). */
export interface ComparableLine {
  type: string;
  impl?: string;
  label?: string;
  model?: string;
  variant?: string;
  pass?: string;
  batch?: number;
  M?: number;
  N?: number;
  K?: number;
  device?: { name?: string } | string;
  images_per_s?: Spread;
  gflops?: Spread;
}

export interface Comparison {
  file: string;
  /** This run's median over the earlier one's; null when nothing matched. */
  ratio: number | null;
  /** The earlier median the ratio is taken against. */
  earlier?: number;
  reason?: string;
}

const deviceName = (d: ComparableLine['device']): string => (typeof d === 'string' ? d : (d?.name ?? ''));

/** What identifies a line across runs; undefined for lines that are not figures. */
export function lineKey(l: ComparableLine): string | undefined {
  if (l.type === 'result') return ['result', l.impl, l.label ?? '', l.model, l.variant, l.pass, l.batch, deviceName(l.device)].join('|');
  if (l.type === 'ceiling') return ['ceiling', l.M, l.N, l.K, deviceName(l.device)].join('|');
  return undefined;
}

/** The figure a line is compared on: images/s for a model, GFLOP/s for the ceiling. */
function figure(l: ComparableLine): number | undefined {
  const s = l.type === 'ceiling' ? l.gflops : l.images_per_s;
  return typeof s?.median === 'number' && Number.isFinite(s.median) ? s.median : undefined;
}

/** Parses JSON lines; a line that is not JSON is an ND_FORMAT error naming the file and line. */
export function parseJsonLines(text: string, file: string): ComparableLine[] {
  const out: ComparableLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new ConvkitError('ND_FORMAT', `${file}:${i + 1}: not a JSON line (${(e as Error).message}): ${line.slice(0, 80)}`);
    }
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as ComparableLine);
  });
  return out;
}

/** The earlier run's figure lines by key (the last one wins when a key repeats). */
export function loadEarlier(file: string): Map<string, ComparableLine> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConvkitError('ND_ARG', `--compare: cannot read ${file}: ${(e as Error).message}`);
  }
  const byKey = new Map<string, ComparableLine>();
  for (const l of parseJsonLines(text, file)) {
    const k = lineKey(l);
    if (k !== undefined && figure(l) !== undefined) byKey.set(k, l);
  }
  return byKey;
}

/** The comparison of one line of this run with the earlier run's; undefined for non-figure lines. */
export function compareLine(l: ComparableLine, earlier: Map<string, ComparableLine>, file: string): Comparison | undefined {
  const k = lineKey(l);
  const now = figure(l);
  if (k === undefined || now === undefined) return undefined;
  const then = earlier.get(k);
  const was = then && figure(then);
  if (!was) return { file, ratio: null, reason: 'no matching line in the earlier run' };
  return { file, ratio: Number((now / was).toPrecision(4)), earlier: was };
}
