// Helpers of the scripts in bench/kernels, bench/gpu and bench/models/image-loader.mjs: the
// device description on every line, JSON-lines output, a median timer. The model benchmarks are
// `convkit bench` (lib/bench, shipped); its CPU-model reader is the one used here.
import { cpuModel } from '../dist/bench/host.js';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

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

/** A script's usage: its header comment (the leading // lines, after a #! line), unmarked. */
export function scriptUsage(scriptUrl) {
  const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
  const from = lines[0]?.startsWith('#!') ? 1 : 0;
  const to = lines.findIndex((l, i) => i >= from && !l.startsWith('//'));
  return lines
    .slice(from, to < 0 ? lines.length : to)
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n');
}

/**
 * parseArgs for a bench script (options as node:util's), with --help added: --help prints the
 * script's usage (scriptUsage) and exits 0; an unknown or malformed option prints its error and
 * the usage to stderr and exits 2, instead of a stack trace. Returns the values.
 */
export function scriptArgs(scriptUrl, options) {
  let parsed;
  try {
    parsed = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } } });
  } catch (e) {
    process.stderr.write(`${e.message}\n\n${scriptUsage(scriptUrl)}\n`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${scriptUsage(scriptUrl)}\n`);
    process.exit(0);
  }
  return parsed.values;
}
