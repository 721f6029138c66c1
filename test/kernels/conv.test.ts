import t from 'tap';
// C3_TABLE: LeNet-5's connection table (which of S2's 6 maps feed each of C3's 16 maps).
import { C3_TABLE, Tensor, device, isa, isaFamilies, ops, memory, resetPeakMemory, setIsa, supportedIsas } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import type { Conv2dOptions } from '../../lib/ops/conv.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, isaPlan, type Family } from '../helpers/each-backend.js';
import { loadFixture } from '../helpers/fixtures.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { randomTensor } from '../helpers/random-tensor.js';
import { f32, randInt, randomArray, rng } from '../helpers/rng.js';

interface Geom {
  N: number;
  C: number;
  H: number;
  W: number;
  OC: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PH: number;
  PW: number;
  DH: number;
  DW: number;
  groups: number;
}

const outSize = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
const outHW = (g: Geom): [number, number] => [outSize(g.H, g.KH, g.SH, g.PH, g.DH), outSize(g.W, g.KW, g.SW, g.PW, g.DW)];
const xSize = (g: Geom) => g.N * g.C * g.H * g.W;
const wSize = (g: Geom) => g.OC * (g.C / g.groups) * g.KH * g.KW;
const ySize = (g: Geom) => g.N * g.OC * outHW(g)[0] * outHW(g)[1];

/**
 * Calls fn(xIndex, wIndex, yIndex, oc) for every multiply of the direct convolution (taps in the
 * padding skipped). The float64 forward, the analytic backward and the masks all use it.
 */
function forEachMac(g: Geom, fn: (xi: number, wi: number, yi: number, oc: number) => void): void {
  const [OH, OW] = outHW(g);
  const Cg = g.C / g.groups;
  const OCg = g.OC / g.groups;
  for (let n = 0; n < g.N; n++)
    for (let oc = 0; oc < g.OC; oc++) {
      const grp = Math.floor(oc / OCg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * g.OC + oc) * OH + oh) * OW + ow;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < g.KH; kh++) {
              const ih = oh * g.SH - g.PH + kh * g.DH;
              if (ih < 0 || ih >= g.H) continue;
              for (let kw = 0; kw < g.KW; kw++) {
                const iw = ow * g.SW - g.PW + kw * g.DW;
                if (iw < 0 || iw >= g.W) continue;
                fn(((n * g.C + grp * Cg + c) * g.H + ih) * g.W + iw, ((oc * Cg + c) * g.KH + kh) * g.KW + kw, yi, oc);
              }
            }
        }
    }
}

/** w * mask, the mask [OC, C/groups] broadcast over KH*KW. */
function masked(w: Float64Array, mask: Float64Array | null, g: Geom): Float64Array {
  if (!mask) return w;
  const khw = g.KH * g.KW;
  return w.map((v, i) => v * mask[Math.floor(i / khw)]);
}

function conv64(x: Float64Array, w: Float64Array, b: Float64Array | null, g: Geom, mask: Float64Array | null = null): Float64Array {
  const wm = masked(w, mask, g);
  const y = new Float64Array(ySize(g));
  if (b) {
    const plane = ySize(g) / (g.N * g.OC);
    for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / plane) % g.OC];
  }
  forEachMac(g, (xi, wi, yi) => (y[yi] += x[xi] * wm[wi]));
  return y;
}

function backward64(dy: Float64Array, x: Float64Array, w: Float64Array, g: Geom, mask: Float64Array | null = null) {
  const wm = masked(w, mask, g);
  const dx = new Float64Array(xSize(g));
  const dw = new Float64Array(wSize(g));
  const db = new Float64Array(g.OC);
  forEachMac(g, (xi, wi, yi) => {
    dx[xi] += dy[yi] * wm[wi];
    dw[wi] += dy[yi] * x[xi];
  });
  const plane = ySize(g) / (g.N * g.OC);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / plane) % g.OC] += dy[i];
  return { dx, dw: masked(dw, mask, g), db };
}

function geom(
  N: number,
  C: number,
  H: number,
  W: number,
  OC: number,
  K: [number, number],
  S: [number, number],
  P: [number, number],
  D: [number, number],
  groups: number,
): Geom {
  return { N, C, H, W, OC, KH: K[0], KW: K[1], SH: S[0], SW: S[1], PH: P[0], PW: P[1], DH: D[0], DW: D[1], groups };
}

function options(g: Geom) {
  return {
    stride: [g.SH, g.SW] as [number, number],
    padding: [g.PH, g.PW] as [number, number],
    dilation: [g.DH, g.DW] as [number, number],
    groups: g.groups,
  };
}

const tensor = (v: Float64Array, shape: number[]) => Tensor.fromArray(Float32Array.from(v), shape);

function randomGeoms(count: number, seed: number, maxSide = 12): Geom[] {
  const r = rng(seed);
  const out: Geom[] = [];
  while (out.length < count) {
    const groups = randInt(r, 1, 3);
    const g = geom(
      randInt(r, 1, 3),
      groups * randInt(r, 1, 4),
      randInt(r, 1, maxSide),
      randInt(r, 1, maxSide),
      groups * randInt(r, 1, 4),
      [randInt(r, 1, 5), randInt(r, 1, 5)],
      [randInt(r, 1, 3), randInt(r, 1, 3)],
      [randInt(r, 0, 2), randInt(r, 0, 2)],
      [randInt(r, 1, 2), randInt(r, 1, 2)],
      groups,
    );
    const [OH, OW] = outHW(g);
    if (OH >= 1 && OW >= 1) out.push(g);
  }
  return out;
}

