import t from 'tap';
import { Tensor, device, ops, type Device } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { loadFixture } from '../helpers/fixtures.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { randomTensor } from '../helpers/random-tensor.js';
import { lrn64 } from '../helpers/ref64.js';
import { f32, randInt, randomArray, rng } from '../helpers/rng.js';

type Convention = 'per-size' | 'literal';

interface Params {
  size: number;
  alpha: number;
  beta: number;
  k: number;
  alphaConvention: Convention;
}

// ---- float64 reference: the definition, summed directly over each window (O(C*n)) ----

function alphaEff(p: Params): number {
  return p.alphaConvention === 'per-size' ? p.alpha / p.size : p.alpha;
}

/** Channels c' whose squares enter scale_c: c - floor(n/2) .. c + floor((n-1)/2), clipped. */
function window(c: number, n: number, C: number): [number, number] {
  return [Math.max(0, c - Math.floor(n / 2)), Math.min(C - 1, c + Math.floor((n - 1) / 2))];
}

function refForward(x: ArrayLike<number>, shape: number[], p: Params): { y: Float64Array; scale: Float64Array } {
  const [N, C] = shape;
  const hw = x.length / (N * C);
  const y = new Float64Array(x.length);
  const scale = new Float64Array(x.length);
  const a = alphaEff(p);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < hw; i++) {
        const [lo, hi] = window(c, p.size, C);
        let s = 0;
        for (let j = lo; j <= hi; j++) s += x[(n * C + j) * hw + i] ** 2;
        const at = (n * C + c) * hw + i;
        scale[at] = p.k + a * s;
        y[at] = x[at] * scale[at] ** -p.beta;
      }
  return { y, scale };
}

// ---- running the kernels ----

async function run(x: ArrayLike<number>, dy: ArrayLike<number>, shape: number[], p: Params, dev: Device = device('cpu')) {
  const xt = Tensor.fromArray(Float32Array.from(x), shape, { device: dev });
  const dyt = Tensor.fromArray(Float32Array.from(dy), shape, { device: dev });
  const { y, scale } = ops.lrn(xt, p);
  const dx = ops.lrnBackward(dyt, xt, y, scale, p);
  const out = { y: await y.data(), scale: await scale.data(), dx: await dx.data() };
  for (const u of [xt, dyt, y, scale, dx]) u.dispose();
  return out;
}

const named: [string, number[], number][] = [
  ['AlexNet-like C=16, n=5', [2, 16, 5, 7], 5],
  ['even n=4', [2, 9, 3, 3], 4],
  ['even n=2', [1, 6, 4, 5], 2],
  ['n > C', [2, 3, 4, 3], 7],
  ['n = 2C', [1, 4, 3, 3], 8],
  ['C=1', [3, 1, 5, 5], 5],
  ['n=1', [1, 5, 2, 3], 1],
  ['H=W=1', [4, 10, 1, 1], 5],
  ['more pixels than one block (512)', [1, 5, 23, 23], 3],
  ['more pixels than one run (4096)', [1, 1, 70, 60], 3],
  // A batch too small to keep every thread busy splits the channels; windows cross the pieces.
  ['channels split, N=1', [1, 40, 3, 3], 5],
  ['channels split, N=2, even n', [2, 24, 3, 2], 6],
  ['channels split, the widest direct window', [1, 40, 2, 2], 16],
  ['rank 3 [N, C, L]', [2, 6, 11], 3],
  // Windows wider than 16 channels take the running-sum path, the others the direct sums.
  ['wide window n=21 (running sum)', [2, 30, 3, 5], 21],
  ['n=16, the widest direct window', [1, 20, 3, 3], 16],
];
const r = rng(777);
const random: [string, number[], number][] = [];
for (let i = 0; i < 8; i++) {
  const shape = [randInt(r, 1, 3), randInt(r, 1, 12), randInt(r, 1, 9), randInt(r, 1, 9)];
  random.push([`random ${JSON.stringify(shape)}`, shape, randInt(r, 1, 9)]);
}

