import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { loadFixture } from '../helpers/fixtures.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randInt, randomArray, rng } from '../helpers/rng.js';

function softmax64(x: ArrayLike<number>, N: number, K: number): Float64Array {
  const y = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[n * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(x[n * K + k] - m);
    for (let k = 0; k < K; k++) y[n * K + k] = Math.exp(x[n * K + k] - m) / s;
  }
  return y;
}

/** Mean cross-entropy in float64, as a one-element array (the shape numericGrad wants). */
function ce64(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, K: number): Float64Array {
  let total = 0;
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[n * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(x[n * K + k] - m);
    total += m + Math.log(s) - x[n * K + labels[n]];
  }
  return Float64Array.of(total / N);
}

function ceGrad64(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, K: number, scale: number): Float64Array {
  const p = softmax64(x, N, K);
  for (let n = 0; n < N; n++) p[n * K + labels[n]] -= 1;
  return p.map((v) => (v * scale) / N);
}

/** Rank of the label's logit: classes that beat it, an equal logit at a lower index included. */
function rank(x: ArrayLike<number>, label: number, n: number, K: number): number {
  const v = x[n * K + label];
  let r = 0;
  for (let k = 0; k < K; k++) if (x[n * K + k] > v || (x[n * K + k] === v && k < label)) r++;
  return r;
}

interface Fixture {
  cases: Array<{
    name: string;
    shape: [number, number];
    logits: number[];
    labels: number[];
    scale: number;
    topk: number;
    loss: number;
    probs: number[];
    grad: number[];
    correct: number;
    correctTopK: number;
  }>;
}

t.test('softmax cross-entropy matches PyTorch (F.cross_entropy + autograd), large logits included', async (t) => {
  const fx = loadFixture<Fixture>('loss');
  t.ok(fx.cases.length >= 5);
  for (const c of fx.cases) {
    const [N, K] = c.shape;
    const logits = Tensor.fromArray(c.logits, c.shape);
    const labels = Tensor.fromArray(Int32Array.from(c.labels), [N]);
    const r = ops.softmaxCrossEntropy(logits, labels, { topk: c.topk });
    const loss = (await r.loss.data())[0];
    t.ok(Number.isFinite(loss), `${c.name}: finite loss ${loss}`);
    t.equal(mismatch([loss], [c.loss], { rtol: 2e-6, atol: 1e-6 }), null, `${c.name}: loss`);
    t.equal(mismatch(await r.probs.data(), c.probs, { rtol: 1e-5, atol: 1e-7 }), null, `${c.name}: probs`);
    t.equal((await r.correct.data())[0], c.correct, `${c.name}: top-1 count`);
    t.equal((await r.correctTopK!.data())[0], c.correctTopK, `${c.name}: top-${c.topk} count`);
    const d = ops.softmaxCrossEntropyBackward(r.probs, labels, { scale: c.scale });
    t.equal(mismatch(await d.data(), c.grad, { rtol: 1e-5, atol: 1e-7 / N }), null, `${c.name}: grad`);
    for (const v of [logits, labels, r.loss, r.correct, r.correctTopK!, r.probs, d]) v.dispose();
    void K;
  }
});

