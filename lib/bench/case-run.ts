/**
 * One bench case: every contender prepared for it (a string answer is a `skip` line), their
 * rounds timed in turns, a `result` line each (an `error` line for a peer that failed), and on
 * convkit's line its ratio to each peer. A peer's failure never ends the bench; convkit's does
 * (it is the thing being measured, and its error is coded).
 */
import type { Ceiling } from './ceiling.js';
import { contenderKey, type Contender } from './contender.js';
import { caseLine, figures, resultLine, type Line, type LineBase } from './lines.js';
import type { BenchCase } from './options.js';
import { timeInTurns, type Runner, type TurnOptions } from './timing.js';

export interface CaseContext {
  contenders: readonly Contender[];
  /** convkit's contender, one of `contenders`. */
  ours: Contender;
  /** FLOPs per image of this case (flops.ts). */
  flop: number;
  /** Fields only convkit's line has, read after its rounds (its path, its pool peak). */
  oursExtra?: () => Record<string, unknown>;
  ceiling: Ceiling | null;
  /**
   * The ceiling's product, timed in turns with the contenders (a turn of its own each round):
   * each line's share is then over the ceiling of the same rounds (lines.ts, figures).
   */
  ceilingTurns?: Runner & { flopPerCall: number };
  base: LineBase;
  timing: Omit<TurnOptions, 'settleMs'>;
  emit(l: Line): void;
}

/** A runner whose first failure is kept (and reported on its line) instead of ending the bench. */
export function guarded(r: Runner): Runner & { error?: Error } {
  const g: Runner & { error?: Error } = {
    async run(iters) {
      if (g.error) return NaN;
      try {
        return await r.run(iters);
      } catch (e) {
        g.error = e as Error;
        return NaN;
      }
    },
  };
  return g;
}

export async function runCase(c: BenchCase, x: CaseContext): Promise<void> {
  const { base, emit, ours } = x;
  const ready: Array<{ who: Contender; runner: ReturnType<typeof guarded> }> = [];
  try {
    for (const who of x.contenders) {
      let r: Runner | string;
      try {
        r = await who.prepare(c);
      } catch (e) {
        if (who === ours) throw e; // convkit's own failure is the bench's: a coded error, exit 1
        emit(caseLine('error', base, who, c, `could not prepare the case: ${(e as Error).message}`));
        continue;
      }
      if (typeof r === 'string') emit(caseLine('skip', base, who, c, r));
      else ready.push({ who, runner: guarded(r) });
    }
    // Before each turn, once there are several, a wait for the last one's threads to stop
    // spinning, up to 250 ms (see TurnOptions.settleMs).
    const ceilingTurns = ready.length ? x.ceilingTurns : undefined;
    const runners: Runner[] = ready.map((r) => r.runner);
    if (ceilingTurns) runners.push(ceilingTurns);
    const results = await timeInTurns(runners, { ...x.timing, settleMs: runners.length > 1 ? 250 : 0 });
    const c0 = results[ready.length];
    const ceilingRounds = ceilingTurns ? c0.seconds.map((s) => (ceilingTurns.flopPerCall * c0.iters) / s / 1e9) : null;
    const ourError = ready.find((r) => r.who === ours)?.runner.error;
    if (ourError) throw ourError;
    const lines: Line[] = [];
    const medians = new Map<string, number>();
    let ourLine: Line | undefined;
    ready.forEach(({ who, runner }, i) => {
      if (runner.error) {
        lines.push(caseLine('error', base, who, c, runner.error.message));
        return;
      }
      const f = figures(c, results[i], x.flop, ceilingRounds ?? x.ceiling);
      medians.set(contenderKey(who), f.images_per_s.median);
      const line = resultLine(base, who, c, results[i], f, x.flop, who === ours ? (x.oursExtra?.() ?? {}) : {});
      if (who === ours) ourLine = line;
      lines.push(line);
    });
    // convkit's line gets its ratio to each peer on the same case: our median images/s over theirs.
    const mine = medians.get(contenderKey(ours));
    if (ourLine && mine !== undefined && medians.size > 1) {
      const vs: Record<string, number> = {};
      for (const [k, m] of medians) if (k !== contenderKey(ours)) vs[k] = Number((mine / m).toPrecision(4));
      ourLine.vs = vs;
    }
    for (const l of lines) emit(l);
  } finally {
    for (const who of x.contenders) await who.release();
  }
}
