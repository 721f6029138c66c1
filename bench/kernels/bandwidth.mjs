// Memory bandwidth of this run (STREAM-like copy and b = s*a + b on arrays far larger than the
// caches, through convkit's own multithreaded elementwise kernels) next to what AlexNet's batch-1
// fully connected layers get out of it: fc6-fc8 read 235 MB of weights per image, so their speed
// is a bandwidth, and its share of the triad's says how far the GEMV is from the limit.
//
//   node bench/kernels/bandwidth.mjs [--rounds 7] [--mib 256]
//
// The three are taken in turns, round by round, so a neighbour's load moves all of them alike.
import { Tensor, alexnet, device, ops } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { deviceInfo } from '../../dist/bench/host.js';
import { scriptArgs } from '../lib.mjs';

const values = scriptArgs(import.meta.url, { rounds: { type: 'string', default: '7' }, mib: { type: 'string', default: '256' } });
const rounds = Number(values.rounds);
const dev = device('cpu');
const info = deviceInfo(dev);
const n = (Number(values.mib) * 2 ** 20) / 4;
const a = Tensor.uniform([n], { seed: 1 });
const b = Tensor.uniform([n], { seed: 2 });
const model = alexnet({ variant: 'paper' });
const predictor = model.compilePredictor(1);
const x = Tensor.randn([1, ...model.inputShape], { seed: 3 });
const out = new Float32Array(predictor.outputSize);
const fcBytes = model.net.layers
  .filter((l) => l.constructor.name === 'Linear')
  .reduce((s, l) => s + 4 * (l.inFeatures * l.outFeatures + l.outFeatures), 0);

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const spread = (xs) => ({ min: Math.min(...xs), median: median(xs), max: Math.max(...xs) });
const round = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 10) / 10]));

async function timeIt(fn, reps) {
  await dev.synchronize();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  await dev.synchronize();
  return (performance.now() - t0) / 1000 / reps;
}

const copy = [],
  triad = [],
  fc = [],
  fcShare = [];
await predictor.run(x, { out });
for (let r = 0; r < rounds + 1; r++) {
  // copy: read a, write b (2 streams); axpby: read a and b, write b (3 streams), STREAM's triad.
  // (convkit has no multithreaded read-only reduction to time: ops.sum is a serial float64 sum.)
  const tc = await timeIt(() => ops.copyInto(a, b), 4);
  const tt = await timeIt(() => ops.axpbyInPlace(a, b, 0.5, 1), 4);
  native.trace(true);
  for (let i = 0; i < 5; i++) await predictor.run(x, { out });
  const rows = native.trace(false);
  const linearMs = rows.filter((q) => q.op === 'linear').reduce((s, q) => s + (q.endNs - q.startNs) / 1e6, 0) / 5;
  if (r === 0) continue; // warm-up round
  copy.push((2 * 4 * n) / tc / 1e9);
  triad.push((3 * 4 * n) / tt / 1e9);
  const gbs = fcBytes / (linearMs / 1000) / 1e9;
  fc.push(gbs);
  fcShare.push(gbs / ((3 * 4 * n) / tt / 1e9));
}
const line = (o) => console.log(JSON.stringify({ bench: 'bandwidth', device: info, rounds, ...o }));
line({ op: 'copy', mib_per_array: Number(values.mib), gb_per_s: round(spread(copy)) });
line({ op: 'axpby (triad-like)', mib_per_array: Number(values.mib), gb_per_s: round(spread(triad)) });
line({
  op: 'alexnet fc6-fc8 at batch 1 (compiled predictor)',
  weight_mib: Math.round(fcBytes / 2 ** 20),
  gb_per_s: round(spread(fc)),
  share_of_triad: Object.fromEntries(Object.entries(spread(fcShare)).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
});
