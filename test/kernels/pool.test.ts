import t from 'tap';
import { Tensor, device, ops, type Device } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { loadFixture } from '../helpers/fixtures.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randInt, randomArray, rng } from '../helpers/rng.js';

// ---- float64 reference (PyTorch's definitions, written independently of the kernel) ----

interface Geom {
  N: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  ceil: boolean;
}

function outLen(input: number, k: number, s: number, p: number, ceil: boolean): number {
  const num = input + 2 * p - k;
  let o = (ceil ? Math.ceil(num / s) : Math.floor(num / s)) + 1;
  // PyTorch: the last window must start inside the input or the left padding.
  if (ceil && (o - 1) * s >= input + p) o--;
  return o;
}

function outShape(g: Geom): [number, number, number, number] {
  return [g.N, g.C, outLen(g.H, g.kh, g.sh, g.ph, g.ceil), outLen(g.W, g.kw, g.sw, g.pw, g.ceil)];
}

type Mode = 'max' | 'avg-incl' | 'avg-excl' | 'sum';

/** Every window as its list of in-input flat indices and its divisor. */
function windows(g: Geom, mode: Mode): { cells: number[]; div: number }[] {
  const [, , OH, OW] = outShape(g);
  const out: { cells: number[]; div: number }[] = [];
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const h0 = oh * g.sh - g.ph;
        const w0 = ow * g.sw - g.pw;
        const cells: number[] = [];
        let padded = 0;
        for (let h = h0; h < h0 + g.kh; h++)
          for (let w = w0; w < w0 + g.kw; w++) {
            // Cells beyond the right/bottom padding do not count, even in ceil mode.
            if (h < g.H + g.ph && w < g.W + g.pw) padded++;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) cells.push(p * g.H * g.W + h * g.W + w);
          }
        const div = mode === 'avg-incl' ? padded : mode === 'avg-excl' ? cells.length : 1;
        out.push({ cells, div });
      }
  return out;
}

function refForward(x: ArrayLike<number>, g: Geom, mode: Mode): { y: Float64Array; argmax: Int32Array } {
  const ws = windows(g, mode);
  const y = new Float64Array(ws.length);
  const argmax = new Int32Array(ws.length);
  const plane = g.H * g.W;
  ws.forEach(({ cells, div }, o) => {
    if (mode === 'max') {
      let best = -Infinity;
      let at = cells[0];
      for (const c of cells)
        if (x[c] > best) {
          best = x[c];
          at = c;
        }
      y[o] = best;
      argmax[o] = at % plane;
    } else {
      let s = 0;
      for (const c of cells) s += x[c];
      y[o] = s / div;
    }
  });
  return { y, argmax };
}

function refBackward(dy: ArrayLike<number>, x: ArrayLike<number>, g: Geom, mode: Mode): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  const { argmax } = refForward(x, g, mode);
  const [, , OH, OW] = outShape(g);
  windows(g, mode).forEach(({ cells, div }, o) => {
    if (mode === 'max') dx[Math.floor(o / (OH * OW)) * g.H * g.W + argmax[o]] += dy[o];
    else for (const c of cells) dx[c] += dy[o] / div;
  });
  return dx;
}

// ---- running the kernels ----

function opts(g: Geom) {
  return {
    kernelSize: [g.kh, g.kw] as [number, number],
    stride: [g.sh, g.sw] as [number, number],
    padding: [g.ph, g.pw] as [number, number],
    ceilMode: g.ceil,
  };
}

async function runForward(
  x: ArrayLike<number>,
  g: Geom,
  mode: Mode,
  dev: Device = device('cpu'),
): Promise<{ y: Float32Array; argmax?: Int32Array; shape: readonly number[] }> {
  const xt = Tensor.fromArray(Float32Array.from(x), [g.N, g.C, g.H, g.W], { device: dev });
  let y: Tensor;
  let argmax: Int32Array | undefined;
  if (mode === 'max') {
    const r = ops.maxPool2d(xt, opts(g));
    y = r.y;
    argmax = (await r.argmax.data()) as Int32Array;
    r.argmax.dispose();
  } else if (mode === 'sum') y = ops.sumPool2d(xt, opts(g));
  else y = ops.avgPool2d(xt, { ...opts(g), countIncludePad: mode === 'avg-incl' });
  const out = { y: (await y.data()) as Float32Array, argmax, shape: y.shape };
  xt.dispose();
  y.dispose();
  return out;
}

