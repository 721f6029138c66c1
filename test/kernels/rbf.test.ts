import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randomArray } from '../helpers/rng.js';

function rbfRef(x: Float64Array, w: Float64Array, N: number, F: number, K: number): Float64Array {
  const y = new Float64Array(N * K);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < K; i++) {
      let s = 0;
      for (let j = 0; j < F; j++) s += (x[n * F + j] - w[i * F + j]) ** 2;
      y[n * K + i] = s;
    }
  return y;
}

function criterionRef(y: Float64Array, labels: number[], N: number, K: number, J: number): number {
  let e = 0;
  for (let n = 0; n < N; n++) {
    let z = Math.exp(-J);
    for (let i = 0; i < K; i++) z += Math.exp(-y[n * K + i]);
    e += y[n * K + labels[n]] + Math.log(z);
  }
  return e / N;
}

eachBackend(t, 'rbf forward/backward vs float64 and finite differences', { families: [], cuda: true }, async (t, be) => {
  for (const [N, F, K] of [
    [1, 1, 1],
    [3, 84, 10],
    [5, 7, 3],
  ]) {
    const x = f32(randomArray(N * F, F));
    const w = f32(randomArray(K * F, K + 1).map((v) => (v > 0 ? 1 : -1)));
    const g = f32(randomArray(N * K, 9));
    const X = Tensor.fromArray(x, [N, F], { device: be.device });
    const W = Tensor.fromArray(w, [K, F], { device: be.device });
    t.equal(
      mismatch(await ops.rbf(X, W).data(), rbfRef(x, w, N, F, K), tolFor(be, { rtol: 1e-5, atol: 1e-4 }, 'reduction')),
      null,
      `forward ${N}x${F}x${K}`,
    );
    const dx = ops.rbfBackward(Tensor.fromArray(g, [N, K], { device: be.device }), X, W);
    t.equal(
      mismatch(
        await dx.data(),
        numericGrad((v) => rbfRef(v, w, N, F, K), x, g),
        { rtol: 1e-4, atol: 1e-3 },
      ),
      null,
      'dx',
    );
  }
});

eachBackend(t, 'rbf criterion: loss, accuracy and gradient', { families: [], cuda: true }, async (t, be) => {
  const N = 6,
    K = 10,
    J = 0.1;
  const y = f32(randomArray(N * K, 3, 0, 8));
  const labels = [0, 3, 9, 2, 2, 7];
  const { loss, correct, dy } = ops.rbfCriterion(
    Tensor.fromArray(y, [N, K], { device: be.device }),
    Tensor.fromArray(new Int32Array(labels), undefined, { device: be.device }),
    { j: J },
  );
  t.ok(Math.abs((await loss.data())[0] - criterionRef(y, labels, N, K, J)) < 1e-5);
  let hits = 0;
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let i = 1; i < K; i++) if (y[n * K + i] < y[n * K + best]) best = i;
    hits += best === labels[n] ? 1 : 0;
  }
  t.equal((await correct.data())[0], hits);
  const num = numericGrad((v) => Float64Array.of(criterionRef(v, labels, N, K, J)), y, Float64Array.of(1));
  t.equal(mismatch(await dy.data(), num, tolFor(be, { rtol: 1e-4, atol: 1e-5 }, 'reduction')), null, 'dE/dy');
});

t.test('rbf bad input', async (t) => {
  t.throws(() => ops.rbf(Tensor.zeros([2, 84]), Tensor.zeros([10, 83])), {
    code: 'ND_SHAPE',
    message: /rbf: 'x' \[2, 84\] and codes 'w' \[10, 83\]/,
  });
  t.throws(() => ops.rbfCriterion(Tensor.zeros([2, 10]), Tensor.fromArray(new Int32Array([1]))), { code: 'ND_SHAPE' });
  const { loss } = ops.rbfCriterion(Tensor.zeros([2, 10]), Tensor.fromArray(new Int32Array([1, 10])));
  await t.rejects(loss.data(), { message: /rbfCriterion: label 10 at row 1 is outside \[0, 10\)/ });
});
