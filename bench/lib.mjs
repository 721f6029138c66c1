// Helpers of the scripts in bench/kernels, bench/gpu and bench/models/image-loader.mjs: the
// device description on every line, JSON-lines output, a median timer. The model benchmarks are
// `convkit bench` (lib/bench, shipped); its CPU-model reader is the one used here.
import { cpuModel } from '../dist/bench/host.js';
import os from 'node:os';

/** "cpu:0 (Intel(R) Xeon(R) Processor, 2 threads)": the device on every JSON line. */
export function deviceName(dev = 'cpu:0', threads) {
  return `${dev} (${cpuModel()}, ${threads ?? os.availableParallelism()} threads)`;
}

/** Prints one JSON line. */
export function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/**
 * Median wall time (ms) of `run` (an async function that ends with a device synchronize),
 * after `warmup` calls; at least `iters` calls and `minMs` of timed calls.
 * Returns { ms, runs, minMs }.
 */
export async function timeIt(run, { warmup = 2, iters = 5, minMs = 300 } = {}) {
  for (let i = 0; i < warmup; i++) await run();
  const times = [];
  let timed = 0;
  while (times.length < iters || timed < minMs) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    timed += times[times.length - 1];
    if (times.length > 1000) break;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], runs: times.length, minMs: times[0] };
}