async function runBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  g: Geom,
  mode: Mode,
  dev: Device = device('cpu'),
): Promise<Float32Array> {
  const inShape = [g.N, g.C, g.H, g.W];
  const dyt = Tensor.fromArray(Float32Array.from(dy), outShape(g), { device: dev });
  let dx: Tensor;
  if (mode === 'max') {
    const xt = Tensor.fromArray(Float32Array.from(x), inShape, { device: dev });
    const { y, argmax } = ops.maxPool2d(xt, opts(g));
    dx = ops.maxPool2dBackward(dyt, argmax, inShape);
    for (const u of [xt, y, argmax]) u.dispose();
  } else if (mode === 'sum') dx = ops.sumPool2dBackward(dyt, inShape, opts(g));
  else dx = ops.avgPool2dBackward(dyt, inShape, { ...opts(g), countIncludePad: mode === 'avg-incl' });
  const out = (await dx.data()) as Float32Array;
  dyt.dispose();
  dx.dispose();
  return out;
}

const size = (g: Geom) => g.N * g.C * g.H * g.W;
const outSize = (g: Geom) => outShape(g).reduce((a, b) => a * b, 1);

/** Distinct values in random order, spaced 0.01 apart: no ties, so max pooling is differentiable. */
function distinct(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return f32(v);
}

function g0(
  N: number,
  C: number,
  H: number,
  W: number,
  k: number | [number, number],
  s: number | [number, number],
  p = 0,
  ceil = false,
): Geom {
  const [kh, kw] = typeof k === 'number' ? [k, k] : k;
  const [sh, sw] = typeof s === 'number' ? [s, s] : s;
  return { N, C, H, W, kh, kw, sh, sw, ph: p, pw: p, ceil };
}

// Hand-picked odd geometries, then seeded random ones.
const named: [string, Geom][] = [
  ['AlexNet 3x3 s2', g0(2, 5, 13, 13, 3, 2)],
  ['LeNet-5 2x2 s2', g0(2, 6, 28, 28, 2, 2)],
  ['C=1, 1x1 input', g0(3, 1, 1, 1, 1, 1)],
  ['stride > kernel', g0(1, 3, 11, 9, 2, 3)],
  ['padding 1, ceil', g0(2, 3, 6, 9, 3, 2, 1, true)],
  ['2x2 s2 pad 1 ceil, window clipped at the edge', g0(1, 2, 7, 7, 2, 2, 1, true)],
  ['rectangular kernel and stride, ceil', g0(1, 3, 10, 17, [3, 2], [2, 3], 0, true)],
  ['kernel = input', g0(2, 3, 5, 5, 5, 1, 2)],
  // Rows whose last vector of 16 outputs is short (masked loads on the AVX-512 path): AlexNet's
  // 55-wide input (27 outputs: 16 + 11), 35 wide (17: 16 + 1), and stride 1 at 40 wide (38: 16 +
  // 16 + 6).
  ['3x3 s2, 55 wide', g0(1, 2, 9, 55, 3, 2)],
  ['3x3 s2, 35 wide', g0(2, 1, 7, 35, 3, 2)],
  ['3x3 s1, 40 wide', g0(1, 2, 5, 40, 3, 1)],
  // Values only, windows overlapping down the plane: each row's maximum is shared by the output
  // rows that hold it (a ring of row maxima): output rows 1 apart here share 4 of their 5 rows.
  ['5x3 kernel, strides 1 down and 2 across', g0(1, 2, 9, 30, [5, 3], [1, 2])],
];
const r = rng(20240601);
const randomGeoms: [string, Geom][] = [];
while (randomGeoms.length < 12) {
  const kh = randInt(r, 1, 4);
  const kw = randInt(r, 1, 4);
  const g: Geom = {
    N: randInt(r, 1, 3),
    C: randInt(r, 1, 5),
    H: randInt(r, 1, 13),
    W: randInt(r, 1, 13),
    kh,
    kw,
    sh: randInt(r, 1, 4),
    sw: randInt(r, 1, 4),
    ph: randInt(r, 0, kh >> 1),
    pw: randInt(r, 0, kw >> 1),
    ceil: r() < 0.5,
  };
  const [, , oh, ow] = outShape(g);
  if (oh >= 1 && ow >= 1) randomGeoms.push([`random ${JSON.stringify(g)}`, g]);
}
const geoms = [...named, ...randomGeoms];
const modes: Mode[] = ['max', 'avg-incl', 'avg-excl', 'sum'];