eachBackend(t, 'forward, counts and backward match float64 on random shapes', { families: [], cuda: true }, async (t, be) => {
  const r = rng(5);
  const shapes: Array<[number, number]> = [
    [1, 1],
    [1, 7],
    [5, 1],
    [3, 1000],
    [17, 10],
    [129, 3],
    [2, 33],
  ];
  let seed = 200;
  for (const [N, K] of shapes) {
    const xv = f32(randomArray(N * K, seed++, -6, 6));
    const lv = Int32Array.from({ length: N }, () => randInt(r, 0, K - 1));
    const logits = Tensor.fromArray(xv, [N, K], { device: be.device });
    const labels = Tensor.fromArray(lv, [N], { device: be.device });
    const k = Math.min(3, K);
    const out = ops.softmaxCrossEntropy(logits, labels, { topk: k });
    const label = `[${N}, ${K}]`;
    t.equal(
      mismatch(await out.loss.data(), ce64(xv, lv, N, K), tolFor(be, { rtol: 2e-6, atol: 1e-6 }, 'reduction')),
      null,
      `loss ${label}`,
    );
    t.equal(
      mismatch(await out.probs.data(), softmax64(xv, N, K), tolFor(be, { rtol: 1e-5, atol: 1e-7 }, 'reduction')),
      null,
      `probs ${label}`,
    );
    let top1 = 0;
    let topk = 0;
    for (let n = 0; n < N; n++) {
      const rk = rank(xv, lv[n], n, K);
      top1 += rk === 0 ? 1 : 0;
      topk += rk < k ? 1 : 0;
    }
    t.equal((await out.correct.data())[0], top1, `top-1 ${label}`);
    t.equal((await out.correctTopK!.data())[0], topk, `top-${k} ${label}`);
    const d = ops.softmaxCrossEntropyBackward(out.probs, labels);
    t.equal(
      mismatch(await d.data(), ceGrad64(xv, lv, N, K, 1), tolFor(be, { rtol: 1e-5, atol: 1e-7 }, 'reduction')),
      null,
      `grad ${label}`,
    );
    const sm = ops.softmax(logits);
    t.equal(mismatch(await sm.data(), softmax64(xv, N, K), tolFor(be, { rtol: 1e-5, atol: 1e-7 }, 'reduction')), null, `softmax ${label}`);
    for (const v of [logits, labels, out.loss, out.correct, out.correctTopK!, out.probs, d, sm]) v.dispose();
  }
});

t.test('backward agrees with finite differences of the mean loss, with an upstream scale', async (t) => {
  const [N, K] = [4, 6];
  const xv = f32(randomArray(N * K, 300, -3, 3));
  const lv = Int32Array.of(0, 5, 2, 2);
  const logits = Tensor.fromArray(xv, [N, K]);
  const out = ops.softmaxCrossEntropy(logits, Array.from(lv));
  const d = ops.softmaxCrossEntropyBackward(out.probs, lv, { scale: -1.75 });
  const numeric = numericGrad((v) => ce64(v, lv, N, K), xv, Float64Array.of(-1.75));
  t.equal(mismatch(await d.data(), numeric, { rtol: 1e-4, atol: 1e-6 }), null);
  for (const v of [logits, out.loss, out.correct, out.probs, d]) v.dispose();
});

eachBackend(
  t,
  'softmax backward agrees with finite differences; softmax works over the last axis',
  { families: [], cuda: true },
  async (t, be) => {
    const shape = [2, 3, 5];
    const [N, K] = [6, 5];
    const xv = f32(randomArray(30, 310, -2, 2));
    const gv = f32(randomArray(30, 311));
    const x = Tensor.fromArray(xv, shape, { device: be.device });
    const g = Tensor.fromArray(gv, shape, { device: be.device });
    const y = ops.softmax(x);
    t.same(y.shape, shape);
    const dx = ops.softmaxBackward(g, y);
    t.equal(
      mismatch(
        await dx.data(),
        numericGrad((v) => softmax64(v, N, K), xv, gv),
        { rtol: 1e-4, atol: 1e-6 },
      ),
      null,
    );
    for (const v of [x, g, y, dx]) v.dispose();
  },
);

t.test('ties: argmax takes the first index, top-k ranks equal logits by index', async (t) => {
  const logits = Tensor.zeros([4, 5]);
  const out = ops.softmaxCrossEntropy(logits, [0, 1, 2, 4], { topk: 2 });
  t.equal((await out.correct.data())[0], 1);
  t.equal((await out.correctTopK!.data())[0], 2);
  t.equal(mismatch(await out.loss.data(), [Math.log(5)], { rtol: 1e-6 }), null);
  for (const v of [logits, out.loss, out.correct, out.correctTopK!, out.probs]) v.dispose();
});

