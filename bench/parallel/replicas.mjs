#!/usr/bin/env node
// Data-parallel training over CPU streams on this machine: images/s of one replica with every
// thread against R replicas sharing the threads out, in turns (A, B, A, B, ...) in one process,
// one JSON line per configuration with min/median/max over the rounds and the ratio of medians.
// The same DataParallel code path runs both (a one-device DataParallel is one replica), so the
// ratio measures the split and the all-reduce, not a different training loop.
//
//   node bench/parallel/replicas.mjs [--model lenet5|alexnet|both] [--rounds 5] [--steps N] [--batch N] [--replicas 2]
//
// Needs the dist build (npm run build).
import { DataParallel, alexnet, lenet5 } from '../../dist/index.js';
import { cpuModel } from '../../dist/bench/host.js';
import { roundSpread, spread } from '../../dist/bench/timing.js';
import { native } from '../../dist/native.js';
import { scriptArgs } from '../lib.mjs';

const values = scriptArgs(import.meta.url, {
  model: { type: 'string', default: 'both' },
  rounds: { type: 'string', default: '5' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  replicas: { type: 'string', default: '2' },
});
const rounds = Number(values.rounds);
const replicas = Number(values.replicas);
const threads = native.threads();

const models = {
  lenet5: { build: (device) => lenet5({ seed: 1, device }), sample: [1, 28, 28], classes: 10, batch: 256, steps: 20 },
  alexnet: {
    build: (device) => alexnet({ seed: 1, device, dropout: 0 }),
    sample: [3, 227, 227],
    classes: 1000,
    batch: 32,
    steps: 3,
  },
};

async function timeSteps(dp, opt, x, shape, labels, steps) {
  // Two steps first: the pool and the caches warm up, and the step is in a steady state.
  for (let i = 0; i < 2; i++) {
    const s = dp.trainBatch(x, shape, labels);
    opt.step();
    await s.loss;
  }
  const t0 = performance.now();
  let last = null;
  for (let i = 0; i < steps; i++) {
    const s = dp.trainBatch(x, shape, labels);
    opt.step();
    if (last) await last.loss; // one batch in flight, as fit() keeps it
    last = s;
  }
  await last.loss;
  return (steps * shape[0]) / ((performance.now() - t0) / 1000);
}

const which = values.model === 'both' ? ['lenet5', 'alexnet'] : [values.model];
for (const name of which) {
  const m = models[name];
  if (!m) throw new Error(`replicas.mjs: unknown model ${name}`);
  const batch = Number(values.batch ?? m.batch);
  const steps = Number(values.steps ?? m.steps);
  const per = m.sample.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: batch * per }, (_, i) => Math.sin(i * 0.37));
  const labels = Int32Array.from({ length: batch }, (_, i) => i % m.classes);
  const shape = [batch, ...m.sample];
  const configs = [
    { label: `1x${threads}`, devices: ['cpu:1'], threadsPerReplica: threads },
    {
      label: `${replicas}x${Math.max(1, Math.floor(threads / replicas))}`,
      devices: Array.from({ length: replicas }, (_, i) => `cpu:${i + 1}`),
      threadsPerReplica: Math.max(1, Math.floor(threads / replicas)),
    },
  ];
  const samples = configs.map(() => []);
  for (let r = 0; r < rounds; r++)
    for (const [i, c] of configs.entries()) {
      const dp = new DataParallel(m.build, { devices: c.devices, threadsPerReplica: c.threadsPerReplica });
      const opt = dp.createOptimizer({ lr: 0.001, momentum: 0.9, weightDecay: 5e-4 });
      samples[i].push(await timeSteps(dp, opt, x, shape, labels, steps));
      opt.dispose();
      dp.dispose();
    }
  const medians = samples.map((s) => spread(s).median);
  for (const [i, c] of configs.entries())
    console.log(
      JSON.stringify({
        bench: 'data-parallel-cpu',
        device: `${cpuModel()} (${threads} threads), ${c.devices.join('+')}`,
        model: name,
        config: c.label,
        replicas: c.devices.length,
        threadsPerReplica: c.threadsPerReplica,
        batch,
        steps,
        rounds,
        imagesPerSec: roundSpread(spread(samples[i])),
        ratioToOneReplica: +(medians[i] / medians[0]).toFixed(3),
      }),
    );
}