// Max pooling's all-inside windows have an AVX-512 and a portable build (isa.h): both run, and
// cuda:N where one is.
eachBackend(t, 'forward matches the float64 reference', { families: ['maxPool'], cuda: true }, async (t, be) => {
  let seed = 1;
  for (const [name, g] of geoms)
    for (const mode of modes) {
      const x = f32(randomArray(size(g), seed++, -2, 2));
      const ref = refForward(x, g, mode);
      const got = await runForward(x, g, mode, be.device);
      t.same(got.shape, outShape(g), `${mode} ${name}: shape`);
      t.equal(mismatch(got.y, ref.y, tolFor(be, { rtol: 1e-5, atol: 1e-5 }, 'elementwise')), null, `${mode} ${name}`);
      if (mode === 'max') t.same(Array.from(got.argmax!), Array.from(ref.argmax), `${mode} ${name}: argmax`);
    }
});

eachBackend(t, 'backward matches the float64 reference', { families: ['maxPool'], cuda: true }, async (t, be) => {
  let seed = 500;
  for (const [name, g] of geoms)
    for (const mode of modes) {
      const x = distinct(size(g), seed++);
      const dy = f32(randomArray(outSize(g), seed++));
      const got = await runBackward(dy, x, g, mode, be.device);
      t.equal(mismatch(got, refBackward(dy, x, g, mode), tolFor(be, { rtol: 1e-5, atol: 1e-5 }, 'elementwise')), null, `${mode} ${name}`);
    }
});

t.test('backward equals finite differences of the forward', async (t) => {
  const cases: [string, Geom][] = [
    ['overlapping 3x3 s2', g0(1, 2, 7, 7, 3, 2)],
    ['padding and ceil', g0(2, 1, 6, 5, 3, 2, 1, true)],
    ['stride > kernel', g0(1, 2, 7, 8, 2, 3)],
    ['rectangular', g0(1, 1, 5, 9, [2, 3], [1, 2], 1, true)],
  ];
  let seed = 900;
  for (const [name, g] of cases)
    for (const mode of modes) {
      const x = distinct(size(g), seed++);
      const gy = f32(randomArray(outSize(g), seed++));
      const numeric = numericGrad((v) => refForward(v, g, mode).y, x, gy);
      const got = await runBackward(gy, x, g, mode);
      t.equal(mismatch(got, numeric, { rtol: 1e-4, atol: 1e-5 }), null, `${mode} ${name}`);
    }
});

