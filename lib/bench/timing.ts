import { cpus } from 'node:os';

/**
 * Timing in turns. Every contender (convkit, a peer) runs the same case in rounds, and the rounds
 * alternate between them (a, b, c, b, c, a, ...): a shared machine whose speed drifts (other
 * tenants, memory bandwidth) slows each alike, so their ratio stays meaningful and the spread
 * over rounds shows how much the machine moved.
 */

/** min / median / max over the rounds. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  if (!xs.length) throw new RangeError('spread: no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0], median, max: s[s.length - 1] };
}

/** Applies f to each figure; f must be increasing (a decreasing one, such as 1/x, swaps min and max). */
export function mapSpread(s: Spread, f: (x: number) => number): Spread {
  const a = f(s.min);
  const b = f(s.max);
  return { min: Math.min(a, b), median: f(s.median), max: Math.max(a, b) };
}

/** Rounds a spread's figures to `digits` significant digits, for the JSON lines. */
export function roundSpread(s: Spread, digits = 4): Spread {
  const r = (x: number) => (Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(digits)) : x);
  return { min: r(s.min), median: r(s.median), max: r(s.max) };
}

/** Something to time: `run(n)` does n batches and resolves with the seconds they took. */
export interface Runner {
  run(iters: number): Promise<number>;
}

export interface TurnOptions {
  rounds: number;
  warmup: number;
  /** Target seconds of one round: each runner repeats its batch about this long. */
  roundSeconds: number;
  /**
   * Untimed wait before each turn, at most this long, until the machine is quiet (see
   * waitForQuiet): a peer whose idle threads spin on after a run would slow the next one.
   * onnxruntime-node's two intra-op threads burn ~55 ms of CPU in the ~50 ms after an AlexNet
   * batch of 32 (measured with process.cpuUsage in 10 ms windows), more than a fixed 20 ms.
   */
  settleMs?: number;
  /** @internal How busy the machine was since the last call, in CPU-ms (tests pass their own). */
  busyMs?: () => number;
}

export interface TurnResult {
  /** Batches per round. */
  iters: number;
  /** Seconds of each timed round. */
  seconds: number[];
}

/** How many batches make one round, from the seconds one batch took (at least 1). */
export function itersFor(secondsPerBatch: number, roundSeconds: number): number {
  if (!(secondsPerBatch > 0)) return 1;
  return Math.max(1, Math.min(1_000_000, Math.round(roundSeconds / secondsPerBatch)));
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU-ms every core of this machine spent busy (any process) since the previous call. */
export function machineBusyMs(): () => number {
  const busy = () => cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  let last = busy();
  return () => {
    const now = busy();
    const d = now - last;
    last = now;
    return d;
  };
}

/** A window is quiet when the machine's cores were busy for under this share of it, all together. */
const QUIET_SHARE = 0.2;
const QUIET_WINDOW_MS = 10;

/**
 * Waits until one 10 ms window passes with the machine's cores busy under 20% of it in all (the
 * previous contender's threads have stopped spinning, whatever process they are in), or maxMs.
 * Resolves with the milliseconds waited.
 */
export async function waitForQuiet(maxMs: number, busyMs: () => number = machineBusyMs()): Promise<number> {
  const t0 = performance.now();
  busyMs();
  while (performance.now() - t0 < maxMs) {
    const w0 = performance.now();
    await pause(QUIET_WINDOW_MS);
    const window = performance.now() - w0;
    if (busyMs() < QUIET_SHARE * window) break;
  }
  return performance.now() - t0;
}

/**
 * Calibrates each runner (one batch, then `warmup` untimed rounds, re-sizing the round after
 * each to the fastest batch seen), then times `rounds` rounds in turns, rotating who goes first.
 */
export async function timeInTurns(runners: readonly Runner[], o: TurnOptions): Promise<TurnResult[]> {
  const iters: number[] = [];
  for (const r of runners) {
    // Sized on the fastest batch seen: a neighbour's burst during one warm-up round would
    // otherwise shrink every round to a few batches.
    let best = await r.run(1);
    let n = itersFor(best, o.roundSeconds);
    for (let w = 0; w < o.warmup; w++) {
      best = Math.min(best, (await r.run(n)) / n);
      n = itersFor(best, o.roundSeconds);
    }
    iters.push(n);
  }
  const seconds: number[][] = runners.map(() => []);
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < runners.length; k++) {
      const i = (round + k) % runners.length;
      if (o.settleMs && runners.length > 1) await waitForQuiet(o.settleMs, o.busyMs);
      seconds[i].push(await runners[i].run(iters[i]));
    }
  }
  return runners.map((_, i) => ({ iters: iters[i], seconds: seconds[i] }));
}
