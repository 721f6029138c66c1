/**
 * Training progress: a one-line bar on a terminal (loss, accuracy, images/s, ETA), or one JSON
 * line per batch and per epoch when stdout is not a terminal or --json is given.
 */
import type { BatchLogs, EpochLogs } from '../train/types.js';

export interface Reporter {
  batch(logs: BatchLogs, batchesPerEpoch: number): void;
  epoch(logs: EpochLogs): void;
  info(obj: Record<string, unknown>, text: string): void;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    batch: (l) => out.write(JSON.stringify({ type: 'batch', ...l }) + '\n'),
    epoch: (l) => out.write(JSON.stringify({ type: 'epoch', ...l }) + '\n'),
    info: (o) => out.write(JSON.stringify(o) + '\n'),
  };
}

export function barReporter(out: NodeJS.WriteStream = process.stdout): Reporter {
  let last = 0;
  return {
    batch(l, total) {
      const now = performance.now();
      if (now - last < 100 && l.batch + 1 < total) return; // redraw at most 10 times a second
      last = now;
      const width = 24;
      const done = Math.round(((l.batch + 1) / total) * width);
      const bar = '#'.repeat(done) + '.'.repeat(width - done);
      out.write(
        `\repoch ${l.epoch + 1} [${bar}] ${l.batch + 1}/${total}  loss ${l.loss.toFixed(4)}  acc ${(l.accuracy * 100).toFixed(1)}%  ${Math.round(l.imagesPerSec)} img/s  eta ${fmtTime(l.eta)}  `,
      );
    },
    epoch(l) {
      const val = l.valAccuracy !== undefined ? `  test loss ${l.valLoss!.toFixed(4)}  test acc ${(l.valAccuracy * 100).toFixed(2)}%` : '';
      out.write(`\repoch ${l.epoch + 1}: loss ${l.loss.toFixed(4)}  acc ${(l.accuracy * 100).toFixed(2)}%${val}  ${l.seconds.toFixed(1)} s  ${Math.round(l.imagesPerSec)} img/s${' '.repeat(20)}\n`);
    },
    info(_o, text) {
      out.write(text + '\n');
    },
  };
}