eachBackend(
  t,
  'max pooling on wide planes (the vector path) keeps row-major ties and NaNs',
  { families: ['maxPool'], cuda: true },
  async (t, be) => {
    // Values from a handful of levels (after a ReLU most windows tie at 0) and a few NaNs: the
    // vector path must pick the same argmax as PyTorch's row-major scan, with a NaN winning.
    const cases: [string, Geom][] = [
      ['AlexNet pool1 3x3 s2 on 55x55', g0(2, 3, 55, 55, 3, 2)],
      ['3x3 s1', g0(1, 2, 9, 41, 3, 1)],
      ['2x3 kernel, stride 3', g0(1, 2, 8, 50, [2, 3], 3)],
      ['4x4 s2', g0(1, 1, 12, 70, 4, 2)],
    ];
    const r = rng(4242);
    for (const [name, g] of cases) {
      const x = Float32Array.from({ length: size(g) }, () => (r() < 0.01 ? NaN : Math.floor(r() * 4) - 1));
      const [, , OH, OW] = outShape(g);
      const yRef: number[] = [];
      const aRef: number[] = [];
      for (let p = 0; p < g.N * g.C; p++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            let best = -Infinity;
            let at = oh * g.sh * g.W + ow * g.sw;
            for (let h = oh * g.sh; h < oh * g.sh + g.kh; h++)
              for (let w = ow * g.sw; w < ow * g.sw + g.kw; w++) {
                const v = x[p * g.H * g.W + h * g.W + w];
                if (v > best || Number.isNaN(v)) [best, at] = [v, h * g.W + w];
              }
            yRef.push(best);
            aRef.push(at);
          }
      const got = await runForward(x, g, 'max', be.device);
      t.same(Array.from(got.argmax!), aRef, `${name}: argmax`);
      t.same(
        Array.from(got.y, (v) => (Number.isNaN(v) ? 'NaN' : v)),
        yRef.map((v) => (Number.isNaN(v) ? 'NaN' : v)),
        `${name}: y`,
      );
    }
  },
);

t.test('overlapping windows accumulate into the shared input', async (t) => {
  // 1x1x3x3 with the maximum in the centre: all four 2x2 stride-1 windows pick it.
  const x = Tensor.fromArray([0, 1, 0, 1, 9, 1, 0, 1, 0], [1, 1, 3, 3]);
  const { y, argmax } = ops.maxPool2d(x, { kernelSize: 2, stride: 1 });
  t.same(Array.from(await argmax.data()), [4, 4, 4, 4]);
  const dy = Tensor.fromArray([1, 2, 3, 4], [1, 1, 2, 2]);
  const dx = ops.maxPool2dBackward(dy, argmax, x.shape);
  t.same(Array.from(await dx.data()), [0, 0, 0, 0, 10, 0, 0, 0, 0]);
  for (const u of [x, y, argmax, dy, dx]) u.dispose();
});

t.test('max pooling pads with -inf and propagates NaN as PyTorch does', async (t) => {
  // All inputs negative: a zero-padded max would return 0 at the borders.
  const x = Tensor.full([1, 1, 4, 4], -5);
  const { y, argmax } = ops.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true });
  t.same(y.shape, [1, 1, 3, 3], 'ceil mode keeps the window that starts at the last row');
  t.same(Array.from(await y.data()), new Array(9).fill(-5));
  t.same(Array.from(await argmax.data()), [0, 1, 3, 4, 5, 7, 12, 13, 15], 'the first valid cell of each window');
  const xn = Tensor.fromArray([1, NaN, 3, 4], [1, 1, 2, 2]);
  const n = ops.maxPool2d(xn, { kernelSize: 2 });
  t.ok(Number.isNaN((await n.y.data())[0]));
  t.same(Array.from(await n.argmax.data()), [1]);
  for (const u of [x, y, argmax, xn, n.y, n.argmax]) u.dispose();
});

