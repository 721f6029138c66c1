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
for (const batch of [64, 256]) {
  const x = Tensor.randn([batch, 1, 28, 28], { seed: 1 });
  const labels = Tensor.fromArray(Int32Array.from({ length: batch }, (_, i) => i % 10));
  const steps = 10;
  // Several steps per timing so the queue stays full, as in fit().
  const r = await timeIt(async () => {
    for (let i = 0; i < steps; i++) {
      const { loss, correct } = model.trainStep(x, labels);
      opt.step();
      loss.dispose();
      correct.dispose();
    }
    await cpu.synchronize();
  }, { warmup: 1, iters: 5, minMs: 1500 });
  const ms = r.ms / steps;
  ours[`train:${batch}`] = (batch / ms) * 1e3;
  emit({ bench: 'lenet5', impl: 'convkit', device: dev, pass: 'train', batch, ms, images_per_s: (batch / ms) * 1e3 });
  x.dispose();
  labels.dispose();
}
model.eval();
for (const batch of [1, 256]) {
  const x = Tensor.randn([batch, 1, 28, 28], { seed: 2 });
  const reps = batch === 1 ? 200 : 10;
  // Latency of one prediction, data read back included (what a server sees per request).
  const r = await timeIt(async () => {
    for (let i = 0; i < reps; i++) {
      const p = model.predictProbs(x);
      await p.data();
      p.dispose();
    }
  }, { warmup: 1, iters: 5, minMs: 1500 });
  const ms = r.ms / reps;
  ours[`inference:${batch}`] = (batch / ms) * 1e3;
  emit({ bench: 'lenet5', impl: 'convkit', device: dev, pass: 'inference', batch, ms, images_per_s: (batch / ms) * 1e3 });
  x.dispose();
}

const py = spawnSync('/usr/bin/python3', [join(here, 'lenet5_torch.py'), String(threads)], { encoding: 'utf8' });
if (py.status !== 0) {
  emit({ bench: 'lenet5', impl: 'pytorch', device: dev, skipped: `PyTorch peer did not run: ${(py.stderr || String(py.error)).trim().split('\n').pop()}` });
} else {
  for (const line of py.stdout.trim().split('\n')) {
    const row = JSON.parse(line);
    emit(row);
    const mine = ours[`${row.pass}:${row.batch}`];
    if (mine) emit({ bench: 'lenet5', device: dev, pass: row.pass, batch: row.batch, ratio_vs_pytorch: mine / row.images_per_s });
  }
}