const ODD: Geom[] = [
  geom(1, 1, 1, 1, 1, [1, 1], [1, 1], [0, 0], [1, 1], 1), // everything 1
  geom(2, 1, 9, 7, 3, [3, 3], [1, 1], [0, 0], [1, 1], 1), // C = 1
  geom(2, 3, 10, 11, 2, [2, 2], [3, 3], [0, 0], [1, 1], 1), // stride > kernel
  geom(3, 5, 6, 6, 7, [1, 1], [1, 1], [0, 0], [1, 1], 1), // pointwise
  geom(2, 4, 7, 5, 6, [1, 1], [2, 1], [1, 0], [1, 1], 2), // 1x1 strided and padded, groups
  geom(1, 6, 9, 9, 4, [3, 3], [1, 1], [1, 1], [1, 1], 2), // AlexNet-like towers
  geom(2, 3, 8, 9, 3, [3, 3], [1, 1], [2, 2], [2, 2], 3), // depthwise, dilated
  geom(1, 3, 23, 23, 5, [11, 11], [4, 4], [0, 0], [1, 1], 1), // AlexNet conv1 form
  // Column strides 2 and 4 pack with strided masked loads (im2col_panels.cc), padding masked out
  // per lane; 3 gathers. Wide rows so that groups of 16 columns hold one, two and three runs.
  geom(2, 2, 9, 70, 3, [3, 5], [1, 2], [1, 2], [1, 1], 1), // stride 2, padded
  geom(2, 2, 11, 75, 3, [5, 11], [2, 4], [2, 3], [1, 1], 1), // stride 4, padded
  geom(1, 2, 7, 40, 3, [3, 3], [1, 4], [0, 0], [1, 1], 1), // stride 4, rows of 10 outputs
  geom(1, 2, 7, 50, 3, [3, 3], [2, 3], [1, 1], [1, 1], 1), // stride 3: gathers
];

// Small stride-1 convolutions take a direct fast path (and a full-kernel one is a GEMM); 'off'
// forces the im2col + GEMM path. The correctness tests below run under both, each on every ISA
// path this CPU has (eachBackend: avx512, avx2, portable, the ones it lacks reported as skips),
// switching only while the stream is idle (kernels read the settings when an op starts).
const fastPath = native.convFastPath;
const FAST = ['auto', 'off'] as const;
const FAMILIES: Record<(typeof FAST)[number], Family[]> = {
  auto: ['gemm', 'convDirect', 'im2col', 'im2colPanels'],
  off: ['gemm', 'im2col', 'im2colPanels'],
};
async function usePath(name: string): Promise<void> {
  await device('cpu').synchronize();
  fastPath(name);
}

interface FixtureCase {
  name: string;
  xShape: number[];
  wShape: number[];
  stride: number | [number, number];
  padding: number | [number, number];
  dilation: number | [number, number];
  groups: number;
  x: number[];
  w: number[];
  b?: number[];
  y: number[];
  dy: number[];
  dx: number[];
  dw: number[];
  db?: number[];
}