t.test('2x2 stride-2 max pooling (its own fast loop) keeps the first of ties, lets a NaN win, handles -inf and odd sizes', async (t) => {
  // Few distinct values so that ties are everywhere; odd sizes drop the last row and column.
  const pick = [-Infinity, -1, 0, 0, 1, 1, NaN];
  for (const [i, [N, C, H, W]] of [
    [2, 3, 7, 9],
    [1, 1, 2, 2],
    [3, 2, 28, 28],
    [1, 4, 5, 4],
  ].entries()) {
    const r = rng(900 + i);
    const x = Float32Array.from({ length: N * C * H * W }, () => pick[Math.floor(r() * pick.length)]);
    const OH = Math.floor(H / 2),
      OW = Math.floor(W / 2);
    const wantY: number[] = [];
    const wantA: number[] = [];
    for (let p = 0; p < N * C; p++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let best = -Infinity;
          let at = 2 * oh * W + 2 * ow;
          for (const [dh, dw] of [
            [0, 0],
            [0, 1],
            [1, 0],
            [1, 1],
          ]) {
            const idx = (2 * oh + dh) * W + 2 * ow + dw;
            const v = x[p * H * W + idx];
            if (v > best || Number.isNaN(v)) {
              best = v;
              at = idx;
            }
          }
          wantY.push(best);
          wantA.push(at);
        }
    const xt = Tensor.fromArray(x, [N, C, H, W]);
    const { y, argmax } = ops.maxPool2d(xt, { kernelSize: 2 });
    t.same(y.shape, [N, C, OH, OW]);
    t.same(Array.from(await y.data()), wantY, `${[N, C, H, W]}: y`);
    t.same(Array.from(await argmax.data()), wantA, `${[N, C, H, W]}: argmax`);
    // Backward: each window's gradient lands on its argmax; uncovered rows/columns get 0.
    const dy = randomArray(N * C * OH * OW, 950 + i);
    const wantDx = new Float64Array(N * C * H * W);
    wantA.forEach((at, o) => (wantDx[Math.floor(o / (OH * OW)) * H * W + at] += Math.fround(dy[o])));
    const dx = ops.maxPool2dBackward(Tensor.fromArray(f32(dy), [N, C, OH, OW]), argmax, [N, C, H, W]);
    t.equal(mismatch(await dx.data(), wantDx, { rtol: 0, atol: 0 }), null, `${[N, C, H, W]}: backward`);
    // An argmax from elsewhere (every window pointing at cell 0) still scatters exactly.
    const zeros = Tensor.fromArray(new Int32Array(N * C * OH * OW), [N, C, OH, OW]);
    const dx0 = await ops.maxPool2dBackward(Tensor.fromArray(f32(dy), [N, C, OH, OW]), zeros, [N, C, H, W]).data();
    for (let p = 0; p < N * C; p++) {
      let sum = 0;
      for (let o = 0; o < OH * OW; o++) sum += Math.fround(dy[p * OH * OW + o]);
      t.ok(Math.abs(dx0[p * H * W] - sum) <= 1e-5 * (1 + Math.abs(sum)), `${[N, C, H, W]} plane ${p}: foreign argmax accumulates`);
      if (p > 1) break;
    }
    for (const u of [xt, y, argmax, dx, zeros]) u.dispose();
  }
});

t.test('stride defaults to the kernel size', async (t) => {
  const x = Tensor.fromArray(f32(randomArray(2 * 8 * 8, 7)), [1, 2, 8, 8]);
  const a = ops.avgPool2d(x, { kernelSize: 2 });
  const b = ops.avgPool2d(x, { kernelSize: 2, stride: 2 });
  t.same(a.shape, [1, 2, 4, 4]);
  t.same(Array.from(await a.data()), Array.from(await b.data()));
  for (const u of [x, a, b]) u.dispose();
});

interface PoolCase {
  name: string;
  op: 'max' | 'avg' | 'sum';
  shape: number[];
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
  ceilMode: boolean;
  countIncludePad?: boolean;
  x: number[];
  yShape: number[];
  y: number[];
  g: number[];
  dx: number[];
  argmax?: number[];
}

