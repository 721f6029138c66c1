import t from 'tap';
import { Tensor, device, isa, isaFamilies, ops, setIsa } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, isaPlan, tolFor } from '../helpers/each-backend.js';
import { f32, randInt, randomArray, rng } from '../helpers/rng.js';

interface Win {
  N: number;
  C: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PH: number;
  PW: number;
  DH: number;
  DW: number;
}

const outSize = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

function outHW(g: Win): [number, number] {
  return [outSize(g.H, g.KH, g.SH, g.PH, g.DH), outSize(g.W, g.KW, g.SW, g.PW, g.DW)];
}

/** Calls fn(n, c, kh, kw, oh, ow, colIndex, xIndex or -1 in the padding) for every column entry. */
function forEachTap(g: Win, fn: (col: number, xi: number) => void): void {
  const [OH, OW] = outHW(g);
  const rows = g.C * g.KH * g.KW;
  for (let n = 0; n < g.N; n++)
    for (let c = 0; c < g.C; c++)
      for (let kh = 0; kh < g.KH; kh++)
        for (let kw = 0; kw < g.KW; kw++) {
          const r = (c * g.KH + kh) * g.KW + kw;
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const ih = oh * g.SH - g.PH + kh * g.DH;
              const iw = ow * g.SW - g.PW + kw * g.DW;
              const inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
              fn((n * rows + r) * OH * OW + oh * OW + ow, inside ? ((n * g.C + c) * g.H + ih) * g.W + iw : -1);
            }
        }
}

function im2col64(x: Float64Array, g: Win): Float64Array {
  const [OH, OW] = outHW(g);
  const cols = new Float64Array(g.N * g.C * g.KH * g.KW * OH * OW);
  forEachTap(g, (col, xi) => (cols[col] = xi < 0 ? 0 : x[xi]));
  return cols;
}

function col2im64(cols: Float64Array, g: Win): Float64Array {
  const x = new Float64Array(g.N * g.C * g.H * g.W);
  forEachTap(g, (col, xi) => {
    if (xi >= 0) x[xi] += cols[col];
  });
  return x;
}

function opts(g: Win) {
  return {
    kernelSize: [g.KH, g.KW] as [number, number],
    stride: [g.SH, g.SW] as [number, number],
    padding: [g.PH, g.PW] as [number, number],
    dilation: [g.DH, g.DW] as [number, number],
  };
}

function win(
  N: number,
  C: number,
  H: number,
  W: number,
  K: [number, number],
  S: [number, number],
  P: [number, number],
  D: [number, number],
): Win {
  return { N, C, H, W, KH: K[0], KW: K[1], SH: S[0], SW: S[1], PH: P[0], PW: P[1], DH: D[0], DW: D[1] };
}

const ODD: Array<[string, Win]> = [
  ['C=1 3x3', win(2, 1, 5, 6, [3, 3], [1, 1], [0, 0], [1, 1])],
  ['1x1', win(1, 5, 3, 7, [1, 1], [1, 1], [0, 0], [1, 1])],
  ['stride > kernel', win(2, 2, 11, 10, [2, 2], [3, 4], [0, 0], [1, 1])],
  ['padding 2 on 3x3', win(1, 3, 4, 5, [3, 3], [1, 1], [2, 2], [1, 1])],
  ['padding wider than the image', win(1, 2, 2, 3, [5, 5], [1, 2], [3, 3], [1, 1])],
  ['dilation 2', win(2, 3, 9, 9, [3, 3], [1, 1], [1, 1], [2, 2])],
  ['dilation 3, stride 2, rectangular', win(1, 2, 13, 11, [2, 3], [2, 1], [1, 2], [3, 2])],
  ['11x11 stride 4 (AlexNet conv1 shape)', win(1, 3, 35, 35, [11, 11], [4, 4], [0, 0], [1, 1])],
  ['5x5 padding 2, 13 channels', win(2, 13, 9, 9, [5, 5], [1, 1], [2, 2], [1, 1])],
  ['kernel = image', win(2, 2, 4, 3, [4, 3], [1, 1], [0, 0], [1, 1])],
  ['same 3x3 (13x13 like AlexNet conv3-5)', win(2, 5, 13, 13, [3, 3], [1, 1], [1, 1], [1, 1])],
  ['same 5x5 on 27x27 (AlexNet conv2)', win(1, 3, 27, 27, [5, 5], [1, 1], [2, 2], [1, 1])],
  ['same width, other height, dilated', win(2, 2, 9, 17, [2, 3], [1, 1], [0, 2], [3, 2])],
  ['same, plane smaller than a vector', win(3, 2, 3, 3, [3, 3], [1, 1], [1, 1], [1, 1])],
];

