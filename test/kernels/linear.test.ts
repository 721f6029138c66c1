import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';
import { linearPathBounds } from '../../lib/serve/batch-runner.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randomArray } from '../helpers/rng.js';

/** y[N, out] = x[N, in] W^T + b, in float64. */
function linear64(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  N: number,
  inF: number,
  outF: number,
): Float64Array {
  const y = new Float64Array(N * outF);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[n * inF + i] * w[o * inF + i];
      y[n * outF + o] = s;
    }
  return y;
}

function backward64(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, N: number, inF: number, outF: number) {
  const dx = new Float64Array(N * inF);
  const dw = new Float64Array(outF * inF);
  const db = new Float64Array(outF);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < outF; o++) {
      const g = dy[n * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; i++) {
        dx[n * inF + i] += g * w[o * inF + i];
        dw[o * inF + i] += g * x[n * inF + i];
      }
    }
  return { dx, dw, db };
}

// [leading dims of x, in, out]: ones, odd sizes, sizes that are not multiples of 8 or 16.
const shapes: Array<[number[], number, number]> = [
  [[1], 1, 1],
  [[3], 5, 7],
  [[17], 33, 9],
  [[2, 3], 19, 4],
  [[64], 130, 10],
  [[5], 1, 31],
  // Batches of at most 4 take a dot-product path (no GEMM packing): vector bodies and tails.
  [[1], 120, 84],
  [[4], 37, 6],
  [[2], 400, 3],
  // Large enough that the rows are split across the pool: pieces whose row counts are not
  // multiples of 4, and every batch size 1-4 (each weight row read once for all samples).
  [[1], 1000, 602],
  [[3], 1003, 530],
  [[4], 700, 401],
  // Batches of 5-16 in a linear layer take the same dot products with wider tiles (blocks of 12
  // weight rows): vector tails, rows past the last whole tile, batch groups of 1-3 at the end.
  [[5], 37, 13],
  [[16], 1000, 602],
  [[2, 7], 129, 25],
  [[13], 16, 12],
  [[15], 300, 1],
  // Under AVX-512, batches of 9-48 take the streamed forward (linear_stream.h: the batch across
  // the lanes, 9 weight rows a tile by 16, 32 or 48 lanes) and batches up to 48 its
  // input gradient (8 batch rows x 48 columns, 16 weight rows a block): tail tiles of rows (25 =
  // 2 * 9 + 7, 50 = 5 * 9 + 5), partial lanes and batch tiles (20, 47), one-column edges (49),
  // sums over more than one 384-long block and more than one block of x (5500 at 40 lanes).
  [[9], 385, 25],
  [[20], 49, 30],
  [[33], 800, 50],
  [[47], 100, 8],
  [[48], 17, 97],
  [[40], 5500, 30],
  // A weight gradient of 33.6 MB written in one k block: the GEMM streams it out (Store::Stream).
  [[2], 2048, 4100],
];

// The GEMM and the small-batch dot products (conv_direct's gemv) on every ISA path, and cuda:N.
eachBackend(t, 'forward and backward match float64 on odd shapes', { families: ['gemm', 'convDirect'], cuda: true }, async (t, be) => {
  const on = { device: be.device };
  let seed = 1;
  for (const [lead, inF, outF] of shapes) {
    const N = lead.reduce((a, b) => a * b, 1);
    const xv = f32(randomArray(N * inF, seed++));
    const wv = f32(randomArray(outF * inF, seed++));
    const bv = f32(randomArray(outF, seed++));
    const gv = f32(randomArray(N * outF, seed++));
    const x = Tensor.fromArray(xv, [...lead, inF], on);
    const w = Tensor.fromArray(wv, [outF, inF], on);
    const b = Tensor.fromArray(bv, [outF], on);
    const dy = Tensor.fromArray(gv, [...lead, outF], on);
    const tol = tolFor(be, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(inF + N) }, 'gemm');
    const label = `x [${lead}, ${inF}], w [${outF}, ${inF}]`;
    const y = ops.linear(x, w, b);
    t.same(y.shape, [...lead, outF]);
    t.equal(mismatch(await y.data(), linear64(xv, wv, bv, N, inF, outF), tol), null, `forward ${label}`);
    const y0 = ops.linear(x, w);
    t.equal(mismatch(await y0.data(), linear64(xv, wv, null, N, inF, outF), tol), null, `forward without bias ${label}`);
    const r = backward64(gv, xv, wv, N, inF, outF);
    const g = ops.linearBackward(dy, x, w);
    t.same(g.dx!.shape, x.shape);
    t.same(g.dw.shape, w.shape);
    t.same(g.db!.shape, [outF]);
    t.equal(mismatch(await g.dx!.data(), r.dx, tol), null, `dx ${label}`);
    t.equal(mismatch(await g.dw.data(), r.dw, tol), null, `dw ${label}`);
    t.equal(mismatch(await g.db!.data(), r.db, tol), null, `db ${label}`);
    for (const v of [x, w, b, dy, y, y0, g.dx!, g.dw, g.db!]) v.dispose();
  }
});