const numericCache = new Map<string, ArrayLike<number>>();
// The direct sums have an AVX-512 and a portable build (isa.h); both run, and cuda:N where one is.
eachBackend(t, 'forward and backward match the float64 reference, both conventions', { families: ['lrn'], cuda: true }, async (t, be) => {
  let seed = 1;
  for (const [name, shape, size] of [...named, ...random])
    for (const alphaConvention of ['per-size', 'literal'] as const) {
      // alpha large enough that the window really matters (the paper's 1e-4 hides mistakes).
      const p: Params = { size, alpha: alphaConvention === 'per-size' ? 2 : 0.4, beta: 0.75, k: 2, alphaConvention };
      const n = shape.reduce((a, b) => a * b, 1);
      const x = f32(randomArray(n, seed++, -2, 2));
      const dy = f32(randomArray(n, seed++));
      const ref = refForward(x, shape, p);
      const got = await run(x, dy, shape, p, be.device);
      const label = `${name} ${alphaConvention}`;
      t.equal(mismatch(got.scale, ref.scale, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `${label}: scale`);
      t.equal(mismatch(got.y, ref.y, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `${label}: y`);
      // dL/dx of L = sum(y * dy), differentiated numerically through the reference.
      // The finite differences are the slow part and the same for every backend: computed once.
      let numeric = numericCache.get(label);
      if (!numeric) numericCache.set(label, (numeric = numericGrad((v) => refForward(v, shape, p).y, x, dy)));
      t.equal(mismatch(got.dx, numeric, tolFor(be, { rtol: 1e-4, atol: 1e-5 }, 'reduction')), null, `${label}: dx vs finite differences`);
    }
});

// Planes this large make each channel piece a task of its own, so pieces run on different threads
// with workspaces of their own: a piece must compute its window's edge rows itself.
eachBackend(
  t,
  'large planes with the channels split: forward and the analytic backward',
  { families: ['lrn'], cuda: true },
  async (t, be) => {
    for (const [shape, size] of [
      [[1, 40, 41, 41], 5],
      [[1, 96, 55, 55], 5],
      [[2, 36, 33, 33], 16],
    ] as [number[], number][]) {
      const p: Params = { size, alpha: 2, beta: 0.75, k: 2, alphaConvention: 'per-size' };
      const n = shape.reduce((a, b) => a * b, 1);
      // Two data sets in a row: rows a piece forgot to compute would still hold the first one's
      // values in a reused workspace, right for it and wrong for the second.
      for (const seed of [91, 93]) {
        const x = f32(randomArray(n, seed, -2, 2));
        const dy = f32(randomArray(n, seed + 1));
        const got = await run(x, dy, shape, p, be.device);
        const label = `${JSON.stringify(shape)} seed ${seed}`;
        t.equal(mismatch(got.y, refForward(x, shape, p).y, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `${label}: y`);
        // The analytic backward in float64 (finite differences are too slow at these sizes).
        const ref = lrn64(shape, size, alphaEff(p), p.beta, p.k, x, dy);
        t.equal(mismatch(got.dx, ref.dx, tolFor(be, { rtol: 1e-4, atol: 1e-5 }, 'reduction')), null, `${label}: dx`);
      }
    }
  },
);

eachBackend(t, 'other beta than 0.75 (the pow path) and the paper defaults', { families: ['lrn'], cuda: true }, async (t, be) => {
  const shape = [2, 8, 3, 4];
  const n = 192;
  const x = f32(randomArray(n, 41, -3, 3));
  const dy = f32(randomArray(n, 42));
  for (const p of [
    { size: 3, alpha: 1.5, beta: 0.5, k: 1, alphaConvention: 'per-size' as const },
    { size: 6, alpha: 0.3, beta: 1.3, k: 0.5, alphaConvention: 'literal' as const },
    { size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaConvention: 'literal' as const },
  ]) {
    const ref = refForward(x, shape, p);
    const got = await run(x, dy, shape, p, be.device);
    t.equal(mismatch(got.y, ref.y, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `${JSON.stringify(p)}: y`);
    const numeric = numericGrad((v) => refForward(v, shape, p).y, x, dy);
    t.equal(mismatch(got.dx, numeric, tolFor(be, { rtol: 1e-4, atol: 1e-5 }, 'reduction')), null, `${JSON.stringify(p)}: dx`);
  }
  // Leaving size, alpha, beta and k out gives the paper's n=5, alpha=1e-4, beta=0.75, k=2.
  const xt = Tensor.fromArray(Float32Array.from(x), shape, { device: be.device });
  const a = ops.lrn(xt, { alphaConvention: 'literal' });
  const ref = refForward(x, shape, { size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaConvention: 'literal' });
  t.equal(mismatch(await a.y.data(), ref.y, tolFor(be, { rtol: 1e-6, atol: 1e-7 }, 'elementwise')), null, 'defaults are the paper');
  for (const u of [xt, a.y, a.scale]) u.dispose();
});

t.test("'literal' with alpha equals 'per-size' with alpha * n, and differs from 'per-size' with alpha", async (t) => {
  const shape = [2, 12, 4, 4];
  const xt = Tensor.fromArray(Float32Array.from(randomArray(384, 5, -2, 2)), shape);
  for (const size of [3, 4, 5]) {
    const alpha = 0.37;
    const lit = ops.lrn(xt, { size, alpha, beta: 0.75, k: 2, alphaConvention: 'literal' });
    const per = ops.lrn(xt, { size, alpha: alpha * size, beta: 0.75, k: 2, alphaConvention: 'per-size' });
    const perSame = ops.lrn(xt, { size, alpha, beta: 0.75, k: 2, alphaConvention: 'per-size' });
    const [ly, py, sy] = [await lit.y.data(), await per.y.data(), await perSame.y.data()];
    t.equal(mismatch(ly, py, { rtol: 1e-6, atol: 1e-7 }), null, `n=${size}: literal alpha == per-size alpha*n`);
    t.equal(mismatch(await lit.scale.data(), await per.scale.data(), { rtol: 1e-6, atol: 1e-7 }), null, `n=${size}: same scale`);
    t.not(mismatch(ly, sy, { rtol: 1e-4, atol: 1e-5 }), null, `n=${size}: the conventions differ for the same alpha`);
    for (const u of [lit.y, lit.scale, per.y, per.scale, perSame.y, perSame.scale]) u.dispose();
  }
  xt.dispose();
});

interface LrnCase {
  name: string;
  shape: number[];
  size: number;
  alpha: number;
  beta: number;
  k: number;
  x: number[];
  y: number[];
  g: number[];
  dx: number[];
}

eachBackend(t, "matches PyTorch's local_response_norm (the 'per-size' convention)", { families: ['lrn'], cuda: true }, async (t, be) => {
  const { cases } = loadFixture<{ cases: LrnCase[] }>('lrn');
  t.ok(cases.length >= 6, 'fixture has its cases');
  for (const c of cases) {
    const got = await run(
      c.x,
      c.g,
      c.shape,
      { size: c.size, alpha: c.alpha, beta: c.beta, k: c.k, alphaConvention: 'per-size' },
      be.device,
    );
    t.equal(mismatch(got.y, c.y, tolFor(be, { rtol: 2e-5, atol: 1e-6 }, 'elementwise')), null, `${c.name}: y`);
    t.equal(mismatch(got.dx, c.dx, tolFor(be, { rtol: 1e-4, atol: 1e-5 }, 'reduction')), null, `${c.name}: dx`);
  }
});

t.test('bad inputs are refused with the op and the shapes named', async (t) => {
  const x = Tensor.zeros([1, 4, 3, 3]);
  const other = Tensor.zeros([1, 4, 3, 2]);
  const x2 = Tensor.zeros([4, 9]);
  const xi = Tensor.fromArray(new Int32Array(36), [1, 4, 3, 3]);
  t.throws(() => ops.lrn(x, { size: 5 } as unknown as Params), {
    code: 'ND_ARG',
    message: /lrn: alphaConvention: 'per-size' .* or 'literal' .* must be given, got undefined/,
  });
  t.throws(() => ops.lrn(x, undefined as unknown as Params), {
    code: 'ND_ARG',
    message: /lrn: options are required, with alphaConvention: 'per-size'.*'literal'/,
  });
  t.throws(() => ops.lrn(x, { alphaConvention: 'caffe' as Convention }), { code: 'ND_ARG', message: /lrn: alphaConvention.*got "caffe"/ });
  t.throws(() => ops.lrn(x, { alphaConvention: 'literal', size: 0 }), {
    code: 'ND_ARG',
    message: /lrn: 'size' must be an integer in \[1, inf\]/,
  });
  t.throws(() => ops.lrn(x, { alphaConvention: 'literal', k: 0 }), { code: 'ND_ARG', message: /lrn: 'k' must be > 0/ });
  t.throws(() => ops.lrn(x2, { alphaConvention: 'literal' }), {
    code: 'ND_SHAPE',
    message: /lrn: 'x' must be \[N, C, H, W\] \(rank >= 3\), got \[4, 9\]/,
  });
  t.throws(() => ops.lrn(xi, { alphaConvention: 'literal' }), { code: 'ND_ARG', message: /lrn: 'x' must be float32, got int32/ });

  const { y, scale } = ops.lrn(x, { alphaConvention: 'per-size' });
  t.throws(() => ops.lrnBackward(other, x, y, scale, { alphaConvention: 'per-size' }), {
    code: 'ND_SHAPE',
    message: /lrnBackward: 'dy' \[1, 4, 3, 2\] and 'x' \[1, 4, 3, 3\] must have the same shape/,
  });
  t.throws(() => ops.lrnBackward(x, x, y, other, { alphaConvention: 'per-size' }), {
    code: 'ND_SHAPE',
    message: /lrnBackward: 'scale' \[1, 4, 3, 2\] and 'x' \[1, 4, 3, 3\] must have the same shape/,
  });
  t.throws(() => ops.lrnBackward(x, x, xi, scale, { alphaConvention: 'per-size' }), {
    code: 'ND_ARG',
    message: /lrnBackward: 'y' must be float32/,
  });
  t.throws(() => ops.lrnBackward(x, x, y, scale, {} as Params), { code: 'ND_ARG', message: /lrnBackward: alphaConvention/ });
  t.throws(() => ops.lrnBackward(x, x, null, scale, { alphaConvention: 'per-size' }), {
    code: 'ND_ARG',
    message: /lrnBackward: 'y' is required with a kept 'scale'/,
  });
  for (const u of [x, other, x2, xi, y, scale]) u.dispose();
});

eachBackend(
  t,
  'without a kept scale (and without y): lrnOutput and the recomputing backward give the same bits',
  { families: ['lrn'], cuda: true },
  async (t, be) => {
    // Direct windows (with the channels split, and longer than one run) and a wide one.
    for (const [shape, size] of [
      [[2, 16, 5, 7], 5],
      [[1, 40, 9, 9], 5],
      [[1, 40, 5, 5], 16],
      [[1, 3, 70, 60], 4],
      [[2, 30, 3, 5], 21],
    ] as [number[], number][]) {
      const x = randomTensor(shape, 71, { lo: -2, hi: 2, device: be.device });
      const dy = randomTensor(shape, 72, { device: be.device });
      // beta 0.75 takes the AVX-512 loops where the CPU has them; 0.5 the portable ones.
      for (const beta of [0.75, 0.5]) {
        const p: Params = { size, alpha: 2, beta, k: 2, alphaConvention: 'per-size' };
        const { y, scale } = ops.lrn(x, p);
        const y2 = ops.lrnOutput(x, p);
        const label = `${JSON.stringify(shape)} n=${size} beta=${beta}`;
        const bits = async (u: Tensor) => Buffer.from((await u.data()).buffer);
        t.same(await bits(y2), await bits(y), `${label}: lrnOutput is lrn's y`);
        for (const reluInput of [false, true]) {
          const kept = ops.lrnBackward(dy, x, y, scale, p, { reluInput });
          const again = ops.lrnBackward(dy, x, y, null, p, { reluInput });
          const bare = ops.lrnBackward(dy, x, null, null, p, { reluInput });
          const tag = `${label}${reluInput ? ', reluInput' : ''}`;
          t.same(await bits(again), await bits(kept), `${tag}: dx with the scale recomputed`);
          t.same(await bits(bare), await bits(kept), `${tag}: dx with the scale and y recomputed`);
          for (const u of [kept, again, bare]) u.dispose();
        }
        for (const u of [y, scale, y2]) u.dispose();
      }
      for (const u of [x, dy]) u.dispose();
    }
  },
);

eachBackend(t, "reluInput: the ReLU's backward in the same pass, bit for bit", { families: ['lrn'], cuda: true }, async (t, be) => {
  // x is a ReLU's output (zeros where the pre-activation was negative); both the direct-sum and
  // the running-sum (wide window) paths.
  for (const [shape, size] of [
    [[2, 24, 9, 7], 5],
    [[1, 30, 3, 5], 21],
  ] as [number[], number][]) {
    const pre = randomTensor(shape, 61, { lo: -2, hi: 2, device: be.device });
    const x = ops.relu(pre);
    const dy = randomTensor(shape, 62, { device: be.device });
    const p: Params = { size, alpha: 2, beta: 0.75, k: 2, alphaConvention: 'per-size' };
    const { y, scale } = ops.lrn(x, p);
    const plain = ops.lrnBackward(dy, x, y, scale, p);
    const want = ops.reluBackward(plain, x);
    const got = ops.lrnBackward(dy, x, y, scale, p, { reluInput: true });
    const [w, gv] = [await want.data(), await got.data()];
    t.ok(w.some((v) => v === 0) && w.some((v) => v !== 0), `${JSON.stringify(shape)}: some zeroed, some passed`);
    t.same(Buffer.from(gv.buffer), Buffer.from(w.buffer), `${JSON.stringify(shape)} n=${size}: reluBackward(lrnBackward(...), x)`);
    for (const u of [pre, x, dy, y, scale, plain, want, got]) u.dispose();
  }
  const x = Tensor.zeros([1, 2, 2, 2], { device: be.device });
  t.throws(() => ops.lrnBackward(x, x, x, x, { alphaConvention: 'literal' }, { reluInput: 1 as unknown as boolean }), {
    code: 'ND_ARG',
    message: /lrnBackward: 'reluInput' must be a boolean, got 1/,
  });
  x.dispose();
});

eachBackend(
  t,
  'squares that overflow float give y = 0 (as float32 PyTorch does), never NaN',
  { families: ['lrn'], cuda: true },
  async (t, be) => {
    // 3e19^2 is past float32's range: the scale is inf, and x * inf^-0.75 = x * 0 = 0. The AVX-512
    // path's reciprocal-square-root estimate would otherwise turn inf * 0 into NaN.
    const n = 40;
    const v = Float32Array.from({ length: 2 * 8 * n }, (_, i) => (i % 5 === 0 ? 3e19 : (i % 7) - 3));
    const x = Tensor.fromArray(v, [2, 8, n], { device: be.device });
    const { y, scale } = ops.lrn(x, { alphaConvention: 'literal' });
    const [yv, sv] = [await y.data(), await scale.data()];
    t.ok(
      sv.some((s) => s === Infinity),
      'some scales overflow to inf',
    );
    t.notOk(yv.some(Number.isNaN), 'no NaN');
    for (let i = 0; i < yv.length; i++)
      if (sv[i] === Infinity && yv[i] !== 0) {
        t.fail(`y[${i}] = ${yv[i]} where the scale is inf`);
        break;
      }
    for (const u of [x, y, scale]) u.dispose();
  },
);
