import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randomArray } from '../helpers/rng.js';

type Fwd = (x: Tensor) => Tensor;
type Bwd = (dy: Tensor, y: Tensor) => Tensor;

const A = 1.7159;
const S = 2 / 3;

interface Case {
  name: string;
  fwd: Fwd;
  inPlace: Fwd;
  bwd: Bwd;
  ref: (x: number) => number;
  /** Derivative in terms of the output, in float64. */
  dref: (y: number) => number;
}

const cases: Case[] = [
  {
    name: 'relu',
    fwd: ops.relu,
    inPlace: ops.reluInPlace,
    bwd: ops.reluBackward,
    ref: (x) => Math.max(x, 0),
    dref: (y) => (y > 0 ? 1 : 0),
  },
  { name: 'tanh', fwd: ops.tanh, inPlace: ops.tanhInPlace, bwd: ops.tanhBackward, ref: Math.tanh, dref: (y) => 1 - y * y },
  {
    name: 'sigmoid',
    fwd: ops.sigmoid,
    inPlace: ops.sigmoidInPlace,
    bwd: ops.sigmoidBackward,
    ref: (x) => 1 / (1 + Math.exp(-x)),
    dref: (y) => y * (1 - y),
  },
  {
    name: 'scaledTanh',
    fwd: ops.scaledTanh,
    inPlace: ops.scaledTanhInPlace,
    bwd: ops.scaledTanhBackward,
    ref: (x) => A * Math.tanh(S * x),
    dref: (y) => S * (A - (y * y) / A),
  },
];

// Sizes: scalar-ish, odd, not multiples of 8/16, and one above the kernels' parallel grain.
const shapes: number[][] = [[1], [7], [3, 5, 17], [2, 1, 9, 13], [70001]];

function map(x: ArrayLike<number>, f: (v: number) => number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

for (const c of cases) {
  eachBackend(t, `${c.name}: forward and backward match float64 on odd shapes`, { families: [], cuda: true }, async (t, be) => {
    let seed = 11;
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xv = f32(randomArray(n, seed++, -4, 4));
      const gv = f32(randomArray(n, seed++, -1, 1));
      const x = Tensor.fromArray(xv, shape, { device: be.device });
      const g = Tensor.fromArray(gv, shape, { device: be.device });
      const y = c.fwd(x);
      t.same(y.shape, shape);
      const yv = (await y.data()) as Float32Array;
      t.equal(
        mismatch(yv, map(xv, c.ref), tolFor(be, { rtol: 1e-6, atol: 1e-6 }, 'elementwise')),
        null,
        `forward ${JSON.stringify(shape)}`,
      );
      const dx = c.bwd(g, y);
      const expected = new Float64Array(n);
      for (let i = 0; i < n; i++) expected[i] = gv[i] * c.dref(yv[i]);
      t.equal(
        mismatch(await dx.data(), expected, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')),
        null,
        `backward ${JSON.stringify(shape)}`,
      );
      for (const v of [x, g, y, dx]) v.dispose();
    }
  });

  eachBackend(t, `${c.name}: backward agrees with finite differences`, { families: [], cuda: true }, async (t, be) => {
    // Keep relu's inputs away from its kink, where a central difference is meaningless.
    const xv = f32(map(randomArray(45, 3, -3, 3), (v) => (c.name === 'relu' && Math.abs(v) < 0.05 ? v + 0.1 : v)));
    const gv = f32(randomArray(45, 4));
    const x = Tensor.fromArray(xv, [5, 9], { device: be.device });
    const g = Tensor.fromArray(gv, [5, 9], { device: be.device });
    const y = c.fwd(x);
    const dx = c.bwd(g, y);
    const numeric = numericGrad((v) => map(v, c.ref), xv, gv);
    t.equal(mismatch(await dx.data(), numeric, tolFor(be, { rtol: 1e-4, atol: 1e-5 }, 'elementwise')), null);
    for (const v of [x, g, y, dx]) v.dispose();
  });

  t.test(`${c.name}: in-place variant writes into its input`, async (t) => {
    const xv = f32(randomArray(33, 21, -2, 2));
    const x = Tensor.fromArray(xv, [3, 11]);
    const r = c.inPlace(x);
    t.equal(r, x);
    t.equal(mismatch(await x.data(), map(xv, c.ref), { rtol: 1e-6, atol: 1e-6 }), null);
    x.dispose();
  });

  t.test(`${c.name}: bad inputs are refused before queueing`, async (t) => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([3, 2]);
    const i = Tensor.zeros([2, 3], { dtype: 'int32' });
    t.throws(() => c.bwd(a, b), { code: 'ND_SHAPE', message: new RegExp(`${c.name}Backward: 'dy' \\[2, 3\\] and 'y' \\[3, 2\\]`) });
    t.throws(() => c.fwd(i), { code: 'ND_ARG', message: new RegExp(`${c.name}: 'x' must be float32, got int32`) });
    t.throws(() => c.fwd([1, 2] as unknown as Tensor), { code: 'ND_ARG' });
    t.throws(() => c.bwd(a, i), { code: 'ND_ARG', message: new RegExp(`${c.name}Backward: 'y'`) });
    for (const v of [a, b, i]) v.dispose();
  });
}

eachBackend(t, 'saturation: no overflow, exact limits', { families: [], cuda: true }, async (t, be) => {
  const x = Tensor.fromArray([-200, -90, 0, 90, 200], undefined, { device: be.device });
  const s = ops.sigmoid(x);
  const th = ops.tanh(x);
  const st = ops.scaledTanh(x);
  t.same(Array.from(await s.data()), [0, 1 / (1 + Math.exp(90)), 0.5, 1, 1].map(Math.fround));
  t.same(Array.from(await th.data()), [-1, -1, 0, 1, 1]);
  t.same(Array.from(await st.data()), [-A, -A, 0, A, A].map(Math.fround));
  for (const v of [x, s, th, st]) v.dispose();
});

eachBackend(t, 'relu keeps NaN and zeroes negative values; its gradient at 0 is 0', { families: [], cuda: true }, async (t, be) => {
  const x = Tensor.fromArray([NaN, -1, 0, 2], undefined, { device: be.device });
  const y = ops.relu(x);
  const v = await y.data();
  t.ok(Number.isNaN(v[0]));
  t.same(Array.from(v.slice(1)), [0, 0, 2]);
  const g = Tensor.fromArray([5, 5, 5, 5], undefined, { device: be.device });
  const dx = ops.reluBackward(g, x);
  t.same(Array.from((await dx.data()).slice(1)), [0, 0, 5]);
  for (const z of [x, y, g, dx]) z.dispose();
});

eachBackend(t, 'LeNet-5 squash constants: f(1) = 1 and f(-1) = -1 to 4 digits', { families: [], cuda: true }, async (t, be) => {
  // LeCun et al. chose A and S so that f(+-1) = +-1 (appendix A): a check on the constants.
  const x = Tensor.fromArray([1, -1], undefined, { device: be.device });
  const y = ops.scaledTanh(x);
  const v = await y.data();
  t.ok(Math.abs(v[0] - 1) < 1e-4 && Math.abs(v[1] + 1) < 1e-4, `f(1)=${v[0]}, f(-1)=${v[1]}`);
  x.dispose();
  y.dispose();
});
