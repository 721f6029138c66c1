/**
 * Training progress, three ways:
 * - on a terminal, a one-line bar that fits the window (it never wraps, so each redraw replaces
 *   the line) and redraws when the window is resized: running loss and accuracy over the epoch,
 *   smoothed images/s and the ETA of the whole run; a small chart of the loss at the end;
 * - otherwise (piped, or --json) JSON lines: every epoch, and one batch in `logEvery`;
 * - with --log FILE, the same JSON lines into FILE as well (tee()).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { BatchLogs, EpochLogs } from '../train/types.js';
import { lossChart } from './term-chart.js';

/** What the run will do, so that the ETA covers all of it. */
export interface RunPlan {
  epochs: number;
  startEpoch: number;
  startBatch: number;
  batchesPerEpoch: number;
}

export interface Reporter {
  start(plan: RunPlan): void;
  batch(logs: BatchLogs): void;
  epoch(logs: EpochLogs): void;
  info(obj: Record<string, unknown>, text: string): void;
  /** The run is over (also after a failure): draw the chart, close files. */
  close(): void;
}

/** Batch lines per epoch when piped, unless --log-every says otherwise. */
export const BATCH_LINES_PER_EPOCH = 20;

export function defaultLogEvery(batchesPerEpoch: number): number {
  return Math.max(1, Math.round(batchesPerEpoch / BATCH_LINES_PER_EPOCH));
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(Math.floor(s % 60)).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * The run's clock: ETA over every batch still to come (from the mean wall time per batch so far,
 * validation passes included) and images/s smoothed with an exponential moving average of time
 * constant `tau` seconds (a per-batch rate jumps with every batch on a busy machine).
 */