for (const path of FAST) {
  eachBackend(
    t,
    `${path}: LeNet-5 shapes and odd stride-1 shapes (the fast paths' territory) match float64`,
    { families: FAMILIES[path] },
    async (t) => {
      await usePath(path);
      t.teardown(() => fastPath('auto'));
      const shapes = [
        geom(3, 1, 28, 28, 6, [5, 5], [1, 1], [2, 2], [1, 1], 1), // C1
        geom(5, 6, 14, 14, 16, [5, 5], [1, 1], [0, 0], [1, 1], 1), // C3 (full table)
        geom(5, 16, 5, 5, 120, [5, 5], [1, 1], [0, 0], [1, 1], 1), // C5: the kernel covers the input
        geom(1, 16, 5, 5, 120, [5, 5], [1, 1], [0, 0], [1, 1], 1), // C5 at batch 1: dot products, no GEMM
        geom(3, 2, 3, 4, 7, [3, 4], [2, 3], [0, 0], [1, 1], 1), // full kernel, rectangular, strided
        geom(2, 3, 9, 17, 7, [3, 3], [1, 1], [1, 1], [1, 1], 1), // 7 channels: partial register tiles
        geom(1, 2, 6, 5, 5, [4, 2], [1, 1], [3, 1], [1, 1], 1), // padding = kernel - 1
        geom(2, 4, 5, 20, 3, [5, 3], [1, 1], [0, 1], [1, 1], 1), // one output row
        geom(4, 1, 32, 32, 13, [5, 5], [1, 1], [0, 0], [1, 1], 1), // C = 1, 13 channels
        geom(3, 5, 7, 9, 2, [1, 3], [1, 1], [0, 1], [1, 1], 1), // 1x3 kernel
        // Rows under 4/5 full with channels in 16s take 16 channels a vector (conv_direct.cc's
        // corr16): two blocks of 16, 11 positions (a tile of 8 and one of 3) in each 19-wide row.
        geom(2, 3, 9, 19, 32, [3, 9], [1, 1], [1, 0], [1, 1], 1),
      ];
      for (const [i, g] of shapes.entries()) {
        const x = f32(randomArray(xSize(g), 200 + i));
        const w = f32(randomArray(wSize(g), 210 + i));
        const b = f32(randomArray(g.OC, 220 + i));
        const dy = f32(randomArray(ySize(g), 230 + i));
        const xt = tensor(x, [g.N, g.C, g.H, g.W]);
        const wt = tensor(w, [g.OC, g.C, g.KH, g.KW]);
        const opts = { ...options(g), bias: tensor(b, [g.OC]) };
        const name = JSON.stringify(g);
        t.equal(mismatch(await ops.conv2d(xt, wt, opts).data(), conv64(x, w, b, g), { rtol: 1e-4, atol: 1e-5 }), null, `${name}: y`);
        const ref = backward64(dy, x, w, g);
        const dyt = tensor(dy, [g.N, g.OC, ...outHW(g)]);
        const grads = ops.conv2dBackward(dyt, xt, wt, opts);
        t.equal(mismatch(await grads.dx!.data(), ref.dx, { rtol: 1e-4, atol: 1e-4 }), null, `${name}: dx`);
        t.equal(mismatch(await grads.dw.data(), ref.dw, { rtol: 1e-4, atol: 1e-4 }), null, `${name}: dw`);
        t.equal(mismatch(await grads.db!.data(), ref.db, { rtol: 1e-5, atol: 1e-4 }), null, `${name}: db`);
        const noDx = ops.conv2dBackward(dyt, xt, wt, { ...opts, needInputGrad: false });
        t.equal(mismatch(await noDx.dw.data(), ref.dw, { rtol: 1e-4, atol: 1e-4 }), null, `${name}: dw without dx`);
      }
    },
  );

  eachBackend(t, `${path}: conv2d forward matches a float64 direct convolution`, { families: FAMILIES[path] }, async (t) => {
    await usePath(path);
    t.teardown(() => fastPath('auto'));
    for (const [i, g] of [...ODD, ...randomGeoms(20, 11)].entries()) {
      const x = f32(randomArray(xSize(g), 10 + i));
      const w = f32(randomArray(wSize(g), 20 + i));
      const b = i % 2 ? f32(randomArray(g.OC, 30 + i)) : null;
      const y = ops.conv2d(tensor(x, [g.N, g.C, g.H, g.W]), tensor(w, [g.OC, g.C / g.groups, g.KH, g.KW]), {
        ...options(g),
        bias: b ? tensor(b, [g.OC]) : null,
      });
      t.same(y.shape, [g.N, g.OC, ...outHW(g)], `${JSON.stringify(g)}: shape`);
      t.equal(mismatch(await y.data(), conv64(x, w, b, g), { rtol: 1e-4, atol: 1e-5 }), null, JSON.stringify(g));
    }
  });

  eachBackend(t, `${path}: conv2d backward matches the float64 analytic gradients`, { families: FAMILIES[path] }, async (t) => {
    await usePath(path);
    t.teardown(() => fastPath('auto'));
    const big = [
      geom(3, 16, 13, 13, 24, [3, 3], [1, 1], [1, 1], [1, 1], 2),
      geom(2, 3, 27, 27, 8, [11, 11], [4, 4], [2, 2], [1, 1], 1),
      geom(4, 8, 12, 12, 10, [5, 5], [1, 1], [2, 2], [1, 1], 1),
    ];
    for (const [i, g] of [...ODD, ...randomGeoms(20, 12), ...big].entries()) {
      const x = f32(randomArray(xSize(g), 40 + i));
      const w = f32(randomArray(wSize(g), 50 + i));
      const dy = f32(randomArray(ySize(g), 60 + i));
      const bias = i % 2 ? Tensor.zeros([g.OC]) : null;
      const ref = backward64(dy, x, w, g);
      const grads = ops.conv2dBackward(
        tensor(dy, [g.N, g.OC, ...outHW(g)]),
        tensor(x, [g.N, g.C, g.H, g.W]),
        tensor(w, [g.OC, g.C / g.groups, g.KH, g.KW]),
        {
          ...options(g),
          bias,
        },
      );
      const name = JSON.stringify(g);
      t.equal(mismatch(await grads.dx!.data(), ref.dx, { rtol: 1e-4, atol: 1e-4 }), null, `${name}: dx`);
      t.equal(mismatch(await grads.dw.data(), ref.dw, { rtol: 1e-4, atol: 1e-4 }), null, `${name}: dw`);
      if (bias) t.equal(mismatch(await grads.db!.data(), ref.db, { rtol: 1e-5, atol: 1e-4 }), null, `${name}: db`);
      else t.equal(grads.db, undefined, `${name}: no db without a bias`);
    }
  });

  eachBackend(t, `${path}: conv2d backward matches finite differences`, { families: FAMILIES[path] }, async (t) => {
    await usePath(path);
    t.teardown(() => fastPath('auto'));
    const small = [
      geom(2, 2, 5, 4, 3, [3, 2], [1, 1], [1, 0], [1, 1], 1),
      geom(1, 4, 6, 6, 2, [3, 3], [2, 2], [1, 1], [1, 1], 2),
      geom(2, 1, 7, 7, 2, [2, 2], [1, 2], [0, 1], [2, 2], 1),
      geom(1, 3, 5, 5, 3, [1, 1], [1, 1], [0, 0], [1, 1], 3),
    ];
    for (const [i, g] of small.entries()) {
      const x = f32(randomArray(xSize(g), 70 + i));
      const w = f32(randomArray(wSize(g), 80 + i));
      const b = f32(randomArray(g.OC, 90 + i));
      const dy = f32(randomArray(ySize(g), 100 + i));
      const grads = ops.conv2dBackward(
        tensor(dy, [g.N, g.OC, ...outHW(g)]),
        tensor(x, [g.N, g.C, g.H, g.W]),
        tensor(w, [g.OC, g.C / g.groups, g.KH, g.KW]),
        {
          ...options(g),
          bias: tensor(b, [g.OC]),
        },
      );
      const name = JSON.stringify(g);
      const tol = { rtol: 1e-4, atol: 1e-4 };
      t.equal(
        mismatch(
          await grads.dx!.data(),
          numericGrad((v) => conv64(v, w, b, g), x, dy),
          tol,
        ),
        null,
        `${name}: dx`,
      );
      t.equal(
        mismatch(
          await grads.dw.data(),
          numericGrad((v) => conv64(x, v, b, g), w, dy),
          tol,
        ),
        null,
        `${name}: dw`,
      );
      t.equal(
        mismatch(
          await grads.db!.data(),
          numericGrad((v) => conv64(x, w, v, g), b, dy),
          tol,
        ),
        null,
        `${name}: db`,
      );
    }
  });

  eachBackend(
    t,
    `${path}: a connection mask (LeNet-5 C3) gives w * mask forward and masked gradients`,
    { families: FAMILIES[path] },
    async (t) => {
      await usePath(path);
      t.teardown(() => fastPath('auto'));
      const g = geom(3, 6, 14, 14, 16, [5, 5], [1, 1], [0, 0], [1, 1], 1);
      const mask = new Float64Array(16 * 6);
      C3_TABLE.forEach((ins, oc) => ins.forEach((c) => (mask[oc * 6 + c] = 1)));
      let connections = 0;
      for (const m of mask) connections += m;
      t.equal(connections, 60, 'the table has 60 connections');
      const x = f32(randomArray(xSize(g), 1));
      const w = f32(randomArray(wSize(g), 2));
      const b = f32(randomArray(16, 3));
      const dy = f32(randomArray(ySize(g), 4));
      const opts = { bias: tensor(b, [16]), mask: tensor(mask, [16, 6]) };
      const xt = tensor(x, [3, 6, 14, 14]);
      const wt = tensor(w, [16, 6, 5, 5]);
      const y = ops.conv2d(xt, wt, opts);
      t.equal(mismatch(await y.data(), conv64(x, w, b, g, mask), { rtol: 1e-4, atol: 1e-5 }), null, 'forward');
      const unmasked = await ops.conv2d(xt, wt, { bias: opts.bias }).data();
      t.ok(mismatch(await y.data(), unmasked, { rtol: 1e-4, atol: 1e-5 }) !== null, 'the mask changes the output');
      const grads = ops.conv2dBackward(tensor(dy, [3, 16, 10, 10]), xt, wt, opts);
      const ref = backward64(dy, x, w, g, mask);
      t.equal(mismatch(await grads.dx!.data(), ref.dx, { rtol: 1e-4, atol: 1e-4 }), null, 'dx uses w * mask');
      const dw = await grads.dw.data();
      t.equal(mismatch(dw, ref.dw, { rtol: 1e-4, atol: 1e-4 }), null, 'dw is masked');
      let zeroWhereMasked = true;
      for (let i = 0; i < dw.length; i++) if (mask[Math.floor(i / 25)] === 0 && dw[i] !== 0) zeroWhereMasked = false;
      t.ok(zeroWhereMasked, 'dw is exactly 0 off the table');
      t.equal(mismatch(await grads.db!.data(), ref.db, { rtol: 1e-5, atol: 1e-4 }), null, 'db');
      // With groups the mask is [OC, C/groups].
      const gg = geom(2, 4, 6, 6, 4, [3, 3], [1, 1], [1, 1], [1, 1], 2);
      const gm = Float64Array.from([1, 0, 0, 1, 1, 1, 0, 1]);
      const gx = f32(randomArray(xSize(gg), 5));
      const gw = f32(randomArray(wSize(gg), 6));
      const gy = ops.conv2d(tensor(gx, [2, 4, 6, 6]), tensor(gw, [4, 2, 3, 3]), { groups: 2, padding: 1, mask: tensor(gm, [4, 2]) });
      t.equal(mismatch(await gy.data(), conv64(gx, gw, null, gg, gm), { rtol: 1e-4, atol: 1e-5 }), null, 'mask with groups');
    },
  );

  eachBackend(
    t,
    `${path}: groups = 2 equals two independent convolutions on the channel halves`,
    { families: FAMILIES[path] },
    async (t) => {
      await usePath(path);
      t.teardown(() => fastPath('auto'));
      const [N, C, H, W, OC] = [2, 8, 9, 9, 6];
      const x = f32(randomArray(N * C * H * W, 7));
      const w = f32(randomArray(OC * (C / 2) * 25, 8));
      const b = f32(randomArray(OC, 9));
      const y = await ops
        .conv2d(tensor(x, [N, C, H, W]), tensor(w, [OC, C / 2, 5, 5]), { groups: 2, padding: 2, bias: tensor(b, [OC]) })
        .data();
      for (let half = 0; half < 2; half++) {
        const xh = new Float64Array(N * (C / 2) * H * W);
        for (let n = 0; n < N; n++)
          xh.set(x.subarray((n * C + half * (C / 2)) * H * W, (n * C + (half + 1) * (C / 2)) * H * W), n * (C / 2) * H * W);
        const wh = w.subarray(half * (OC / 2) * (C / 2) * 25, (half + 1) * (OC / 2) * (C / 2) * 25);
        const bh = b.subarray(half * (OC / 2), (half + 1) * (OC / 2));
        const yh = await ops
          .conv2d(tensor(xh, [N, C / 2, H, W]), tensor(Float64Array.from(wh), [OC / 2, C / 2, 5, 5]), {
            padding: 2,
            bias: tensor(Float64Array.from(bh), [OC / 2]),
          })
          .data();
        const got = new Float32Array(N * (OC / 2) * H * W);
        for (let n = 0; n < N; n++)
          got.set(y.subarray((n * OC + half * (OC / 2)) * H * W, (n * OC + (half + 1) * (OC / 2)) * H * W), n * (OC / 2) * H * W);
        // Two float32 algorithms, not one against float64: the tower alone may take the direct path
        // while the grouped call takes im2col + GEMM, and the portable GEMM (no FMA) rounds each
        // product on its own, so the conv tolerance of the float64 checks above applies.
        t.equal(mismatch(got, yh, { rtol: 1e-4, atol: 1e-5 }), null, `tower ${half}`);
      }
    },
  );

  eachBackend(t, `${path}: conv2d forward and backward match PyTorch`, { families: FAMILIES[path] }, async (t) => {
    await usePath(path);
    t.teardown(() => fastPath('auto'));
    const { cases } = loadFixture<{ cases: FixtureCase[] }>('conv');
    t.ok(cases.length >= 5, 'fixtures present');
    for (const c of cases) {
      const x = Tensor.fromArray(c.x, c.xShape);
      const w = Tensor.fromArray(c.w, c.wShape);
      const bias = c.b ? Tensor.fromArray(c.b, [c.b.length]) : null;
      const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, bias };
      const y = ops.conv2d(x, w, opts);
      t.equal(mismatch(await y.data(), c.y, { rtol: 1e-4, atol: 1e-5 }), null, `${c.name}: y`);
      const grads = ops.conv2dBackward(Tensor.fromArray(c.dy, y.shape), x, w, opts);
      t.equal(mismatch(await grads.dx!.data(), c.dx, { rtol: 1e-4, atol: 1e-5 }), null, `${c.name}: dx`);
      t.equal(mismatch(await grads.dw.data(), c.dw, { rtol: 1e-4, atol: 1e-4 }), null, `${c.name}: dw`);
      if (c.db) t.equal(mismatch(await grads.db!.data(), c.db, { rtol: 1e-5, atol: 1e-4 }), null, `${c.name}: db`);
    }
  });
}

