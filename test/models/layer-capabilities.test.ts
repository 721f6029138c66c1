// Layers declare what they can do (stochastic state, a fusable activation) and trainers walk the
// layer tree for it: a Dropout inside a nested Sequential must get everything a top-level one
// gets (no recorded step, a fit() that runs eagerly so its masks advance, its offset saved and
// restored), and the criterion is an object the Model calls instead of a string it branches on.
import t from 'tap';
import { CrossEntropyLoss, RbfLoss, Tensor, describeModel, evaluate, fit, lenet5 } from '../../lib/index.js';
import { Dropout, Flatten, Linear, ReLU, Sequential, stochasticLayers, layerTree, type FusableActivation } from '../../lib/layers/index.js';
import * as ops from '../../lib/ops/index.js';
import { Model } from '../../lib/models/model.js';
import { criterionFor } from '../../lib/models/criteria.js';
import { SGD } from '../../lib/optim/sgd.js';
import { applyDropoutOffsets, dropoutOffsets } from '../../lib/train/checkpointing.js';
import type { Batch, BatchSource } from '../../lib/train/types.js';

function nested(): Model {
  const block = new Sequential(
    [
      new Linear({ name: 'fc2', inFeatures: 6, outFeatures: 6, seed: 2 }),
      new ReLU('fc2.act'),
      new Dropout({ name: 'drop', p: 0.5, seed: 9 }),
    ],
    'block',
  );
  return new Model(
    'nested',
    new Sequential([
      new Flatten('flat'),
      new Linear({ name: 'fc1', inFeatures: 4, outFeatures: 6, seed: 1 }),
      block,
      new Linear({ name: 'fc3', inFeatures: 6, outFeatures: 3, seed: 3 }),
    ]),
    [1, 2, 2],
    'softmax-cross-entropy',
    {},
  );
}

/** Three batches of four 1x2x2 samples per epoch. */
const source: BatchSource = {
  batchesPerEpoch: 3,
  async *epoch(epoch: number, opts: { startBatch?: number } = {}): AsyncIterable<Batch> {
    for (let b = opts.startBatch ?? 0; b < 3; b++)
      yield {
        x: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + 7 * b + 31 * epoch)),
        labels: Int32Array.from([0, 1, 2, b % 3]),
        shape: [4, 1, 2, 2],
      };
  },
};

const nestedDrop = (m: Model) => (m.net.layers[2] as Sequential).layers[2] as Dropout;

t.test('a Dropout inside a nested Sequential is found by the layer-tree walk', async (t) => {
  const m = nested();
  t.same(
    layerTree(m.net).map((e) => e.path),
    ['flat', 'fc1', 'block', 'block.fc2', 'block.fc2.act', 'block.drop', 'fc3'],
  );
  const found = stochasticLayers(m.net);
  t.same(
    found.map((f) => f.path),
    ['block.drop'],
  );
  t.equal(found[0].layer, nestedDrop(m));
  m.dispose();
});

t.test('compileTrainStep refuses a nested dropout, naming it', async (t) => {
  const m = nested();
  const opt = new SGD(m.parameters(), { lr: 0.1 });
  t.throws(() => m.compileTrainStep(4, opt), {
    code: 'ND_ARG',
    message: /nested.compileTrainStep: the model has dropout \('block.drop'\)/,
  });
  opt.dispose();
  m.dispose();
});

t.test('fit() runs a model with a nested dropout eagerly: a fresh mask every step', async (t) => {
  const m = nested();
  const h = await fit(m, source, { epochs: 2, optimizer: { lr: 0.1 } });
  t.equal(h.steps, 6);
  // A recorded step would have drawn one mask at recording time and replayed it (offset 1).
  t.equal(nestedDrop(m).offset, 6, 'one mask drawn per step');
  h.optimizer.dispose();
  m.dispose();
});

t.test('checkpoint offsets: a nested dropout is saved by path and restored; a top-level one keeps its name as key', async (t) => {
  const m = nested();
  nestedDrop(m).offset = 17;
  t.same(dropoutOffsets(m), { 'block.drop': 17 });
  const fresh = nested();
  applyDropoutOffsets(fresh, { 'block.drop': 17, other: 3 });
  t.equal(nestedDrop(fresh).offset, 17, 'restored into the nested layer');
  applyDropoutOffsets(fresh, { 'block.drop': -1 });
  t.equal(nestedDrop(fresh).offset, 17, 'a bad offset is ignored');
  const top = new Model(
    'top',
    new Sequential([new Flatten('flat'), new Linear({ name: 'fc', inFeatures: 4, outFeatures: 3 }), new Dropout({ name: 'drop6' })]),
    [1, 2, 2],
    'softmax-cross-entropy',
    {},
  );
  (top.net.layers[2] as Dropout).offset = 4;
  t.same(dropoutOffsets(top), { drop6: 4 }, 'the key files written before used');
  for (const x of [m, fresh, top]) x.dispose();
});

