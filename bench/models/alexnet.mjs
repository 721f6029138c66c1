// AlexNet (the paper form: groups, LRN, 227x227) training and inference throughput, the peak host
// memory of a batch-64 training step, and PyTorch CPU (the same net in torch.nn, the same batch,
// the same thread count) measured in the same run when /usr/bin/python3 has torch. JSON lines.
//
// FLOPs are counted from the layer shapes: 2 per multiply-add of every conv and fc weight at every
// output position; a training step is forward + backward-data + backward-weights, i.e. 3x the
// forward, minus conv1's backward-data, which neither library computes (the input needs no grad).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, device, backends, memory, resetPeakMemory, Conv2d, Linear } from '../../dist/index.js';
import { alexnet } from '../../dist/models/index.js';
import { SGD } from '../../dist/optim/sgd.js';
import { deviceName, emit, timeInTurns, timeIt } from '../lib.mjs';
import { ortAlexNet } from '../ort-peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// `--only train` or `--only inference` runs one half (the PyTorch peer still runs both).
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && only !== 'train' && only !== 'inference') throw new Error(`--only: expected 'train' or 'inference', got ${only}`);
const threads = backends()[0].details.threads;
const dev = deviceName('cpu:0', threads);
const cpu = device('cpu');
const ours = {};

const model = alexnet({ variant: 'paper', seed: 0 });

/** Forward FLOPs per image and conv1's share, walking the layers with their shapes. */
function flopsPerImage(m) {
  let shape = m.inputShape;
  let forward = 0;
  let first = 0;
  for (const l of m.net.layers) {
    const out = l.outputShape(shape);
    let f = 0;
    if (l instanceof Conv2d) f = 2 * l.weight.value.size * out[1] * out[2];
    else if (l instanceof Linear) f = 2 * l.weight.value.size;
    if (f && !first) first = f;
    forward += f;
    shape = out;
  }
  return { forward, train: 3 * forward - first };
}
const flops = flopsPerImage(model);
emit({ bench: 'alexnet', device: dev, variant: 'paper', gflop_per_image_forward: flops.forward / 1e9, gflop_per_image_train: flops.train / 1e9 });

const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
const trainStep = (x, labels) => {
  const { loss, correct } = model.trainStep(x, labels);
  opt.step();
  loss.dispose();
  correct.dispose();
};
for (const batch of only === 'inference' ? [] : [16, 64]) {
  const x = Tensor.randn([batch, 3, 227, 227], { seed: 1 });
  const labels = Tensor.fromArray(Int32Array.from({ length: batch }, (_, i) => (i * 37) % 1000));
  const steps = batch === 16 ? 4 : 1;
  const r = await timeIt(async () => {
    for (let i = 0; i < steps; i++) trainStep(x, labels);
    await cpu.synchronize();
  }, { warmup: 1, iters: 3, minMs: 3000 });
  const ms = r.ms / steps;
  const ips = (batch / ms) * 1e3;
  ours[`train:${batch}`] = ips;
  emit({ bench: 'alexnet', impl: 'convkit', device: dev, variant: 'paper', pass: 'train', batch, ms, images_per_s: ips, gflops: (ips * flops.train) / 1e9 });
  if (batch === 64) {
    // The step's own footprint: the pool's peak over one step after the warm-up steps.
    resetPeakMemory();
    const before = memory().hostPool.liveBytes;
    trainStep(x, labels);
    await cpu.synchronize();
    const m = memory().hostPool;
    emit({ bench: 'alexnet', impl: 'convkit', device: dev, variant: 'paper', pass: 'train', batch, peak_host_bytes: m.peakBytes, peak_host_mib: m.peakBytes / 2 ** 20, live_before_step_mib: before / 2 ** 20 });
  }
  x.dispose();
  labels.dispose();
}
opt.dispose();

model.eval();
// Inference: the eager path (model.predictProbs, one queued op per layer) and the compiled one
// (compilePredictor: the op list recorded once, one queued op per call), with onnxruntime-node
// on the same net taken in turns with them when it is installed (bench/ort-peer.mjs).
const ort = only === 'train' ? { skipped: '--only train' } : await ortAlexNet(threads);
if (ort.skipped) emit({ bench: 'alexnet', impl: 'onnxruntime-node', device: dev, skipped: ort.skipped });
for (const batch of only === 'train' ? [] : [1, 32]) {
  const shape = [batch, 3, 227, 227];
  const x = Tensor.randn(shape, { seed: 2 });
  const xHost = await x.data();
  const predictor = model.compilePredictor(batch);
  const reps = batch === 1 ? 10 : 1;
  // Latency of one prediction, probabilities read back (what a server sees per request).
  const repeat = (once) => async () => {
    for (let i = 0; i < reps; i++) await once();
  };
  const runs = {
    eager: repeat(async () => {
      const p = model.predictProbs(x);
      await p.data();
      p.dispose();
    }),
    compiled: repeat(async () => {
      const p = predictor.predict(x);
      await p.data();
      p.dispose();
    }),
  };
  if (!ort.skipped) runs.ort = repeat(() => ort.run(xHost, shape));
  const r = await timeInTurns(runs, { warmup: 1, iters: 5, minMs: 2000 });
  for (const [name, t] of Object.entries(r)) {
    const ms = t.ms / reps;
    const ips = (batch / ms) * 1e3;
    const impl = name === 'ort' ? ort.impl : 'convkit';
    const path = name === 'ort' ? undefined : name;
    emit({ bench: 'alexnet', impl, path, device: dev, variant: 'paper', pass: 'inference', batch, ms, images_per_s: ips, gflops: (ips * flops.forward) / 1e9 });
  }
  const best = Math.min(r.eager.ms, r.compiled.ms);
  ours[`inference:${batch}`] = (batch / (best / reps)) * 1e3;
  if (r.ort) emit({ bench: 'alexnet', device: dev, variant: 'paper', pass: 'inference', batch, peer: ort.impl, ratio_vs_peer: r.ort.ms / best });
  predictor.dispose();
  x.dispose();
}
model.dispose();

const py = process.env.CONVKIT_BENCH_NO_TORCH
  ? { status: 1, stderr: 'skipped: CONVKIT_BENCH_NO_TORCH is set' }
  : spawnSync('/usr/bin/python3', [join(here, 'alexnet_torch.py'), String(threads)], { encoding: 'utf8' });
if (py.status !== 0) {
  emit({ bench: 'alexnet', impl: 'pytorch', device: dev, skipped: `PyTorch peer did not run: ${(py.stderr || String(py.error)).trim().split('\n').pop()}` });
} else {
  for (const line of py.stdout.trim().split('\n')) {
    const row = JSON.parse(line);
    if (row.images_per_s) row.gflops = (row.images_per_s * (row.pass === 'train' ? flops.train : flops.forward)) / 1e9;
    emit(row);
    const mine = ours[`${row.pass}:${row.batch}`];
    if (mine) emit({ bench: 'alexnet', device: dev, variant: 'paper', pass: row.pass, batch: row.batch, ratio_vs_pytorch: mine / row.images_per_s });
  }
}