t.test('chunking the batch under a small scratch cap gives the same results, in bounded memory', async (t) => {
  const scratch = native.convScratchBytes;
  const chunkImages = native.convChunkImages;
  const geomArray = (g: Geom) => [g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, ...outHW(g), g.groups];
  const cases = [
    geom(9, 6, 12, 12, 8, [3, 3], [1, 1], [1, 1], [1, 1], 2),
    geom(7, 4, 10, 10, 6, [1, 1], [1, 1], [0, 0], [1, 1], 1), // pointwise: in place when 1 image per chunk
    geom(12, 2, 16, 16, 4, [5, 5], [1, 1], [2, 2], [1, 1], 1), // columns 12x the outputs
  ];
  const before = scratch();
  await usePath('off'); // chunking is the im2col + GEMM path's
  try {
    for (const g of cases) {
      const x = tensor(f32(randomArray(xSize(g), 1)), [g.N, g.C, g.H, g.W]);
      const w = tensor(f32(randomArray(wSize(g), 2)), [g.OC, g.C / g.groups, g.KH, g.KW]);
      const bias = tensor(f32(randomArray(g.OC, 3)), [g.OC]);
      const dy = tensor(f32(randomArray(ySize(g), 4)), [g.N, g.OC, ...outHW(g)]);
      const opts = { ...options(g), bias };
      // Runs forward + backward under a cap; returns the results and the pool's peak growth.
      const run = async (cap: number) => {
        scratch(cap);
        await x.data(); // nothing queued before runs under this cap
        resetPeakMemory();
        const base = memory().hostPool.liveBytes;
        const y = ops.conv2d(x, w, opts);
        const { dx, dw, db } = ops.conv2dBackward(dy, x, w, opts);
        const values = await Promise.all([y.data(), dx!.data(), dw.data(), db!.data()]);
        const growth = memory().hostPool.peakBytes - base;
        for (const z of [y, dx!, dw, db!]) z.dispose();
        return { values, growth };
      };
      const [OH, OW] = outHW(g);
      const perImage = ((g.C / g.groups) * g.KH * g.KW + g.OC / g.groups) * OH * OW * 4;
      const name = JSON.stringify(g);
      scratch(before);
      t.equal(chunkImages(geomArray(g)), g.N, `${name}: the whole batch is one chunk by default`);
      const whole = await run(before);
      for (const [label, cap] of [
        ['3 images per chunk', 3 * perImage],
        ['1 image per chunk', 1],
      ] as const) {
        scratch(cap);
        t.equal(chunkImages(geomArray(g)), label === '1 image per chunk' ? 1 : Math.ceil(g.N / Math.ceil(g.N / 3)), `${name}: ${label}`);
        const chunked = await run(cap);
        const names = ['y', 'dx', 'dw', 'db'];
        // Chunks sum dw in a different order, so allow float rounding there.
        chunked.values.forEach((v, k) => {
          const tol = names[k] === 'dw' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-6, atol: 1e-6 };
          t.equal(mismatch(v, whole.values[k], tol), null, `${name}, ${label}: ${names[k]}`);
        });
        const saved = whole.growth - chunked.growth;
        const expected = (g.N - Math.max(1, Math.floor(cap / perImage))) * perImage;
        t.ok(
          saved >= 0.6 * expected,
          `${name}, ${label}: peak ${chunked.growth} bytes vs ${whole.growth} for the whole batch (saves ${saved}, columns alone ${expected})`,
        );
      }
      for (const z of [x, w, bias, dy]) z.dispose();
    }
  } finally {
    scratch(before);
    await usePath('auto');
  }
});