eachBackend(
  t,
  'matches PyTorch (max_pool2d with indices, avg_pool2d, sum via divisor_override)',
  { families: ['maxPool'], cuda: true },
  async (t, be) => {
    const { cases } = loadFixture<{ cases: PoolCase[] }>('pool');
    t.ok(cases.length >= 20, 'fixture has its cases');
    for (const c of cases) {
      const o = { kernelSize: c.kernelSize, stride: c.stride, padding: c.padding, ceilMode: c.ceilMode };
      const x = Tensor.fromArray(c.x, c.shape, { device: be.device });
      const g = Tensor.fromArray(c.g, c.yShape, { device: be.device });
      let y: Tensor;
      let dx: Tensor;
      const extra: Tensor[] = [];
      if (c.op === 'max') {
        const r = ops.maxPool2d(x, o);
        y = r.y;
        extra.push(r.argmax);
        t.same(Array.from(await r.argmax.data()), c.argmax, `${c.name}: argmax`);
        dx = ops.maxPool2dBackward(g, r.argmax, c.shape);
      } else if (c.op === 'avg') {
        y = ops.avgPool2d(x, { ...o, countIncludePad: c.countIncludePad });
        dx = ops.avgPool2dBackward(g, c.shape, { ...o, countIncludePad: c.countIncludePad });
      } else {
        y = ops.sumPool2d(x, o);
        dx = ops.sumPool2dBackward(g, c.shape, o);
      }
      t.same(y.shape, c.yShape, `${c.name}: shape`);
      t.equal(mismatch(await y.data(), c.y, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `${c.name}: y`);
      t.equal(mismatch(await dx.data(), c.dx, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `${c.name}: dx`);
      for (const u of [x, g, y, dx, ...extra]) u.dispose();
    }
  },
);

t.test('bad inputs are refused with the op and the shapes named', async (t) => {
  const x = Tensor.zeros([1, 2, 5, 5]);
  const x3 = Tensor.zeros([2, 5, 5]);
  const xi = Tensor.fromArray(new Int32Array(4), [1, 1, 2, 2]);
  // one wrong shape and one wrong type or argument per op
  t.throws(() => ops.maxPool2d(x3, { kernelSize: 2 }), {
    code: 'ND_SHAPE',
    message: /maxPool2d: 'x' must have rank 4, got shape \[2, 5, 5\]/,
  });
  t.throws(() => ops.maxPool2d(xi, { kernelSize: 2 }), { code: 'ND_ARG', message: /maxPool2d: 'x' must be float32/ });
  t.throws(() => ops.maxPool2d(x, { kernelSize: 3, padding: 2 }), {
    code: 'ND_ARG',
    message: /maxPool2d: padding \[2, 2\] must be at most half the kernel \[3, 3\]/,
  });
  t.throws(() => ops.maxPool2d(x, { kernelSize: 6 }), {
    code: 'ND_SHAPE',
    message: /maxPool2d: input \[1, 2, 5, 5\] .* gives an empty output/,
  });
  t.throws(() => ops.avgPool2d(x3, { kernelSize: 2 }), { code: 'ND_SHAPE', message: /avgPool2d: 'x' must have rank 4/ });
  t.throws(() => ops.avgPool2d(x, { kernelSize: 2, countIncludePad: 'yes' as unknown as boolean }), {
    code: 'ND_ARG',
    message: /avgPool2d: 'countIncludePad' must be a boolean/,
  });
  t.throws(() => ops.sumPool2d(x, { kernelSize: 0 }), { code: 'ND_ARG', message: /sumPool2d: 'kernelSize'/ });
  t.throws(() => ops.sumPool2d(x, undefined as unknown as { kernelSize: number }), { code: 'ND_ARG', message: /sumPool2d: options/ });

  const dy = Tensor.zeros([1, 2, 3, 3]);
  t.throws(() => ops.avgPool2dBackward(dy, [1, 2, 5, 5], { kernelSize: 2 }), {
    code: 'ND_SHAPE',
    message: /avgPool2dBackward: 'dy' \[1, 2, 3, 3\] must have shape \[1, 2, 2, 2\], the output for input \[1, 2, 5, 5\]/,
  });
  t.throws(() => ops.avgPool2dBackward(dy, [1, 2, 5] as unknown as number[], { kernelSize: 2 }), {
    code: 'ND_ARG',
    message: /avgPool2dBackward: 'inputShape'/,
  });
  t.throws(() => ops.sumPool2dBackward(dy, [1, 2, 4, 4], { kernelSize: 2 }), {
    code: 'ND_SHAPE',
    message: /sumPool2dBackward: 'dy' \[1, 2, 3, 3\] must have shape \[1, 2, 2, 2\], the output for input \[1, 2, 4, 4\]/,
  });
  t.throws(() => ops.sumPool2dBackward(xi, [1, 1, 4, 4], { kernelSize: 2 }), {
    code: 'ND_ARG',
    message: /sumPool2dBackward: 'dy' must be float32/,
  });

  const am = Tensor.fromArray(new Int32Array(9), [1, 1, 3, 3]);
  t.throws(() => ops.maxPool2dBackward(dy, am, [1, 2, 5, 5]), {
    code: 'ND_SHAPE',
    message: /maxPool2dBackward: 'dy' \[1, 2, 3, 3\] and 'argmax' \[1, 1, 3, 3\]/,
  });
  t.throws(() => ops.maxPool2dBackward(dy, dy, [1, 2, 5, 5]), { code: 'ND_ARG', message: /maxPool2dBackward: 'argmax' must be int32/ });
  const am2 = Tensor.fromArray(new Int32Array(18), [1, 2, 3, 3]);
  t.throws(() => ops.maxPool2dBackward(dy, am2, [1, 3, 5, 5]), {
    code: 'ND_SHAPE',
    message: /maxPool2dBackward: 'dy' \[1, 2, 3, 3\] and 'inputShape' \[1, 3, 5, 5\] must agree on N and C/,
  });

  // An argmax that points outside the plane fails when the kernel runs, never writes out of bounds.
  const bad = Tensor.fromArray(
    Int32Array.from({ length: 18 }, (_, i) => (i === 5 ? 25 : 0)),
    [1, 2, 3, 3],
  );
  const dx = ops.maxPool2dBackward(dy, bad, [1, 2, 5, 5]);
  await t.rejects(dx.data(), { code: 'ND_ARG', message: /maxPool2dBackward: argmax holds 25, outside the input plane of 25 elements/ });
  for (const u of [x, x3, xi, dy, am, am2, bad, dx]) u.dispose();
});

// The values-only max pool (inference) must give maxPool2d's values bit for bit: a separate
// AVX-512 kernel for 2x2/2 windows (masked loads for short rows: widths 1 to 40 cover a tail of
// every length), the argmax kernels into a scratch buffer elsewhere. Ties between -0 and +0 and
// NaNs tell the scan order apart.
eachBackend(t, 'maxPool2dValues equals maxPool2d values bit for bit', { families: ['maxPool'], cuda: true }, async (t, be) => {
  const cases: [string, Geom][] = [...named, ...randomGeoms];
  for (let w = 1; w <= 40; w += w < 8 ? 1 : 5) cases.push([`2x2 s2 width ${2 * w}`, g0(2, 3, 4, 2 * w, 2, 2)]);
  cases.push(['2x2 s2 odd sizes', g0(1, 2, 7, 9, 2, 2)]);
  let seed = 7000;
  for (const [name, g] of cases) {
    const v = randomArray(size(g), seed++, -2, 2);
    // Signed zeros and NaNs in a share of the inputs.
    for (let i = 0; i < v.length; i++) v[i] = i % 7 === 0 ? (i % 14 === 0 ? -0 : 0) : i % 23 === 0 ? Number.NaN : v[i];
    const x = Tensor.fromArray(Float32Array.from(v), [g.N, g.C, g.H, g.W], { device: be.device });
    const full = ops.maxPool2d(x, opts(g));
    const values = ops.maxPool2dValues(x, opts(g));
    t.same(values.shape, full.y.shape, `${name}: shape`);
    const a = Buffer.from((await values.data()).buffer),
      b = Buffer.from((await full.y.data()).buffer);
    t.ok(a.equals(b), `${name}: same bits`);
    for (const u of [x, full.y, full.argmax, values]) u.dispose();
  }
  t.throws(() => ops.maxPool2dValues(Tensor.zeros([2, 3, 4]), { kernelSize: 2 }), { code: 'ND_SHAPE' });
});