t.test('labels in a tensor that are out of range fail at the next wait, naming op, row and label', async (t) => {
  const logits = Tensor.fromArray(f32(randomArray(12, 400)), [4, 3]);
  for (const [bad, row] of [
    [[0, 1, 2, 3], 3],
    [[0, -1, 7, 1], 1],
  ] as Array<[number[], number]>) {
    const labels = Tensor.fromArray(Int32Array.from(bad), [4]);
    const out = ops.softmaxCrossEntropy(logits, labels);
    await t.rejects(out.loss.data(), {
      code: 'ND_ARG',
      message: new RegExp(`softmaxCrossEntropy: label ${bad[row]} at row ${row} is outside \\[0, 3\\)`),
    });
    const d = ops.softmaxCrossEntropyBackward(out.probs, labels);
    await t.rejects(d.data(), {
      code: 'ND_ARG',
      message: new RegExp(`softmaxCrossEntropyBackward: label ${bad[row]} at row ${row} is outside \\[0, 3\\)`),
    });
    for (const v of [labels, out.loss, out.correct, out.probs, d]) v.dispose();
  }
  // the device keeps working after the error was reported
  const ok = ops.softmaxCrossEntropy(logits, Tensor.fromArray(Int32Array.of(0, 1, 2, 0), [4]));
  t.ok(Number.isFinite((await ok.loss.data())[0]));
  for (const v of [logits, ok.loss, ok.correct, ok.probs]) v.dispose();
});

t.test('bad inputs are refused before queueing', async (t) => {
  const logits = Tensor.zeros([4, 3]);
  const lab = Tensor.fromArray(Int32Array.of(0, 1, 2, 0), [4]);
  const short = Tensor.fromArray(Int32Array.of(0, 1), [2]);
  const fl = Tensor.zeros([4]);
  t.throws(() => ops.softmaxCrossEntropy(logits, [0, 1, 3, 0]), {
    code: 'ND_ARG',
    message: /softmaxCrossEntropy: label 3 at row 2 is outside \[0, 3\)/,
  });
  t.throws(() => ops.softmaxCrossEntropy(logits, [0, 1, 1.5, 0]), { code: 'ND_ARG', message: /label 1.5 at row 2/ });
  t.throws(() => ops.softmaxCrossEntropyBackward(logits, [0, -2, 1, 0]), {
    code: 'ND_ARG',
    message: /softmaxCrossEntropyBackward: label -2 at row 1/,
  });
  t.throws(() => ops.softmaxCrossEntropy(logits, short), {
    code: 'ND_SHAPE',
    message: /softmaxCrossEntropy: 'labels' \[2\] must be \[4\] for logits \[4, 3\]/,
  });
  t.throws(() => ops.softmaxCrossEntropy(logits, [0, 1]), {
    code: 'ND_SHAPE',
    message: /'labels' has 2 entries but logits \[4, 3\] has 4 rows/,
  });
  t.throws(() => ops.softmaxCrossEntropy(logits, fl), { code: 'ND_ARG', message: /'labels' must be int32/ });
  t.throws(() => ops.softmaxCrossEntropy(Tensor.zeros([12]), lab), { code: 'ND_SHAPE', message: /'logits' must be \[N, K\].*\[12\]/ });
  t.throws(() => ops.softmaxCrossEntropy(logits, lab, { topk: 0 }), { code: 'ND_ARG', message: /'topk'/ });
  t.throws(() => ops.softmaxCrossEntropyBackward(logits, lab, { scale: NaN }), { code: 'ND_ARG', message: /'scale'/ });
  t.throws(() => ops.softmaxCrossEntropy(logits, 'abc' as unknown as number[]), { code: 'ND_ARG' });
  t.throws(() => ops.softmax(lab), { code: 'ND_ARG', message: /softmax: 'x' must be float32/ });
  t.throws(() => ops.softmaxBackward(logits, Tensor.zeros([3, 4])), {
    code: 'ND_SHAPE',
    message: /softmaxBackward: 'dy' \[4, 3\] and 'y' \[3, 4\]/,
  });
  for (const v of [logits, lab, short, fl]) v.dispose();
});