t.test('convFastPath reports and switches the path, and refuses unknown names', async (t) => {
  await device('cpu').synchronize();
  t.match(fastPath(), /^(avx512|portable)$/, 'auto picks a vector build');
  t.equal(fastPath(), isaFamilies().convDirect, 'the build the ISA level selects');
  t.equal(fastPath('off'), 'off');
  t.equal(fastPath('auto'), isaFamilies().convDirect, 'auto is back on the ISA level');
  t.throws(() => fastPath('portable'), {
    code: 'ND_ARG',
    message: /convFastPath: unknown setting 'portable' \(expected auto or off; the instruction set is chosen by setIsa\)/,
  });
  t.throws(() => fastPath('sse9'), { code: 'ND_ARG', message: /convFastPath: unknown setting 'sse9'/ });
  fastPath('auto');
});

t.test('needInputGrad: false skips dx', async (t) => {
  const x = Tensor.randn([2, 3, 8, 8], { seed: 1 });
  const w = Tensor.randn([4, 3, 3, 3], { seed: 2 });
  const dy = Tensor.randn([2, 4, 6, 6], { seed: 3 });
  const grads = ops.conv2dBackward(dy, x, w, { needInputGrad: false });
  t.equal(grads.dx, undefined);
  t.equal(grads.db, undefined);
  const full = ops.conv2dBackward(dy, x, w);
  t.same(Array.from(await grads.dw.data()), Array.from(await full.dw.data()), 'same dw');
});

