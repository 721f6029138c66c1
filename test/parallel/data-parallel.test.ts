// DataParallel over CPU streams equals one device trained on the whole batch: after 5 SGD steps
// (momentum and weight decay on, dropout off) every parameter agrees to 1e-5, for LeNet-5 in both
// forms and an AlexNet with narrow fully connected layers, with 2 and 3 replicas and batches that
// do not split evenly. The replicas stay identical to each other (same bytes).
import t from 'tap';
import { DataParallel, SGD, alexnet, lenet5, type Device, type Model } from '../../lib/index.js';
import { stateGap } from '../helpers/compare.js';
import { randomArray } from '../helpers/rng.js';

interface Case {
  name: string;
  build: (device: Device | 'cpu:0') => Model;
  sample: number[];
  classes: number;
  batch: number;
}

const cases: Case[] = [
  { name: 'lenet5 modern', build: (device) => lenet5({ seed: 11, device }), sample: [1, 28, 28], classes: 10, batch: 7 },
  {
    name: 'lenet5 classic',
    build: (device) => lenet5({ variant: 'classic', seed: 12, device }),
    sample: [1, 32, 32],
    classes: 10,
    batch: 8,
  },
  {
    name: 'alexnet paper, narrow fc',
    build: (device) => alexnet({ seed: 13, device, dropout: 0, fcWidth: 48, numClasses: 10 }),
    sample: [3, 227, 227],
    classes: 10,
    batch: 5,
  },
];

const opt = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
const STEPS = 5;

function batches(c: Case, steps: number) {
  const per = c.sample.reduce((a, b) => a * b, 1);
  return Array.from({ length: steps }, (_, s) => ({
    x: Float32Array.from(randomArray(c.batch * per, 1000 + s)),
    labels: Int32Array.from({ length: c.batch }, (_, i) => (i * 3 + s) % c.classes),
    shape: [c.batch, ...c.sample],
  }));
}

async function singleDevice(c: Case, data: ReturnType<typeof batches>) {
  const { Tensor } = await import('../../lib/index.js');
  const m = c.build('cpu:0');
  const initial = await m.stateDict();
  const sgd = new SGD(m.parameters(), opt);
  const losses: number[] = [];
  for (const b of data) {
    const x = Tensor.fromArray(b.x, b.shape);
    const labels = Tensor.fromArray(b.labels, [b.shape[0]], { dtype: 'int32' });
    const r = m.trainStep(x, labels);
    sgd.step();
    losses.push((await r.loss.data())[0]);
    for (const u of [x, labels, r.loss, r.correct]) u.dispose();
  }
  const state = await m.stateDict();
  sgd.dispose();
  m.net.dispose();
  // How far training moved the parameters: the 1e-5 agreement below must be small against it.
  let moved = 0;
  for (const [name, v] of Object.entries(state))
    for (let i = 0; i < v.data.length; i++) moved = Math.max(moved, Math.abs(v.data[i] - initial[name].data[i]));
  return { state, losses, moved };
}

for (const c of cases)
  t.test(`${c.name}: 2 and 3 replicas equal one device after ${STEPS} steps (batch ${c.batch})`, async (t) => {
    const data = batches(c, STEPS);
    const ref = await singleDevice(c, data);
    t.ok(ref.moved > 1e-3, `one device's training moves the parameters (by up to ${ref.moved.toExponential(2)})`);
    for (const replicas of [2, 3]) {
      const devices = Array.from({ length: replicas }, (_, i) => `cpu:${i + 1}` as const);
      // Replica r gets another seed: the broadcast of replica 0's values must make them equal.
      const dp = new DataParallel((device, r) => (r === 0 ? c.build(device) : lenetOrAlexWithSeed(c, device, 100 + r)), { devices });
      const sgd = dp.createOptimizer(opt);
      const losses: number[] = [];
      for (const b of data) {
        const step = dp.trainBatch(b.x, b.shape, b.labels);
        sgd.step();
        losses.push(await step.loss);
      }
      const states = await Promise.all(dp.replicas.map((m) => m.stateDict()));
      const { worst, where } = stateGap(states[0], ref.state);
      t.ok(worst <= 1e-5, `${replicas} replicas: every parameter within 1e-5 of one device (worst ${worst.toExponential(2)} at ${where})`);
      for (let r = 1; r < replicas; r++) {
        const same = Object.entries(states[0]).every(([name, v]) =>
          Buffer.from(v.data.buffer).equals(Buffer.from(states[r][name].data.buffer)),
        );
        t.ok(same, `replica ${r} holds the same bytes as replica 0`);
      }
      const lossGap = Math.max(...losses.map((l, i) => Math.abs(l - ref.losses[i])));
      t.ok(lossGap <= 1e-5, `the whole batch's mean loss matches every step (worst gap ${lossGap.toExponential(2)})`);
      sgd.dispose();
      dp.dispose();
    }
  });

/** The same architecture with another seed (so the replicas start different before the broadcast). */
function lenetOrAlexWithSeed(c: Case, device: Device, seed: number): Model {
  if (c.name === 'lenet5 modern') return lenet5({ seed, device });
  if (c.name === 'lenet5 classic') return lenet5({ variant: 'classic', seed, device });
  return alexnet({ seed, device, dropout: 0, fcWidth: 48, numClasses: 10 });
}
