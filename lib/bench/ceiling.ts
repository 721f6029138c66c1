/**
 * The SGEMM ceiling of this run: our own GEMM on a large square product (2048^3 by default),
 * with every intra-op thread, on the bench's device, measured in the same run as the models.
 * Nearly all of a conv net's FLOPs are GEMMs, so a model line's GFLOP/s over this figure (its
 * `ceiling_share`) says how much of the machine's usable speed the rest of the step leaves on the
 * table, whatever the machine and however loaded it was at the time.
 */
import { gemm, gemmKernelName } from '../ops/gemm.js';
import type { Device } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import { mapSpread, spread, timeInTurns, type Runner, type Spread } from './timing.js';

export interface Ceiling {
  M: number;
  N: number;
  K: number;
  /** The micro-kernel that ran it (avx512, avx2, portable; cublas on a GPU). */
  kernel: string;
  gflops: Spread;
  ms: Spread;
}

/**
 * The ceiling's product as a runner of its own, for timing in turns beside a case (case-run.ts):
 * each round of the case then has a ceiling taken in the same minute. dispose() frees its
 * operands (64 MB at 2048).
 */
export function ceilingRunner(dev: Device, n = 2048): Runner & { flopPerCall: number; dispose(): void } {
  const a = Tensor.uniform([n, n], { seed: 1, low: -1, high: 1, device: dev });
  const b = Tensor.uniform([n, n], { seed: 2, low: -1, high: 1, device: dev });
  const c = Tensor.zeros([n, n], { device: dev });
  return {
    flopPerCall: 2 * n * n * n,
    async run(iters) {
      await dev.synchronize();
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) gemm(a, b, { c });
      await dev.synchronize();
      return (performance.now() - t0) / 1000;
    },
    dispose() {
      for (const t of [a, b, c]) t.dispose();
    },
  };
}

export async function sgemmCeiling(
  dev: Device,
  o: { size?: number; rounds: number; warmup: number; roundSeconds: number },
): Promise<Ceiling> {
  const n = o.size ?? 2048;
  const r0 = ceilingRunner(dev, n);
  try {
    const [r] = await timeInTurns([r0], o);
    const perCall = r.seconds.map((s) => s / r.iters);
    const flop = r0.flopPerCall;
    return {
      M: n,
      N: n,
      K: n,
      kernel: dev.kind === 'cuda' ? 'cublas' : gemmKernelName(),
      gflops: mapSpread(spread(perCall.map((s) => 1 / s)), (x) => (x * flop) / 1e9),
      ms: mapSpread(spread(perCall), (s) => s * 1e3),
    };
  } finally {
    r0.dispose();
  }
}