t.test('conv2d and conv2dBackward refuse bad input', async (t) => {
  const x = Tensor.zeros([2, 4, 8, 8]);
  const w = Tensor.zeros([6, 4, 3, 3]);
  t.throws(() => ops.conv2d(x, Tensor.zeros([6, 3, 3, 3])), {
    code: 'ND_SHAPE',
    message: /conv2d: 'w' \[6, 3, 3, 3\] must be \[OC, 4, KH, KW\] for 'x' \[2, 4, 8, 8\] with groups 1/,
  });
  t.throws(() => ops.conv2d(x, Tensor.zeros([6, 2, 3, 3]), { groups: 3 }), {
    code: 'ND_SHAPE',
    message: /conv2d: 'x' \[2, 4, 8, 8\] has 4 channels, not divisible by groups 3/,
  });
  t.throws(() => ops.conv2d(x, Tensor.zeros([5, 2, 3, 3]), { groups: 2 }), {
    code: 'ND_SHAPE',
    message: /conv2d: 'w' \[5, 2, 3, 3\] has 5 output channels, not divisible by groups 2/,
  });
  t.throws(() => ops.conv2d(x, Tensor.zeros([6, 4, 9, 9])), { code: 'ND_SHAPE', message: /conv2d: a 9x9 kernel .* \[2, 4, 8, 8\]/ });
  t.throws(() => ops.conv2d(x, w, { bias: Tensor.zeros([5]) }), {
    code: 'ND_SHAPE',
    message: /conv2d: 'bias' \[5\] must be \[6\] for 'w' \[6, 4, 3, 3\]/,
  });
  t.throws(() => ops.conv2d(x, w, { mask: Tensor.zeros([6, 3]) }), {
    code: 'ND_SHAPE',
    message: /conv2d: 'mask' \[6, 3\] must be \[6, 4\] for 'w' \[6, 4, 3, 3\]/,
  });
  t.throws(() => ops.conv2d(Tensor.zeros([4, 8, 8]), w), {
    code: 'ND_SHAPE',
    message: /conv2d: 'x' must have rank 4, got shape \[4, 8, 8\]/,
  });
  t.throws(() => ops.conv2d(x, w, { stride: 0 }), { code: 'ND_ARG', message: /conv2d: 'stride'/ });
  t.throws(() => ops.conv2d(x, w, { groups: 1.5 }), { code: 'ND_ARG', message: /conv2d: 'groups'/ });
  t.throws(() => ops.conv2d(x, w, { dilation: [1, 0] }), { code: 'ND_ARG', message: /conv2d: 'dilation\[1\]'/ });
  t.throws(() => ops.conv2d(Tensor.zeros([2, 4, 8, 8], { dtype: 'int32' }), w), { code: 'ND_ARG', message: /conv2d: 'x' must be float32/ });
  t.throws(() => ops.conv2d(x, [1, 2, 3] as never), { code: 'ND_ARG', message: /conv2d: 'w' must be a Tensor/ });
  t.throws(() => ops.conv2dBackward(Tensor.zeros([2, 6, 7, 6]), x, w), {
    code: 'ND_SHAPE',
    message:
      /conv2dBackward: 'dy' \[2, 6, 7, 6\] must be the conv2d output shape \[2, 6, 6, 6\] for 'x' \[2, 4, 8, 8\] and 'w' \[6, 4, 3, 3\]/,
  });
  t.throws(() => ops.conv2dBackward(Tensor.zeros([2, 6, 6, 6]), x, w, { bias: Tensor.zeros([2]) }), {
    code: 'ND_SHAPE',
    message: /conv2dBackward: 'bias' \[2\]/,
  });
  const disposed = Tensor.zeros([6, 4, 3, 3]);
  disposed.dispose();
  t.throws(() => ops.conv2d(x, disposed), { code: 'ND_DISPOSED', message: /conv2d: 'w'/ });
});

