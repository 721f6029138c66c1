/**
 * The JSON lines `convkit bench` prints. Every line carries `type`, convkit's version and the
 * device it ran on (bench/README.md lists the fields):
 * - 'start': the selection; 'done': the total time;
 * - 'ceiling': the SGEMM ceiling of this run;
 * - 'result': one contender on one case: images/s, ms per batch and GFLOP/s as min/median/max
 *   over the rounds, the FLOPs per image, each figure's share of the ceiling, and on convkit's
 *   lines the ratio to each peer of the same case (`vs`);
 * - 'peer': a peer that is absent (not installed), with why; 'skip': a case a contender cannot
 *   run (onnxruntime does not train); 'error': a contender that failed during a case.
 */
import type { Ceiling } from './ceiling.js';
import type { Contender } from './contender.js';
import type { DeviceInfo } from './host.js';
import type { BenchCase } from './options.js';
import { mapSpread, roundSpread, spread, type Spread, type TurnResult } from './timing.js';

export type Line = Record<string, unknown> & { type: string };

/** The fields every line starts with. */
export interface LineBase {
  convkit_version: string;
  device: DeviceInfo;
}

export function ceilingLine(base: LineBase, c: Ceiling, rounds: number): Line {
  return {
    type: 'ceiling',
    ...base,
    impl: 'convkit',
    op: 'sgemm',
    M: c.M,
    N: c.N,
    K: c.K,
    kernel: c.kernel,
    rounds,
    gflops: roundSpread(c.gflops),
    ms: roundSpread(c.ms),
  };
}

export interface Figures {
  images_per_s: Spread;
  ms_per_batch: Spread;
  gflops: Spread;
  ceiling_share: Spread | null;
  /** The ceiling timed in turns with this case (GFLOP/s per round), when it was. */
  ceiling_gflops?: Spread;
}

/**
 * A contender's figures on a case from its timed rounds. `ceiling` is either the run's ceiling
 * (shares of its median) or the ceiling's GFLOP/s in each of this case's rounds, timed in turns
 * with them: then each round's share is over the ceiling of the same round, so a machine whose
 * speed drifts during the run (a neighbour's load) moves both sides of the ratio alike.
 */
export function figures(c: BenchCase, t: TurnResult, flopPerImage: number, ceiling: Ceiling | readonly number[] | null): Figures {
  const perRound = t.seconds.map((s) => (c.batch * t.iters) / s);
  const ips = spread(perRound);
  const gflops = mapSpread(ips, (x) => (x * flopPerImage) / 1e9);
  let share: Spread | null = null;
  let ceilingGflops: Spread | undefined;
  if (Array.isArray(ceiling)) {
    const rounds = ceiling as readonly number[];
    if (rounds.length !== perRound.length) throw new RangeError(`figures: ${rounds.length} ceiling rounds for ${perRound.length} rounds`);
    share = spread(perRound.map((x, r) => (x * flopPerImage) / 1e9 / rounds[r]));
    ceilingGflops = spread(rounds);
  } else if (ceiling) {
    share = mapSpread(gflops, (g) => g / (ceiling as Ceiling).gflops.median);
  }
  return {
    images_per_s: ips,
    ms_per_batch: spread(t.seconds.map((s) => (s / t.iters) * 1e3)),
    gflops,
    ceiling_share: share,
    ...(ceilingGflops ? { ceiling_gflops: ceilingGflops } : {}),
  };
}

export function resultLine(
  base: LineBase,
  who: Contender,
  c: BenchCase,
  t: TurnResult,
  f: Figures,
  flopPerImage: number,
  extra: Record<string, unknown> = {},
): Line {
  return {
    type: 'result',
    ...base,
    impl: who.impl,
    ...(who.label ? { label: who.label } : {}),
    impl_version: who.version,
    model: c.model,
    variant: c.variant,
    pass: c.pass,
    batch: c.batch,
    ...extra,
    rounds: t.seconds.length,
    iters_per_round: t.iters,
    images_per_s: roundSpread(f.images_per_s),
    ms_per_batch: roundSpread(f.ms_per_batch),
    gflop_per_image: Number((flopPerImage / 1e9).toPrecision(4)),
    gflops: roundSpread(f.gflops),
    ceiling_share: f.ceiling_share ? roundSpread(f.ceiling_share, 3) : null,
    ...(f.ceiling_gflops ? { ceiling_gflops: roundSpread(f.ceiling_gflops) } : {}),
    ...(who.setup ? { setup: who.setup } : {}),
  };
}

export function caseLine(
  type: 'skip' | 'error',
  base: LineBase,
  who: { impl: string; label?: string },
  c: BenchCase,
  reason: string,
): Line {
  return {
    type,
    ...base,
    impl: who.impl,
    ...(who.label ? { label: who.label } : {}),
    model: c.model,
    variant: c.variant,
    pass: c.pass,
    batch: c.batch,
    reason,
  };
}

export function absentPeerLine(base: LineBase, p: { impl: string; label?: string; reason: string }): Line {
  return { type: 'peer', ...base, impl: p.impl, ...(p.label ? { label: p.label } : {}), available: false, reason: p.reason };
}
