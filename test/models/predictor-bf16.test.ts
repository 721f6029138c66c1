// Model.compilePredictor(batch, { precision: 'bf16' }): Linear layers run with bf16 weights
// (ops.linearBf16), everything else as the fp32 predictor. Its outputs stay close to fp32 (and
// its argmax on real MNIST digits matches), it is never the default, and its packed weights
// follow the library's in-place writes (SGD, compiled train steps, loadStateDict) instead of
// serving stale ones.
import t from 'tap';
import { InferenceSession, Linear, Tensor, loadMnist, ops, type Model } from '../../lib/index.js';
import { layersBelow } from '../../lib/layers/layer.js';
import { lenet5, sequentialModel } from '../../lib/models/index.js';
import { SGD } from '../../lib/optim/sgd.js';
import { randomArray } from '../helpers/rng.js';
import { MNIST_DIR } from '../train/helpers.js';

/** The net's raw output (logits) in eval mode, with every Linear on bf16 weights when `bf16`. */
async function logits(model: Model, x: Tensor, bf16: boolean): Promise<Float32Array> {
  const linears = layersBelow(model.net).filter((l): l is Linear => l instanceof Linear);
  const packs = bf16 ? linears.map((l) => ops.packBf16(l.weight.value)) : [];
  packs.forEach((p, i) => (linears[i].packedBf16 = p));
  model.eval();
  try {
    const y = model.net.forward(x);
    const out = (await y.data()) as Float32Array;
    y.dispose();
    return out;
  } finally {
    linears.forEach((l) => (l.packedBf16 = null));
    packs.forEach((p) => p.dispose());
  }
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

const argmax = (p: Float32Array, n: number, k: number) =>
  Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
    return best;
  });

t.test('bf16 predictors run the bf16 ops and stay close to fp32 (LeNet-5 both forms, a small MLP)', async (t) => {
  const mlp = sequentialModel(
    [
      { kind: 'flatten', name: 'flat' },
      { kind: 'linear', name: 'a', inFeatures: 75, outFeatures: 37 },
      { kind: 'relu', name: 'a.relu' },
      { kind: 'linear', name: 'b', inFeatures: 37, outFeatures: 5 },
    ],
    { inputShape: [3, 5, 5], name: 'mlp', seed: 2 },
  );
  for (const model of [lenet5({ variant: 'modern', seed: 3 }), lenet5({ variant: 'classic', seed: 3 }), mlp]) {
    for (const batch of [1, 6]) {
      const fp = model.compilePredictor(batch);
      const bf = model.compilePredictor(batch, { precision: 'bf16' });
      t.equal(fp.precision, 'fp32', 'fp32 is the default');
      t.equal(bf.precision, 'bf16');
      t.equal(bf.opCount, fp.opCount, `${model.name} batch ${batch}: one op per layer, as fp32`);
      const x = Tensor.randn([batch, ...model.inputShape], { seed: batch });
      const pb = (await bf.predict(x).data()) as Float32Array;
      const pf = (await fp.predict(x).data()) as Float32Array;
      const want = (await model.predictProbs(x).data()) as Float32Array;
      t.same(Array.from(pf), Array.from(want), `${model.name} batch ${batch}: fp32 predictor unchanged`);
      const lb = await logits(model, x, true);
      const lf = await logits(model, x, false);
      const rel = relDiff(lb, lf);
      t.ok(rel > 0 && rel < 1e-2, `${model.name} batch ${batch}: logits differ by ${rel.toExponential(2)} of the largest`);
      t.ok(relDiff(pb, pf) < 1e-2, `${model.name} batch ${batch}: probabilities close`);
      for (const u of [fp, bf, x]) u.dispose();
    }
    model.dispose();
  }
});