// Under AVX-512 a weight of 2^21 floats or more keeps the streamed forward up to batch 128, in
// chunks of 48 rows (linear_stream.h): a chunk boundary (row 48 of 49 and of 100), a 4-row last
// chunk, and each row the same whatever chunk and batch it is in. Elsewhere this is the GEMM.
t.test('a large weight past 48 rows: forward matches float64, rows the same in every chunk', async (t) => {
  const [inF, outF] = [2048, 1024];
  const wv = f32(randomArray(outF * inF, 71));
  const bv = f32(randomArray(outF, 72));
  const w = Tensor.fromArray(wv, [outF, inF]);
  const b = Tensor.fromArray(bv, [outF]);
  const row = f32(randomArray(inF, 73));
  let first: number[] | null = null;
  for (const [N, at] of [
    [49, 48],
    [100, 48],
    [100, 99],
    [128, 0],
    [64, 20],
  ] as const) {
    const xv = f32(randomArray(N * inF, 200 + N + at));
    xv.set(row, at * inF);
    const x = Tensor.fromArray(xv, [N, inF]);
    const y = ops.linear(x, w, b);
    const yv = await y.data();
    if (N === 100 && at === 48) {
      const tol = { rtol: 1e-5, atol: 1e-6 * Math.sqrt(inF + N) };
      t.equal(mismatch(yv, linear64(xv, wv, bv, N, inF, outF), tol), null, `forward x [${N}, ${inF}], w [${outF}, ${inF}]`);
    }
    const got = Array.from(yv.subarray(at * outF, (at + 1) * outF));
    if (first === null) first = got;
    else t.same(got, first, `the row at ${at} of a batch of ${N} equals the one at 48 of 49`);
    x.dispose();
    y.dispose();
  }
  w.dispose();
  b.dispose();
});

// Serving's batchInvariant relies on it: on one path of the forward (linearPathBounds()), a row's
// result is the same whatever the batch and the row's place in it.
t.test('a row of the linear forward is the same for every batch on one path', async (t) => {
  const [inF, outF] = [6000, 30]; // past one block of x at 48 lanes (5376)
  const row = f32(randomArray(inF, 91));
  const w = Tensor.fromArray(f32(randomArray(outF * inF, 92)), [outF, inF]);
  const b = Tensor.fromArray(f32(randomArray(outF, 93)), [outF]);
  const bounds = linearPathBounds();
  t.comment(`linear path bounds: ${JSON.stringify(bounds)}`);
  const ranges = bounds.map((hi, i) => [i === 0 ? 1 : bounds[i - 1]! + 1, hi] as const);
  ranges.push([bounds[bounds.length - 1]! + 1, bounds[bounds.length - 1]! + 20]);
  for (const [lo, hi] of ranges) {
    let first: number[] | null = null;
    for (const N of new Set([lo, Math.min(hi, lo + 1), Math.floor((lo + hi) / 2), hi])) {
      const xv = f32(randomArray(N * inF, 100 + N));
      const at = N - 1;
      xv.set(row, at * inF);
      const x = Tensor.fromArray(xv, [N, inF]);
      const y = ops.linear(x, w, b);
      const got = Array.from((await y.data()).subarray(at * outF, (at + 1) * outF));
      if (first === null) first = got;
      else t.same(got, first, `batches ${lo}-${hi}: the row at ${at} of a batch of ${N} equals the one at ${lo - 1} of ${lo}`);
      x.dispose();
      y.dispose();
    }
  }
  w.dispose();
  b.dispose();
});

