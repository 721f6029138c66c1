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
  /** Untimed pause before each turn: a peer whose idle threads spin on after a run (onnxruntime's do) would slow the next one. */
  settleMs?: number;
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
      if (o.settleMs && runners.length > 1) await pause(o.settleMs);
      seconds[i].push(await runners[i].run(iters[i]));
    }
  }
  return runners.map((_, i) => ({ iters: iters[i], seconds: seconds[i] }));
}
