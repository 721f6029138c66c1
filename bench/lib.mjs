// Shared benchmark helpers: the device description on every line, JSON-lines output, timing.
import { readFileSync } from 'node:fs';
import os from 'node:os';

let cpuModel;
/** "cpu:0 (Intel(R) Xeon(R) Processor, 2 threads)": the device on every JSON line. */
export function deviceName(dev = 'cpu:0', threads) {
  if (!cpuModel) {
    try {
      cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim();
    } catch {}
    cpuModel ??= os.cpus()[0]?.model ?? 'unknown CPU';
  }
  return `${dev} (${cpuModel}, ${threads ?? os.availableParallelism()} threads)`;
}

/** Prints one JSON line. */
export function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/**
 * Median wall time (ms) of `run` (an async function that ends with a device synchronize),
 * after `warmup` calls; at least `iters` calls and `minMs` of total time.
 */
export async function timeIt(run, { warmup = 2, iters = 5, minMs = 300 } = {}) {
  for (let i = 0; i < warmup; i++) await run();
  const times = [];
  const start = performance.now();
  while (times.length < iters || performance.now() - start < minMs) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    if (times.length > 1000) break;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], runs: times.length, minMs: times[0] };
}
