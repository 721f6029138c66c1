/**
 * `convkit plot run.jsonl -o curves.svg|.png|.html`: training curves from the JSON lines of
 * `convkit train ... --log run.jsonl`: loss and accuracy per epoch for training, validation
 * and test (the test set is evaluated once, at the end: one point), and the learning rate.
 *
 * The chart is a Vega-Lite spec compiled to Vega and rendered headless by vega's View.toSVG
 * (no browser, no canvas); PNG is that SVG rasterised by sharp (librsvg); HTML is the SVG
 * inline plus the Vega-Lite spec in a JSON script tag, so the page works offline and the spec
 * can be pasted into any Vega-Lite editor.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ConvkitError } from '../errors.js';
import { loadSharp } from '../data/images/decode.js';
import { UsageError, type CommandSpec, type Values } from './args.js';

export const PLOT: CommandSpec = {
  name: 'plot',
  positionals: 'RUN.jsonl',
  summary: 'Draw the training curves of a run logged with --log: loss, accuracy (train, validation, test) and learning rate per epoch.',
  options: {
    out: {
      type: 'string',
      short: 'o',
      arg: 'FILE',
      desc: 'the picture: .svg, .png or .html (SVG inline, works offline)',
      default: 'RUN.svg beside RUN.jsonl',
    },
    title: { type: 'string', arg: 'TEXT', desc: 'the chart title', default: 'the model and variant from the log' },
  },
};

export interface CurveRow {
  epoch: number;
  panel: 'loss' | 'accuracy' | 'learning rate';
  split: 'train' | 'validation' | 'test';
  value: number;
}

/** The rows of the chart from a log's lines; the last line for an epoch wins (a resumed run). */
export function curveRows(text: string, file: string): { rows: CurveRow[]; title: string } {
  const epochs = new Map<number, Record<string, number>>();
  let test: Record<string, number> | null = null;
  let title = '';
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new ConvkitError(
        'ND_FORMAT',
        `${file}:${i + 1}: not a JSON line (expected the output of convkit train --log): ${line.slice(0, 80)}`,
      );
    }
    if (o.type === 'epoch' && Number.isSafeInteger(o.epoch)) epochs.set(o.epoch as number, o as Record<string, number>);
    else if (o.type === 'test') test = o as Record<string, number>;
    else if (o.type === 'start' && !title) title = `${String(o.model ?? 'model')}${o.variant ? ` (${String(o.variant)})` : ''}`;
  });
  if (epochs.size === 0)
    throw new ConvkitError('ND_FORMAT', `${file}: no epoch lines to plot (write them with convkit train ... --log ${file})`);
  const rows: CurveRow[] = [];
  const sorted = [...epochs.keys()].sort((a, b) => a - b);
  for (const e of sorted) {
    const l = epochs.get(e)!;
    const epoch = e + 1;
    const add = (panel: CurveRow['panel'], split: CurveRow['split'], value: unknown) => {
      if (typeof value === 'number' && Number.isFinite(value)) rows.push({ epoch, panel, split, value });
    };
    add('loss', 'train', l.loss);
    add('accuracy', 'train', l.accuracy);
    add('loss', 'validation', l.valLoss);
    add('accuracy', 'validation', l.valAccuracy);
    add('learning rate', 'train', l.lr);
  }
  const t = test as Record<string, number> | null;
  if (t) {
    const epoch = sorted[sorted.length - 1] + 1;
    if (Number.isFinite(t.loss)) rows.push({ epoch, panel: 'loss', split: 'test', value: t.loss });
    if (Number.isFinite(t.accuracy)) rows.push({ epoch, panel: 'accuracy', split: 'test', value: t.accuracy });
  }
  return { rows, title };
}

/** The Vega-Lite spec: three panels sharing the epoch axis and one colour legend. */
export function curvesSpec(rows: CurveRow[], title: string): Record<string, unknown> {
  const color = {
    field: 'split',
    type: 'nominal',
    title: null,
    scale: { domain: ['train', 'validation', 'test'], range: ['#1f77b4', '#ff7f0e', '#2ca02c'] },
  };
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };
  const panel = (name: CurveRow['panel'], y: Record<string, unknown>) => ({
    width: 480,
    height: 150,
    transform: [{ filter: { field: 'panel', equal: name } }],
    layer: [
      {
        transform: [{ filter: "datum.split !== 'test'" }],
        mark: { type: 'line', point: true, interpolate: name === 'learning rate' ? 'step-after' : 'linear' },
        encoding: { x, y, color },
      },
      {
        transform: [{ filter: "datum.split === 'test'" }],
        mark: { type: 'point', shape: 'diamond', size: 120, filled: true },
        encoding: { x, y, color },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title || 'training curves',
    data: { values: rows },
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', background: 'white' },
    vconcat: [
      panel('loss', { field: 'value', type: 'quantitative', title: 'loss', scale: { zero: false } }),
      panel('accuracy', { field: 'value', type: 'quantitative', title: 'accuracy', axis: { format: '.1%' }, scale: { zero: false } }),
      panel('learning rate', { field: 'value', type: 'quantitative', title: 'learning rate', scale: { type: 'log' } }),
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function escapeScript(json: string): string {
  return json.replace(/</g, '\\u003c');
}

export async function plotCmd(v: Values, positionals: string[]): Promise<void> {
  if (positionals.length !== 1)
    throw new UsageError(`plot: give one log file (written by convkit train --log FILE), got ${positionals.length}`);
  const file = positionals[0];
  const outFile = (v.out as string | undefined) ?? file.replace(/\.jsonl?$/i, '') + '.svg';
  const ext = extname(outFile).toLowerCase();
  if (!['.svg', '.png', '.html'].includes(ext))
    throw new UsageError(`plot: -o must end in .svg, .png or .html, got ${JSON.stringify(outFile)}`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConvkitError('ND_FORMAT', `plot: cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  const { rows, title } = curveRows(text, file);
  const spec = curvesSpec(rows, (v.title as string | undefined) ?? title);
  const svg = await renderSvg(spec);
  if (ext === '.svg') await writeFile(outFile, svg);
  else if (ext === '.png') {
    const sharp = await loadSharp();
    await sharp(Buffer.from(svg), { density: 144 }).png().toFile(outFile);
  } else {
    const name = String(spec.title).replace(/[<>&]/g, '');
    await writeFile(
      outFile,
      `<!doctype html>\n<html><head><meta charset="utf-8"><title>${name}</title></head>\n<body>\n${svg}\n` +
        `<script type="application/json" id="vega-lite-spec">${escapeScript(JSON.stringify(spec))}</script>\n</body></html>\n`,
    );
  }
  const epochs = new Set(rows.map((r) => r.epoch)).size;
  process.stdout.write(
    process.stdout.isTTY && !v.json
      ? `wrote ${outFile} (${epochs} epochs)\n`
      : JSON.stringify({ type: 'plot', file, out: outFile, epochs, rows: rows.length }) + '\n',
  );
}
