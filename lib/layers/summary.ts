/**
 * model.summary(): one row per layer with the columns of LeNet-5's original table: input size,
 * kernel size, stride, output size, receptive field (in input pixels), neurons, parameters and
 * connections, then totals. Elementwise layers (activations, dropout, flatten) fold into the
 * row before them.
 */
import type { Shape } from '../tensor/tensor.js';
import type { Layer } from './layer.js';

export interface SummaryRow {
  layer: string;
  type: string;
  inputSize: string;
  kernelSize: string;
  stride: number;
  outputSize: string;
  receptiveField: number;
  neurons: number;
  parameters: number;
  connections: number;
}

export interface Summary {
  rows: SummaryRow[];
  totals: { neurons: number; parameters: number; connections: number };
  text: string;
}

export function fmtSize(s: Shape): string {
  return s.length === 3 ? `${s[1]}x${s[2]}x${s[0]}` : s.join('x');
}

export function summarize(layers: readonly Layer[], input: Shape): Summary {
  const rows: SummaryRow[] = [];
  let shape = input;
  let rf = 1; // receptive field side in input pixels
  let jump = 1; // distance in input pixels between adjacent units
  for (const l of layers) {
    const g = l.geometry(shape);
    const out = l.outputShape(shape);
    if (shape.length === 3 && out.length === 1) {
      rf += (shape[1] - 1) * jump; // a fully connected unit sees every position
    } else if (g.kernel > 1 || g.stride > 1) {
      rf += (g.kernel - 1) * jump;
      jump *= g.stride;
    }
    if (l.inSummary) {
      rows.push({
        layer: l.name,
        type: l.constructor.name,
        inputSize: fmtSize(shape),
        kernelSize: g.kernelText ?? `${g.kernel}x${g.kernel}`,
        stride: g.stride,
        outputSize: fmtSize(out),
        receptiveField: rf,
        neurons: out.reduce((a, b) => a * b, 1),
        parameters: g.params,
        connections: g.connections,
      });
    } else if (rows.length) {
      const last = rows[rows.length - 1];
      last.outputSize = fmtSize(out);
      last.parameters += g.params;
      last.connections += g.connections;
    }
    shape = out;
  }
  const totals = {
    neurons: rows.reduce((a, r) => a + r.neurons, 0),
    parameters: rows.reduce((a, r) => a + r.parameters, 0),
    connections: rows.reduce((a, r) => a + r.connections, 0),
  };
  return { rows, totals, text: renderTable(rows, totals) };
}

function renderTable(rows: SummaryRow[], totals: Summary['totals']): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const head = ['layer', 'type', 'input', 'kernel', 'stride', 'output', 'receptive field', 'neurons', 'parameters', 'connections'];
  const body = rows.map((r) => [
    r.layer,
    r.type,
    r.inputSize,
    r.kernelSize,
    String(r.stride),
    r.outputSize,
    String(r.receptiveField),
    n(r.neurons),
    n(r.parameters),
    n(r.connections),
  ]);
  body.push(['total', '', '', '', '', '', '', n(totals.neurons), n(totals.parameters), n(totals.connections)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 7 || i === 4 || i === 6 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...body.slice(0, -1).map(line),
    widths.map((w) => '-'.repeat(w)).join('  '),
    line(body[body.length - 1]),
  ].join('\n');
}