export class RunClock {
  #plan: RunPlan | null = null;
  #t0 = 0;
  #done = 0;
  #last = 0;
  #rate = NaN;
  constructor(
    private readonly tau = 2,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {}

  start(plan: RunPlan): void {
    this.#plan = plan;
    this.#t0 = this.now();
    this.#last = this.#t0;
  }

  /** Call once per batch; returns the smoothed images/s and the seconds left in the run. */
  batch(size: number): { rate: number; eta: number; done: number; total: number } {
    const t = this.now();
    const dt = Math.max(t - this.#last, 1e-6);
    const inst = size / dt;
    this.#rate = Number.isNaN(this.#rate) ? inst : this.#rate + (1 - Math.exp(-dt / this.tau)) * (inst - this.#rate);
    this.#last = t;
    this.#done++;
    const p = this.#plan;
    const total = p ? (p.epochs - p.startEpoch) * p.batchesPerEpoch - p.startBatch : this.#done;
    const eta = ((t - this.#t0) / this.#done) * Math.max(0, total - this.#done);
    return { rate: this.#rate, eta, done: this.#done, total };
  }

  /** Between epochs (validation, checkpoints): the next batch's rate starts from here. */
  pause(): void {
    this.#last = this.now();
  }
}

export function jsonReporter(write: (line: string) => void = (l) => process.stdout.write(l), opts: { logEvery?: number } = {}): Reporter {
  let every = opts.logEvery ?? 1;
  let nb = 0;
  const line = (o: Record<string, unknown>) => write(JSON.stringify(o) + '\n');
  return {
    start(plan) {
      nb = plan.batchesPerEpoch;
      every = opts.logEvery ?? defaultLogEvery(nb);
    },
    batch(l) {
      if ((l.batch + 1) % every === 0 || l.batch + 1 === nb) line({ type: 'batch', ...l });
    },
    epoch: (l) => line({ type: 'epoch', ...l }),
    info: (o) => line(o),
    close() {},
  };
}

/** JSON lines into a file, written as they come (a run that is killed keeps what it logged). */
export function fileReporter(path: string, opts: { logEvery?: number; append?: boolean }): Reporter {
  const fd = openSync(path, opts.append ? 'a' : 'w');
  let open = true;
  const inner = jsonReporter((l) => open && writeSync(fd, l), opts);
  return {
    ...inner,
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Every reporter in turn. */
export function tee(...rs: Reporter[]): Reporter {
  return {
    start: (p) => rs.forEach((r) => r.start(p)),
    batch: (l) => rs.forEach((r) => r.batch(l)),
    epoch: (l) => rs.forEach((r) => r.epoch(l)),
    info: (o, t) => rs.forEach((r) => r.info(o, t)),
    close: () => rs.forEach((r) => r.close()),
  };
}

/**
 * The bar's line for a terminal `columns` wide, at most columns - 1 characters (writing the
 * last column makes some terminals wrap). Fields are dropped from the right when even a short
 * bar does not fit, then the line is cut.
 */
export function barLine(l: BatchLogs, plan: RunPlan, rate: number, eta: number, columns: number): string {
  const head = `epoch ${l.epoch + 1}/${plan.epochs}`;
  const count = `${l.batch + 1}/${plan.batchesPerEpoch}`;
  const fields = [
    `loss ${l.meanLoss.toFixed(4)}`,
    `acc ${(l.meanAccuracy * 100).toFixed(1)}%`,
    `${Math.round(rate)} img/s`,
    `eta ${fmtTime(eta)}`,
  ];
  const max = Math.max(1, columns - 1);
  for (let keep = fields.length; keep >= 0; keep--) {
    const tail = [count, ...fields.slice(0, keep)].join('  ');
    const room = max - head.length - tail.length - 5; // ' [' + ']  '
    if (room >= 10 || keep === 0) {
      const width = Math.max(0, Math.min(room, 40));
      const done = Math.round(((l.batch + 1) / plan.batchesPerEpoch) * width);
      const line = width > 0 ? `${head} [${'#'.repeat(done)}${'.'.repeat(width - done)}]  ${tail}` : `${head}  ${tail}`;
      return line.slice(0, max);
    }
  }
  return head.slice(0, max);
}

export function barReporter(out: NodeJS.WriteStream = process.stdout): Reporter {
  const clock = new RunClock();
  let plan: RunPlan = { epochs: 1, startEpoch: 0, startBatch: 0, batchesPerEpoch: 1 };
  let lastDraw = 0;
  let current: string | null = null;
  let state: { l: BatchLogs; rate: number; eta: number } | null = null;
  const losses: number[] = [];
  const draw = () => {
    if (!state) return;
    current = barLine(state.l, plan, state.rate, state.eta, out.columns || 80);
    out.write(`\r${current}\x1b[K`);
  };
  // After the window narrows, the line drawn for the old width may span several rows (a
  // terminal that reflows wraps it; tmux cuts it and puts the cursor below): go up to its first
  // row and clear to the end of the screen before drawing the line for the new width.
  const onResize = () => {
    const cols = out.columns || 80;
    if (current !== null && current.length >= cols) {
      const up = Math.ceil(current.length / cols) - 1;
      out.write(`${up > 0 ? `\x1b[${up}A` : ''}\r\x1b[J`);
    }
    draw();
  };
  out.on('resize', onResize);
  const clearLine = () => {
    if (current !== null) out.write('\r\x1b[K');
    current = null;
  };
  return {
    start(p) {
      plan = p;
      clock.start(p);
    },
    batch(l) {
      const { rate, eta } = clock.batch(l.size);
      losses.push(l.loss);
      state = { l, rate, eta };
      const now = performance.now();
      if (now - lastDraw < 100 && l.batch + 1 < plan.batchesPerEpoch) return; // at most 10 redraws a second
      lastDraw = now;
      draw();
    },
    epoch(l) {
      clearLine();
      state = null;
      const val = l.valAccuracy !== undefined ? `  val loss ${l.valLoss!.toFixed(4)}  val acc ${(l.valAccuracy * 100).toFixed(2)}%` : '';
      out.write(
        `epoch ${l.epoch + 1}/${plan.epochs}: loss ${l.loss.toFixed(4)}  acc ${(l.accuracy * 100).toFixed(2)}%${val}  lr ${l.lr}  ${l.seconds.toFixed(1)} s  ${Math.round(l.imagesPerSec)} img/s\n`,
      );
      clock.pause();
    },
    info(_o, text) {
      clearLine();
      out.write(text + '\n');
    },
    close() {
      out.off('resize', onResize);
      clearLine();
      const chart = lossChart(losses, out.columns || 80);
      if (chart) out.write(chart + '\n');
    },
  };
}