t.test('a trained LeNet-5 gives the same digits on real MNIST test images with bf16 weights', async (t) => {
  const model = lenet5({ variant: 'modern', seed: 1 });
  const train = await loadMnist(MNIST_DIR, { split: 'train' });
  const test = await loadMnist(MNIST_DIR, { split: 'test' });
  const px = 28 * 28;
  const batchOf = (m: typeof train, from: number, n: number) => {
    const v = new Float32Array(n * px);
    for (let i = 0; i < n * px; i++) v[i] = (m.images[from * px + i] / 255 - 0.1307) / 0.3081;
    return Tensor.fromArray(v, [n, 1, 28, 28]);
  };
  // 600 SGD steps (~19k images, a second or two): far from converged (about 85% on these
  // digits) but with real margins, unlike random weights.
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const step = model.compileTrainStep(32, opt);
  for (let s = 0; s < 600; s++) {
    const x = batchOf(train, s * 32, 32);
    const y = Tensor.fromArray(Int32Array.from(train.labels.subarray(s * 32, s * 32 + 32)));
    const r = step.step(x, y);
    for (const u of [x, y, r.loss, r.correct]) u.dispose();
  }
  const n = 500;
  const fp = model.compilePredictor(n);
  const bf = model.compilePredictor(n, { precision: 'bf16' });
  const x = batchOf(test, 0, n);
  const pf = (await fp.predict(x).data()) as Float32Array;
  const af = argmax(pf, n, 10);
  const ab = argmax((await bf.predict(x).data()) as Float32Array, n, 10);
  const accuracy = af.filter((c, i) => c === test.labels[i]).length / n;
  t.ok(accuracy > 0.8, `fp32 accuracy ${accuracy}`);
  // A digit may change only where fp32 itself nearly ties its top two classes.
  const margin = (i: number) => {
    const row = Array.from(pf.subarray(i * 10, i * 10 + 10)).sort((a, b) => b - a);
    return row[0] - row[1];
  };
  const flips = af.flatMap((c, i) => (c === ab[i] ? [] : [margin(i)]));
  t.ok(
    flips.length <= 2 && flips.every((m) => m < 0.02),
    `${n - flips.length} of ${n} match; fp32 margins where not: [${flips.join(', ')}]`,
  );
  for (const u of [fp, bf, x, step, model]) u.dispose();
  opt.dispose?.();
});

t.test('the packed weights follow SGD steps, compiled steps and loadStateDict; refresh() after other writes', async (t) => {
  const model = lenet5({ seed: 4 });
  const bf = model.compilePredictor(2, { precision: 'bf16' });
  const x = Tensor.randn([2, 1, 28, 28], { seed: 5 });
  const labels = Tensor.fromArray(Int32Array.from([3, 7]));
  const fresh = async () => {
    const p = model.compilePredictor(2, { precision: 'bf16' });
    const out = Array.from(await p.predict(x).data());
    p.dispose();
    return out;
  };
  const before = Array.from(await bf.predict(x).data());
  const state = await model.stateDict();
  const opt = new SGD(model.parameters(), { lr: 0.5 });
  const r = model.trainStep(x, labels);
  opt.step();
  const afterSgd = Array.from(await bf.predict(x).data());
  t.notSame(afterSgd, before, 'the prediction moved with the weights');
  t.same(afterSgd, await fresh(), 'and equals a predictor compiled now');
  t.equal(bf.repacks, 1, 'packed again once');
  t.equal(bf.rerecords, 0, 'without recording again');
  const plan = model.compileTrainStep(2, opt);
  const s = plan.step(x, labels);
  t.same(Array.from(await bf.predict(x).data()), await fresh(), 'after a compiled train step');
  model.loadStateDict(state);
  t.same(Array.from(await bf.predict(x).data()), before, 'after loadStateDict: the old weights again');
  t.equal(bf.repacks, 3);
  // A write the library does not see: the predictor keeps its packs until refresh().
  const w = model.parameters().find((p) => p.name.endsWith('.weight') && p.value.shape.length === 2)!;
  ops.copyInto(Tensor.zeros(w.value.shape), w.value);
  t.same(Array.from(await bf.predict(x).data()), before, 'an unseen write: still the snapshot');
  bf.refresh();
  t.same(Array.from(await bf.predict(x).data()), await fresh(), 'refresh() packs the current weights');
  for (const u of [bf, x, labels, r.loss, r.correct, s.loss, s.correct, plan]) u.dispose();
  opt.dispose?.();
  model.dispose();
});

t.test('compilePredictor refuses an unknown precision with a coded error', async (t) => {
  const model = lenet5({ seed: 6 });
  t.throws(() => model.compilePredictor(1, { precision: 'fp16' as never }), {
    code: 'ND_ARG',
    message: /compilePredictor: unknown precision "fp16" \(expected fp32 or bf16\)/,
  });
  t.throws(() => model.compilePredictor(1, null as never), { code: 'ND_ARG' });
  const p = model.compilePredictor(1, { precision: 'fp32' });
  t.equal(p.precision, 'fp32');
  p.dispose();
  model.dispose();
});

t.test('InferenceSession passes precision through to its predictors', async (t) => {
  const model = lenet5({ seed: 8 });
  const x = Float32Array.from(randomArray(28 * 28, 9));
  const fp = await InferenceSession.create(model, { maxBatchSize: 2 });
  const bf = await InferenceSession.create(model, { maxBatchSize: 2, precision: 'bf16' });
  const a = await fp.run(x);
  const b = await bf.run(x);
  t.ok(relDiff(b, a) < 1e-2 && relDiff(b, a) > 0, `probabilities within ${relDiff(b, a).toExponential(2)}`);
  await t.rejects(InferenceSession.create(model, { precision: 'int8' as never }), { code: 'ND_ARG', message: /unknown precision int8/ });
  await fp.close();
  await bf.close();
  model.dispose();
});