t.test('gradients agree with finite differences for x, W and b', async (t) => {
  const [N, inF, outF] = [3, 5, 4];
  const xv = f32(randomArray(N * inF, 40));
  const wv = f32(randomArray(outF * inF, 41));
  const bv = f32(randomArray(outF, 42));
  const gv = f32(randomArray(N * outF, 43));
  const x = Tensor.fromArray(xv, [N, inF]);
  const w = Tensor.fromArray(wv, [outF, inF]);
  const dy = Tensor.fromArray(gv, [N, outF]);
  const g = ops.linearBackward(dy, x, w);
  const tol = { rtol: 1e-4, atol: 1e-5 };
  t.equal(
    mismatch(
      await g.dx!.data(),
      numericGrad((v) => linear64(v, wv, bv, N, inF, outF), xv, gv),
      tol,
    ),
    null,
    'dx',
  );
  t.equal(
    mismatch(
      await g.dw.data(),
      numericGrad((v) => linear64(xv, v, bv, N, inF, outF), wv, gv),
      tol,
    ),
    null,
    'dw',
  );
  t.equal(
    mismatch(
      await g.db!.data(),
      numericGrad((v) => linear64(xv, wv, v, N, inF, outF), bv, gv),
      tol,
    ),
    null,
    'db',
  );
  for (const v of [x, w, dy, g.dx!, g.dw, g.db!]) v.dispose();
});

t.test('needInputGrad and hasBias skip dx and db', async (t) => {
  const x = Tensor.fromArray(f32(randomArray(6, 50)), [2, 3]);
  const w = Tensor.fromArray(f32(randomArray(12, 51)), [4, 3]);
  const dy = Tensor.fromArray(f32(randomArray(8, 52)), [2, 4]);
  const g = ops.linearBackward(dy, x, w, { needInputGrad: false, hasBias: false });
  t.equal(g.dx, undefined);
  t.equal(g.db, undefined);
  t.same(g.dw.shape, [4, 3]);
  for (const v of [x, w, dy, g.dw]) v.dispose();
});

t.test('an empty batch gives an empty y, zero dW and zero db', async (t) => {
  const x = Tensor.zeros([0, 3]);
  const w = Tensor.fromArray(f32(randomArray(6, 60)), [2, 3]);
  const b = Tensor.fromArray([1, 2]);
  const y = ops.linear(x, w, b);
  t.same(y.shape, [0, 2]);
  const dy = Tensor.zeros([0, 2]);
  const g = ops.linearBackward(dy, x, w);
  t.same(Array.from(await g.dw.data()), [0, 0, 0, 0, 0, 0]);
  t.same(Array.from(await g.db!.data()), [0, 0]);
  t.same(g.dx!.shape, [0, 3]);
  for (const v of [x, w, b, y, dy, g.dx!, g.dw, g.db!]) v.dispose();
});

t.test('bad inputs', async (t) => {
  const x = Tensor.zeros([3, 4]);
  const w = Tensor.zeros([5, 6]);
  const w2 = Tensor.zeros([5, 4]);
  const b = Tensor.zeros([4]);
  const wi = Tensor.zeros([5, 4], { dtype: 'int32' });
  t.throws(() => ops.linear(x, w), { code: 'ND_SHAPE', message: /linear: 'x' \[3, 4\] .*'w' \[5, 6\]/ });
  t.throws(() => ops.linear(x, w2, b), { code: 'ND_SHAPE', message: /linear: 'b' must be \[5\].*\[4\]/ });
  t.throws(() => ops.linear(x, Tensor.zeros([20])), { code: 'ND_SHAPE', message: /linear: 'w' must be \[out, in\]/ });
  t.throws(() => ops.linear(x, wi), { code: 'ND_ARG', message: /linear: 'w' must be float32/ });
  const dyBad = Tensor.zeros([3, 4]);
  t.throws(() => ops.linearBackward(dyBad, x, w2), {
    code: 'ND_SHAPE',
    message: /linearBackward: 'dy' \[3, 4\] must be \[3, 5\] for 'x' \[3, 4\] and 'w' \[5, 4\]/,
  });
  t.throws(() => ops.linearBackward(x, x, w), { code: 'ND_SHAPE', message: /linearBackward/ });
  t.throws(() => ops.linearBackward(Tensor.zeros([3, 5]), x, w2, { hasBias: 1 as unknown as boolean }), { code: 'ND_ARG' });
  for (const v of [x, w, w2, b, wi, dyBad]) v.dispose();
});