function randomWins(count: number, seed: number): Array<[string, Win]> {
  const r = rng(seed);
  const out: Array<[string, Win]> = [];
  while (out.length < count) {
    const g = win(
      randInt(r, 1, 3),
      randInt(r, 1, 7),
      randInt(r, 1, 17),
      randInt(r, 1, 17),
      [randInt(r, 1, 5), randInt(r, 1, 5)],
      [randInt(r, 1, 4), randInt(r, 1, 4)],
      [randInt(r, 0, 3), randInt(r, 0, 3)],
      [randInt(r, 1, 3), randInt(r, 1, 3)],
    );
    const [OH, OW] = outHW(g);
    if (OH >= 1 && OW >= 1) out.push([`random ${JSON.stringify(g)}`, g]);
  }
  return out;
}

const CASES = [...ODD, ...randomWins(25, 7)];

// Every ISA path (the im2col family has an AVX-512 and a portable build) and cuda:N, through the
// one backend helper; the copies must be exact on each.
eachBackend(t, 'im2col equals the float64 reference exactly', { families: ['im2col'], cuda: true }, async (t, be) => {
  if (be.isa) t.match(isaFamilies().im2col, be.isa === 'avx512' ? 'avx512' : 'portable', `row copies: ${isaFamilies().im2col}`);
  for (const [i, [name, g]] of CASES.entries()) {
    const x = f32(randomArray(g.N * g.C * g.H * g.W, 100 + i));
    const xt = Tensor.fromArray(Float32Array.from(x), [g.N, g.C, g.H, g.W], { device: be.device });
    const cols = ops.im2col(xt, opts(g));
    const [OH, OW] = outHW(g);
    t.same(cols.shape, [g.N, g.C * g.KH * g.KW, OH * OW], `${be.name}, ${name}: shape`);
    t.equal(mismatch(await cols.data(), im2col64(x, g), { rtol: 0, atol: 0 }), null, `${be.name}, ${name}`);
    xt.dispose();
    cols.dispose();
  }
});

eachBackend(t, 'col2im equals the float64 reference (exactly on integer data)', { families: ['im2col'], cuda: true }, async (t, be) => {
  const on = { device: be.device };
  for (const [i, [name, g]] of CASES.entries()) {
    const [OH, OW] = outHW(g);
    const shape = [g.N, g.C * g.KH * g.KW, OH * OW];
    const n = shape[0] * shape[1] * shape[2];
    // Small integers: every partial sum is exact in float32, so any order gives the same bits.
    const ints = Float64Array.from(randomArray(n, 200 + i, -8, 8), Math.round);
    const c = Tensor.fromArray(Float32Array.from(ints), shape, on);
    const x = ops.col2im(c, { ...opts(g), inputSize: [g.H, g.W] });
    t.same(x.shape, [g.N, g.C, g.H, g.W], `${be.name}, ${name}: shape`);
    t.equal(mismatch(await x.data(), col2im64(ints, g), { rtol: 0, atol: 0 }), null, `${be.name}, ${name} (integers)`);
    const real = f32(randomArray(n, 300 + i));
    const c2 = Tensor.fromArray(Float32Array.from(real), shape, on);
    const x2 = ops.col2im(c2, { ...opts(g), inputSize: [g.H, g.W] });
    t.equal(
      mismatch(await x2.data(), col2im64(real, g), tolFor(be, { rtol: 1e-6, atol: 1e-6 }, 'elementwise')),
      null,
      `${be.name}, ${name} (reals)`,
    );
    for (const z of [c, x, c2, x2]) z.dispose();
  }
});