t.test('an empty batch gives an empty output and zero weight gradients', async (t) => {
  const x = Tensor.zeros([0, 2, 5, 5]);
  const w = Tensor.ones([3, 2, 3, 3]);
  const b = Tensor.ones([3]);
  const y = ops.conv2d(x, w, { bias: b });
  t.same(y.shape, [0, 3, 3, 3]);
  const g = ops.conv2dBackward(Tensor.zeros([0, 3, 3, 3]), x, w, { bias: b });
  t.same(Array.from(await g.dw.data()), new Array(54).fill(0));
  t.same(Array.from(await g.db!.data()), [0, 0, 0]);
});

// The forward and the filter gradient pack their image columns straight into the GEMM's panels
// (im2col_panels.cc: AVX-512 gathers for 16- and 32-wide panels, a scalar loop for the portable
// kernel's 8-wide ones) or, switched off, through an im2col buffer. The GEMM adds the same products in the same order
// either way, so the outputs must agree bit for bit, at every GEMM kernel this CPU runs.
const packedColumns = native.convPackedColumns;
t.test('columns packed straight into GEMM panels give the same bits as the im2col buffer (forward, dx, dw)', async (t) => {
  t.equal(packedColumns(), true, 'on by default');
  const cases: [string, number[], number[], Conv2dOptions][] = [
    ['AlexNet conv1-like: 11x11 stride 4', [1, 3, 67, 67], [8, 3, 11, 11], { stride: 4 }],
    // Stride 4 without column padding packs a kernel row's taps from one shared span: row padding
    // masks whole runs, a 384-row block of 4 x 11 x 11 taps ends inside a kernel row, and taps
    // wider than the span (21) take the tap-by-tap path.
    ['stride 4, row padding only', [2, 3, 30, 67], [6, 3, 5, 11], { stride: [2, 4], padding: [2, 0] }],
    ['stride 4, a block of tap rows ends mid kernel row', [1, 4, 51, 51], [8, 4, 11, 11], { stride: 4 }],
    ['stride 4, 21 taps wide', [1, 2, 9, 90], [4, 2, 3, 21], { stride: [1, 4] }],
    ['padding 2, groups 2', [2, 6, 13, 13], [8, 3, 5, 5], { padding: 2, groups: 2 }],
    ['dilation 2, stride 2, rectangular', [3, 4, 17, 11], [5, 4, 3, 2], { stride: [2, 1], padding: [1, 2], dilation: [2, 1] }],
    ['batch of many small images (columns cross images)', [9, 5, 7, 7], [6, 5, 3, 3], { padding: 1 }],
    ['more columns than one panel slab', [1, 3, 40, 40], [4, 3, 3, 3], { padding: 1 }],
  ];
  // Every ISA path of the GEMM and the packers (a level this CPU lacks is a reported skip).
  const { run: kernels, skip } = isaPlan(['gemm', 'im2colPanels']);
  for (const [level, why] of skip) t.pass(`cpu/${level}`, { skip: why });
  const before = isa();
  let seed = 3000;
  for (const kernel of kernels)
    for (const [name, xs, ws, o] of cases) {
      await device('cpu').synchronize();
      setIsa(kernel);
      const x = randomTensor(xs, seed++);
      const w = randomTensor(ws, seed++);
      const b = randomTensor([ws[0]], seed++);
      const run = async (packed: boolean) => {
        await device('cpu').synchronize();
        packedColumns(packed);
        const y = ops.conv2d(x, w, { ...o, bias: b });
        const dy = Tensor.fromArray(f32(randomArray(y.size, 77)), y.shape);
        const grads = ops.conv2dBackward(dy, x, w, { ...o, bias: b });
        const out = { y: await y.data(), dx: await grads.dx!.data(), dw: await grads.dw.data() };
        for (const u of [y, dy, grads.dx!, grads.dw, grads.db!]) u.dispose();
        return out;
      };
      const ref = await run(false);
      const got = await run(true);
      for (const k of ['y', 'dx', 'dw'] as const)
        t.same(Buffer.from(got[k].buffer), Buffer.from(ref[k].buffer), `${kernel}: ${name}: ${k}`);
      for (const u of [x, w, b]) u.dispose();
    }
  await device('cpu').synchronize();
  setIsa(before);
  t.throws(() => packedColumns(1 as never), { code: 'ND_ARG', message: /convPackedColumns: 'on' must be a boolean/ });
});

