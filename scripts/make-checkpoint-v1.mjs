#!/usr/bin/env node
// Writes test/fixtures/checkpoint-v1: a LeNet-5 checkpoint pair (weights + SGD momentum state)
// after a few steps on fixed MNIST test images, and expected.json with what the code that wrote
// it computed for one more step from there. Run it ON THE OLD CODE (the commit before flat
// parameters, 79a42ae) after `npm run build`; the fixture pins that code's file format and step,
// and test/train/checkpoint-v1.test.ts checks that today's code loads it and repeats the step.
//   node scripts/make-checkpoint-v1.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SGD, Tensor, lenet5, loadMnist, saveTrainingCheckpoint } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test', 'fixtures', 'checkpoint-v1');
const recipe = {
  model: { variant: 'modern', seed: 7 },
  optimizer: { lr: 0.05, momentum: 0.9, weightDecay: 0.001, form: 'pytorch' },
  data: { dir: '../shared/data/mnist', split: 'test', batch: 8, mean: 0.1307, std: 0.3081 },
  // Batches are images [b*batch, (b+1)*batch) of the split, normalized (p/255 - mean)/std.
  stepsBefore: [0, 1, 2],
  nextBatch: 3,
};

function batchOf(mnist, b) {
  const n = recipe.data.batch;
  const px = mnist.rows * mnist.cols;
  const x = new Float32Array(n * px);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = b * n + i;
    for (let j = 0; j < px; j++) x[i * px + j] = (mnist.images[k * px + j] / 255 - recipe.data.mean) / recipe.data.std;
    labels[i] = mnist.labels[k];
  }
  return { x: Tensor.fromArray(x, [n, 1, mnist.rows, mnist.cols]), labels: Tensor.fromArray(labels, [n], { dtype: 'int32' }) };
}

async function step(model, opt, batch) {
  const { x, labels } = batch;
  const r = model.trainStep(x, labels);
  opt.step();
  const loss = (await r.loss.data())[0];
  for (const t of [r.loss, r.correct, x, labels]) t.dispose();
  return loss;
}

const mnist = await loadMnist(join(root, recipe.data.dir), { split: recipe.data.split });
const model = lenet5(recipe.model);
const opt = new SGD(model.parameters(), recipe.optimizer);
for (const b of recipe.stepsBefore) await step(model, opt, batchOf(mnist, b));
mkdirSync(out, { recursive: true });
const path = join(out, 'lenet5.safetensors');
await saveTrainingCheckpoint(path, model, opt, { epoch: 0, batch: recipe.stepsBefore.length, step: recipe.stepsBefore.length, seed: 7 });

const loss = await step(model, opt, batchOf(mnist, recipe.nextBatch));
// A few values of every parameter and velocity after the step: the first, a middle and the last.
const sample = async (t) => {
  const d = await t.data();
  return [0, d.length >> 1, d.length - 1].map((i) => ({ index: i, value: d[i] }));
};
const params = {};
for (const p of model.parameters()) params[p.name] = await sample(p.value);
const velocity = {};
for (const [name, v] of opt.state()) velocity[name] = await sample(v);
writeFileSync(
  join(out, 'expected.json'),
  JSON.stringify(
    { generator: 'scripts/make-checkpoint-v1.mjs (convkit before flat parameters)', recipe, next: { loss, params, velocity } },
    null,
    1,
  ) + '\n',
);
opt.dispose();
model.dispose();
console.log(`wrote ${out}`);