t.test('every im2col path gives bit-identical col2im sums on real data', async (t) => {
  const { run, skip } = isaPlan(['im2col']);
  for (const [level, why] of skip) t.pass(`cpu/${level}`, { skip: why });
  t.ok(run.includes('portable'), `paths run: ${run.join(', ')}`);
  const before = isa();
  for (const [i, [name, g]] of CASES.entries()) {
    const [OH, OW] = outHW(g);
    const shape = [g.N, g.C * g.KH * g.KW, OH * OW];
    const c = Tensor.fromArray(Float32Array.from(randomArray(shape[0] * shape[1] * shape[2], 600 + i)), shape);
    const results = [];
    for (const level of run) {
      await device('cpu').synchronize();
      setIsa(level);
      results.push(await ops.col2im(c, { ...opts(g), inputSize: [g.H, g.W] }).data());
    }
    for (let k = 1; k < results.length; k++)
      t.equal(mismatch(results[k], results[0], { rtol: 0, atol: 0 }), null, `${run[k]} vs ${run[0]}: ${name}`);
    c.dispose();
  }
  await device('cpu').synchronize();
  setIsa(before);
});

t.test('col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>', async (t) => {
  for (const [i, [name, g]] of CASES.entries()) {
    const [OH, OW] = outHW(g);
    const xs = f32(randomArray(g.N * g.C * g.H * g.W, 400 + i));
    const cs = f32(randomArray(g.N * g.C * g.KH * g.KW * OH * OW, 500 + i));
    const x = Tensor.fromArray(Float32Array.from(xs), [g.N, g.C, g.H, g.W]);
    const c = Tensor.fromArray(Float32Array.from(cs), [g.N, g.C * g.KH * g.KW, OH * OW]);
    const ix = await ops.im2col(x, opts(g)).data();
    const tc = await ops.col2im(c, { ...opts(g), inputSize: [g.H, g.W] }).data();
    let lhs = 0;
    let rhs = 0;
    let scale = 0;
    for (let k = 0; k < ix.length; k++) {
      lhs += ix[k] * cs[k];
      scale += Math.abs(ix[k] * cs[k]);
    }
    for (let k = 0; k < tc.length; k++) rhs += xs[k] * tc[k];
    t.ok(Math.abs(lhs - rhs) <= 1e-6 * Math.max(1, scale), `${name}: ${lhs} vs ${rhs}`);
    x.dispose();
    c.dispose();
  }
});

t.test('im2col and col2im refuse bad input', async (t) => {
  const x = Tensor.zeros([1, 2, 5, 5]);
  t.throws(() => ops.im2col(Tensor.zeros([2, 5, 5]), { kernelSize: 3 }), {
    code: 'ND_SHAPE',
    message: /im2col: 'x' must have rank 4, got shape \[2, 5, 5\]/,
  });
  t.throws(() => ops.im2col(x, { kernelSize: 7 }), { code: 'ND_SHAPE', message: /im2col: a 7x7 kernel .*\[1, 2, 5, 5\]/ });
  t.throws(() => ops.im2col(x, { kernelSize: 3, dilation: 3 }), { code: 'ND_SHAPE', message: /im2col: a 3x3 kernel \(dilation 3x3\)/ });
  t.throws(() => ops.im2col(x, { kernelSize: 3, stride: 0 }), { code: 'ND_ARG', message: /im2col: 'stride'/ });
  t.throws(() => ops.im2col(x, { kernelSize: 3, padding: -1 }), { code: 'ND_ARG', message: /im2col: 'padding'/ });
  t.throws(() => ops.im2col(x, { kernelSize: '3' as unknown as number }), { code: 'ND_ARG', message: /im2col: 'kernelSize'/ });
  t.throws(() => ops.im2col(Tensor.zeros([1, 2, 5, 5], { dtype: 'int32' }), { kernelSize: 3 }), {
    code: 'ND_ARG',
    message: /im2col: 'x' must be float32/,
  });
  const cols = Tensor.zeros([1, 18, 9]);
  t.throws(() => ops.col2im(cols, { kernelSize: 3, inputSize: [6, 6] }), {
    code: 'ND_SHAPE',
    message: /col2im: 'cols' \[1, 18, 9\] must have 4\*4 = 16 columns/,
  });
  t.throws(() => ops.col2im(cols, { kernelSize: 4, inputSize: [5, 5] }), {
    code: 'ND_SHAPE',
    message: /col2im: 'cols' \[1, 18, 9\] must have C\*4\*4 rows/,
  });
  t.throws(() => ops.col2im(cols, { kernelSize: 3 } as never), { code: 'ND_ARG', message: /col2im: 'inputSize'/ });
  const ok = ops.col2im(cols, { kernelSize: 3, inputSize: [5, 5] });
  t.same(ok.shape, [1, 2, 5, 5]);
  x.dispose();
});