t.test('reluInput: dx through the ReLU before equals reluBackward(dx, x) bit for bit on every path', async (t) => {
  // x is a ReLU's output. col2im (chunked and one image, groups), pointwise (the GEMM writes dx),
  // the direct path and the full-kernel path; every ISA level.
  const cases: [string, number[], number[], Conv2dOptions][] = [
    ['3x3, padding, groups 2 (col2im)', [3, 4, 9, 9], [6, 2, 3, 3], { padding: 1, groups: 2 }],
    ['one image, stride 2 (col2im)', [1, 3, 15, 15], [5, 3, 5, 5], { stride: 2 }],
    ['pointwise, one image (GEMM writes dx)', [1, 6, 7, 7], [4, 6, 1, 1], {}],
    ['small stride-1 (direct path)', [2, 1, 12, 12], [4, 1, 5, 5], { padding: 2 }],
    ['kernel covers the input (full-kernel path)', [6, 4, 5, 5], [7, 4, 5, 5], {}],
  ];
  t.teardown(async () => {
    await device('cpu').synchronize(); // setIsa refuses while ops are queued
    setIsa('auto');
  });
  let seed = 4500;
  for (const level of supportedIsas())
    for (const [name, xs, ws, o] of cases) {
      await device('cpu').synchronize(); // setIsa refuses while ops are queued
      setIsa(level);
      const pre = randomTensor(xs, seed++);
      const x = ops.relu(pre);
      const w = randomTensor(ws, seed++);
      const y = ops.conv2d(x, w, o);
      const dy = randomTensor(y.shape, seed++);
      const plain = ops.conv2dBackward(dy, x, w, o);
      const want = ops.reluBackward(plain.dx!, x);
      const fused = ops.conv2dBackward(dy, x, w, { ...o, reluInput: true });
      const [wv, gv] = [await want.data(), await fused.dx!.data()];
      t.ok(wv.some((v) => v === 0) && wv.some((v) => v !== 0), `${level}: ${name}: some zeroed, some passed`);
      t.same(Buffer.from(gv.buffer), Buffer.from(wv.buffer), `${level}: ${name}: dx`);
      t.same(Buffer.from((await fused.dw.data()).buffer), Buffer.from((await plain.dw.data()).buffer), `${level}: ${name}: dw unchanged`);
      for (const u of [pre, x, w, y, dy, plain.dx, plain.dw, want, fused.dx, fused.dw]) u?.dispose();
    }
  await device('cpu').synchronize();
  setIsa('auto');
  const z = Tensor.zeros([1, 1, 4, 4]);
  const k = Tensor.zeros([1, 1, 3, 3]);
  t.throws(() => ops.conv2dBackward(Tensor.zeros([1, 1, 2, 2]), z, k, { reluInput: 'yes' as unknown as boolean }), {
    code: 'ND_ARG',
    message: /conv2dBackward: 'reluInput' must be a boolean/,
  });
  for (const u of [z, k]) u.dispose();
});

t.test("activation 'relu' equals relu(conv2d) bit for bit on every path", async (t) => {
  // Chunked (batch > 1, packed output scattered), one image (GEMM writes y in place), the small
  // direct path, the full-kernel path, with and without bias, with and without packed columns.
  const cases: [string, number[], number[], Conv2dOptions][] = [
    ['batch 3, groups 2, padding', [3, 4, 9, 9], [6, 2, 3, 3], { padding: 1, groups: 2 }],
    ['one image, stride 2', [1, 3, 15, 15], [5, 3, 5, 5], { stride: 2 }],
    ['small stride-1 (direct path)', [2, 1, 12, 12], [4, 1, 5, 5], { padding: 2 }],
    // The direct path copies its rows out through the ReLU: rows of 28 (a vector and an
    // overlapping one, LeNet-5's C1) and of 10 (one masked copy, C3).
    ['direct path, rows of 28', [2, 1, 32, 32], [6, 1, 5, 5], {}],
    ['direct path, rows of 10', [2, 6, 14, 14], [16, 6, 5, 5], {}],
    ['kernel covers the input (full-kernel path)', [3, 4, 5, 5], [7, 4, 5, 5], {}],
    ['kernel covers the input, batch 6 (full-kernel GEMM)', [6, 4, 5, 5], [7, 4, 5, 5], {}],
  ];
  let seed = 4000;
  const levels = supportedIsas();
  t.teardown(async () => {
    await device('cpu').synchronize(); // setIsa refuses while ops are queued
    setIsa('auto');
  });
  for (const level of levels)
    for (const packed of [true, false])
      for (const withBias of [true, false])
        for (const [name, xs, ws, o] of cases) {
          await device('cpu').synchronize();
          setIsa(level);
          packedColumns(packed);
          const x = randomTensor(xs, seed++);
          const w = randomTensor(ws, seed++);
          const b = withBias ? randomTensor([ws[0]], seed++) : undefined;
          const plain = ops.conv2d(x, w, { ...o, bias: b });
          const ref = ops.relu(plain);
          const got = ops.conv2d(x, w, { ...o, bias: b, activation: 'relu' });
          const [r, g] = [await ref.data(), await got.data()];
          const label = `${level}: ${name}${withBias ? '' : ', no bias'}${packed ? '' : ', im2col buffer'}`;
          t.same(Buffer.from(g.buffer), Buffer.from(r.buffer), label);
          t.ok(r.some((v) => v === 0) && r.some((v) => v > 0), `${label}: the ReLU clips some outputs, not all`);
          for (const u of [x, w, b, plain, ref, got]) u?.dispose();
        }
  await device('cpu').synchronize();
  setIsa('auto');
  packedColumns(true);
  const x = Tensor.zeros([1, 1, 4, 4]);
  t.throws(() => ops.conv2d(x, Tensor.zeros([1, 1, 3, 3]), { activation: 'tanh' as never }), {
    code: 'ND_ARG',
    message: /conv2d: 'activation' must be 'relu' or null/,
  });
});
