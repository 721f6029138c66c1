// LeNet-5 (modern) training and inference throughput, with PyTorch CPU (same net, same batch,
// same thread count) measured in the same run when /usr/bin/python3 has torch. JSON lines.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, device, backends } from '../../dist/index.js';
import { lenet5 } from '../../dist/models/index.js';
import { SGD } from '../../dist/optim/sgd.js';
import { deviceName, emit, timeIt } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const threads = backends()[0].details.threads;
const dev = deviceName('cpu:0', threads);
const cpu = device('cpu');
const ours = {};

const model = lenet5({ seed: 0 });
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
// Training two ways: a compiled step (trainStep + opt.step recorded once, replayed as one queued
// op per batch) and the eager calls (about 40 queued ops per step). The 'train' rows, compared
// with PyTorch, are the compiled ones; 'train-eager' rows get their own ratio.
for (const batch of [64, 256]) {
  const x = Tensor.randn([batch, 1, 28, 28], { seed: 1 });
  const labels = Tensor.fromArray(Int32Array.from({ length: batch }, (_, i) => i % 10));
  const steps = 10;
  const plan = model.compileTrainStep(batch, opt);
  for (const mode of ['compiled', 'eager']) {
    const step = mode === 'compiled' ? () => plan.step(x, labels) : () => {
      const r = model.trainStep(x, labels);
      opt.step();
      return r;
    };
    // As fit() does: one step in flight; the loss of step i-1 is read after step i is queued.
    const r = await timeIt(async () => {
      let prev = null;
      for (let i = 0; i < steps; i++) {
        const cur = step();
        if (prev) {
          await prev.loss.data();
          prev.loss.dispose();
          prev.correct.dispose();
        }
        prev = cur;
      }
      await prev.loss.data();
      prev.loss.dispose();
      prev.correct.dispose();
      await cpu.synchronize();
    }, { warmup: 1, iters: 5, minMs: 1500 });
    const ms = r.ms / steps;
    const pass = mode === 'compiled' ? 'train' : 'train-eager';
    ours[`${pass}:${batch}`] = (batch / ms) * 1e3;
    emit({ bench: 'lenet5', impl: 'convkit', device: dev, pass, mode, batch, ms, images_per_s: (batch / ms) * 1e3 });
  }
  plan.dispose();
  x.dispose();
  labels.dispose();
}
model.eval();
// Inference two ways: a compiled predictor (the forward pass recorded once and replayed as one
// queued op: how a server should run a small net) and the eager predictProbs (one queued op per
// layer). The 'inference' rows, compared with PyTorch, are the compiled ones.
for (const batch of [1, 256]) {
  const x = Tensor.randn([batch, 1, 28, 28], { seed: 2 });
  const reps = batch === 1 ? 200 : 10;
  const predictor = model.compilePredictor(batch);
  for (const mode of ['compiled', 'eager']) {
    const predict = mode === 'compiled' ? (t) => predictor.predict(t) : (t) => model.predictProbs(t);
    // Latency of one prediction, data read back included (what a server sees per request).
    const r = await timeIt(async () => {
      for (let i = 0; i < reps; i++) {
        const p = predict(x);
        await p.data();
        p.dispose();
      }
    }, { warmup: 1, iters: 5, minMs: 1500 });
    const ms = r.ms / reps;
    const pass = mode === 'compiled' ? 'inference' : 'inference-eager';
    ours[`${pass}:${batch}`] = (batch / ms) * 1e3;
    emit({ bench: 'lenet5', impl: 'convkit', device: dev, pass, mode, batch, ms, images_per_s: (batch / ms) * 1e3 });
  }
  predictor.dispose();
  x.dispose();
}

const py = spawnSync('/usr/bin/python3', [join(here, 'lenet5_torch.py'), String(threads)], { encoding: 'utf8' });
if (py.status !== 0) {
  emit({ bench: 'lenet5', impl: 'pytorch', device: dev, skipped: `PyTorch peer did not run: ${(py.stderr || String(py.error)).trim().split('\n').pop()}` });
} else {
  for (const line of py.stdout.trim().split('\n')) {
    const row = JSON.parse(line);
    emit(row);
    for (const pass of [row.pass, `${row.pass}-eager`]) {
      const mine = ours[`${pass}:${row.batch}`];
      if (mine) emit({ bench: 'lenet5', device: dev, pass, batch: row.batch, ratio_vs_pytorch: mine / row.images_per_s });
    }
  }
}