t.test('criteria are objects: the same numbers as the stored names, mapped in one place', async (t) => {
  const modern = lenet5();
  t.ok(modern.criterion instanceof CrossEntropyLoss);
  modern.dispose();
  const classic = lenet5({ variant: 'classic' });
  t.ok(classic.criterion instanceof RbfLoss);
  t.equal(classic.criterion.outputIsPenalty, true);
  const flat = new Model(
    'flat',
    new Sequential([new Flatten('flat'), new Linear({ name: 'fc', inFeatures: 4, outFeatures: 3 })]),
    [1, 2, 2],
    new RbfLoss(),
    {},
  );
  t.equal((await describeModel(flat)).criterion, 'rbf-map', "the description stores the object's name");
  flat.dispose();
  t.throws(() => criterionFor('mse' as never, 'x'), { code: 'ND_ARG', message: /x: the criterion must be a Criterion object or one of/ });

  // A model given a criterion object (here one that counts its calls) runs it for every pass.
  const calls = { forward: 0, backward: 0 };
  const ce = new CrossEntropyLoss();
  const counting = Object.assign(Object.create(ce) as CrossEntropyLoss, {
    forward: (o: Tensor, l: Tensor) => (calls.forward++, ce.forward(o, l)),
    backward: (f: Parameters<CrossEntropyLoss['backward']>[0], l: Tensor) => (calls.backward++, ce.backward(f, l)),
  });
  const a = nested();
  const b = new Model('nested', nested().net, [1, 2, 2], counting, {});
  for (const m of [a, b]) m.eval(); // dropout off, so both are deterministic
  const x = Tensor.randn([4, 1, 2, 2], { seed: 1 });
  const labels = Tensor.fromArray(Int32Array.from([0, 1, 2, 0]), [4], { dtype: 'int32' });
  const ra = a.trainStep(x, labels);
  const rb = b.trainStep(x, labels);
  t.same(calls, { forward: 1, backward: 1 }, 'the object was called');
  t.same(Array.from(await rb.loss.data()), Array.from(await ra.loss.data()), 'same loss as the string form');
  t.same(Array.from(await b.parameters()[0].grad!.data()), Array.from(await a.parameters()[0].grad!.data()), 'same gradient');
  for (const u of [x, labels, ra.loss, ra.correct, rb.loss, rb.correct]) u.dispose();
  for (const m of [a, b, classic]) m.dispose();
});

t.test('modes are explicit: trainStep, evaluateBatch, predictProbs and evaluate() leave every layer as they found it', async (t) => {
  const m = nested();
  const modes = () => [m.net, ...layerTree(m.net).map((e) => e.layer)].map((l) => l.training);
  const x = Tensor.randn([4, 1, 2, 2], { seed: 2 });
  const labels = Tensor.fromArray(Int32Array.from([0, 1, 2, 0]), [4], { dtype: 'int32' });
  m.eval();
  const r = m.trainStep(x, labels);
  t.ok(
    modes().every((v) => v === false),
    'still eval after trainStep',
  );
  t.equal(nestedDrop(m).offset, 1, 'but the step ran in training mode (a mask was drawn)');
  m.train();
  const e = m.evaluateBatch(x, labels);
  const p = m.predictProbs(x);
  await evaluate(m, source);
  t.ok(
    modes().every((v) => v === true),
    'still training after evaluateBatch, predictProbs and evaluate()',
  );
  t.equal(nestedDrop(m).offset, 1, 'and those ran in eval mode (no mask drawn)');
  nestedDrop(m).eval(); // a per-layer mode is kept too
  m.predictProbs(x).dispose();
  t.equal(nestedDrop(m).training, false);
  t.equal(m.net.layers[1].training, true);
  for (const u of [x, labels, r.loss, r.correct, e.loss, e.correct, p]) u.dispose();
  m.dispose();
});

t.test('Sequential fuses through the capability: any layer that accepts an activation epilogue', async (t) => {
  // A Linear that declares it can apply a ReLU itself (here as linear + relu, counted).
  let fusedCalls = 0;
  class FusingLinear extends Linear {
    override forwardFused(x: Tensor, activation: FusableActivation): Tensor | null {
      if (activation !== 'relu' || this.training) return null;
      fusedCalls++;
      const y = this.forward(x);
      const r = ops.relu(y);
      y.dispose();
      return r;
    }
  }
  const relu = new ReLU('act');
  let reluCalls = 0;
  const plain = relu.forward.bind(relu);
  relu.forward = (x: Tensor) => (reluCalls++, plain(x));
  const net = new Sequential([new Flatten('flat'), new FusingLinear({ name: 'fc', inFeatures: 4, outFeatures: 3, seed: 4 }), relu]);
  const x = Tensor.randn([2, 1, 2, 2], { seed: 3 });
  const eager = net.forward(x); // training mode: no fusion
  t.same([fusedCalls, reluCalls], [0, 1], 'training runs the ReLU layer (its saved output is needed)');
  net.train(false);
  const fused = net.forward(x);
  t.same([fusedCalls, reluCalls], [1, 1], 'eval mode: the epilogue ran and the ReLU layer was skipped');
  t.same(Array.from(await fused.data()), Array.from(await eager.data()), 'same values');
  net.releaseSaved();
  for (const u of [x, eager, fused]) u.dispose();
  net.dispose();
});
