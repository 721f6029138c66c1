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
 * after `warmup` calls; at least `iters` calls and `minMs` of timed calls.
 */
export async function timeIt(run, { warmup = 2, iters = 5, minMs = 300 } = {}) {
  return (await timeInTurns({ run }, { warmup, iters, minMs, settleMs: 0 })).run;
}

/**
 * Median times of several implementations of the same work, taken in turns (a, b, a, b, ...), so a
 * machine whose speed drifts (shared memory bandwidth, other tenants) slows each alike and
 * their ratio stays meaningful. Between turns it pauses settleMs, untimed: a peer whose idle
 * threads spin for a while after a run (onnxruntime's do) would otherwise slow the next turn.
 * Returns { name: { ms, runs, minMs } }.
 */
export async function timeInTurns(runs, { warmup = 2, iters = 5, minMs = 300, settleMs = 50 } = {}) {
  const settle = () => (settleMs > 0 ? new Promise((resolve) => setTimeout(resolve, settleMs)) : undefined);
  const names = Object.keys(runs);
  for (const n of names) for (let i = 0; i < warmup; i++) await runs[n]();
  const times = Object.fromEntries(names.map((n) => [n, []]));
  let timed = 0;
  while (times[names[0]].length < iters || timed < minMs * names.length) {
    for (const n of names) {
      await settle();
      const t0 = performance.now();
      await runs[n]();
      times[n].push(performance.now() - t0);
      timed += times[n][times[n].length - 1];
    }
    if (times[names[0]].length > 1000) break;
  }
  return Object.fromEntries(
    names.map((n) => {
      const t = times[n].sort((a, b) => a - b);
      return [n, { ms: t[Math.floor(t.length / 2)], runs: t.length, minMs: t[0] }];
    }),
  );
}
