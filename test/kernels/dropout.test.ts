import t from 'tap';
import { Tensor, ops, manualSeed } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randomArray } from '../helpers/rng.js';

// ---------------------------------------------------------------------------------------------
// An independent Philox4x32-10 in plain JS (Salmon et al., SC'11), written from the paper's
// description, with 32x32 -> 64-bit products done in 16-bit halves so every step is exact.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** [hi, lo] of the 64-bit product of two uint32. */
function mul32(a: number, b: number): [number, number] {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

function philox4x32_10(ctr: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = ctr.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mul32(M0, c0);
    const [hi1, lo1] = mul32(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

function split64(v: number | bigint): [number, number] {
  const b = BigInt(v);
  return [Number(b & 0xffffffffn), Number((b >> 32n) & 0xffffffffn)];
}

/** The stream layout of native/core/philox.h: word i is lane i%4 of block i/4, counter (block, offset), key seed. */
function streamWords(seed: number | bigint, offset: number | bigint, n: number): Uint32Array {
  const key = split64(seed);
  const [o0, o1] = split64(offset);
  const out = new Uint32Array(n);
  for (let b = 0; b * 4 < n; b++) {
    const [b0, b1] = split64(b);
    const r = philox4x32_10([b0, b1, o0, o1], key);
    for (let l = 0; l < 4 && b * 4 + l < n; l++) out[b * 4 + l] = r[l];
  }
  return out;
}

function referenceDropout(x: Float64Array, p: number, scale: number, seed: number | bigint, offset: number | bigint) {
  const words = streamWords(seed, offset, x.length);
  const pf = Math.fround(p);
  const sf = Math.fround(scale);
  const mask = new Float32Array(x.length);
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = (words[i] >>> 8) / 16777216; // exact in float32 and float64
    mask[i] = u >= pf ? sf : 0;
    y[i] = x[i] * mask[i];
  }
  return { mask, y };
}

// Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter[4], key[2] -> out[4].
const KAT: Array<[number[], number[], number[]]> = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

const debugPhilox = (native as unknown as { debugPhilox4x32(...w: number[]): number[] }).debugPhilox4x32;

t.test('native/core/philox.h passes the Random123 known-answer vectors', async (t) => {
  for (const [ctr, key, out] of KAT) t.same(debugPhilox(...ctr, ...key), out, `ctr ${ctr.map((v) => v.toString(16))}`);
});

t.test('the JS Philox used as reference passes the same vectors', async (t) => {
  for (const [ctr, key, out] of KAT) t.same(philox4x32_10(ctr, key), out);
  // and agrees with the native block on a few arbitrary counters
  for (let i = 0; i < 20; i++) {
    const w = Array.from({ length: 6 }, (_, j) => ((i + 1) * 0x9e3779b1 * (j + 3)) >>> 0);
    t.same(philox4x32_10(w.slice(0, 4), w.slice(4)), debugPhilox(...w));
  }
});

eachBackend(t, 'dropout mask and output are bit-exact against the JS Philox stream', { families: [], cuda: true }, async (t, be) => {
  const configs: Array<{ n: number; p: number; seed: number | bigint; offset: number | bigint; mode: 'inverted' | 'paper' }> = [
    { n: 1, p: 0.5, seed: 0, offset: 0, mode: 'inverted' },
    { n: 3, p: 0.1, seed: 7, offset: 1, mode: 'inverted' },
    { n: 4099, p: 0.5, seed: 123456789, offset: 42, mode: 'inverted' },
    // high words of seed and offset are used: beyond 2^32, and a full 64-bit bigint
    { n: 1027, p: 0.73, seed: 2 ** 40 + 5, offset: 2 ** 35 + 3, mode: 'paper' },
    { n: 70001, p: 0.3, seed: 0xfedcba9876543210n, offset: 0xffffffff00000001n, mode: 'inverted' },
  ];
  let s = 100;
  for (const c of configs) {
    const xv = f32(randomArray(c.n, s++, -2, 2));
    const x = Tensor.fromArray(xv, undefined, { device: be.device });
    const { y, mask } = ops.dropout(x, { p: c.p, seed: c.seed, offset: c.offset, mode: c.mode });
    const scale = c.mode === 'paper' ? 1 : 1 / (1 - c.p);
    const ref = referenceDropout(xv, c.p, scale, c.seed, c.offset);
    const m = (await mask.data()) as Float32Array;
    const yv = (await y.data()) as Float32Array;
    let maskDiff = -1;
    let yDiff = -1;
    for (let i = 0; i < c.n; i++) {
      if (maskDiff < 0 && !Object.is(m[i], ref.mask[i])) maskDiff = i;
      if (yDiff < 0 && !Object.is(yv[i], ref.y[i])) yDiff = i;
    }
    t.equal(maskDiff, -1, `mask n=${c.n} seed=${c.seed} offset=${c.offset}: first difference at ${maskDiff}`);
    t.equal(yDiff, -1, `y n=${c.n}: first difference at ${yDiff}`);
    for (const v of [x, y, mask]) v.dispose();
  }
});

t.test('same (seed, offset) gives the same mask; another offset or seed does not', async (t) => {
  const x = Tensor.ones([5000]);
  const a = ops.dropout(x, { p: 0.5, seed: 9, offset: 3 });
  const b = ops.dropout(x, { p: 0.5, seed: 9, offset: 3 });
  const c = ops.dropout(x, { p: 0.5, seed: 9, offset: 4 });
  const d = ops.dropout(x, { p: 0.5, seed: 10, offset: 3 });
  const ma = Array.from(await a.mask.data());
  t.same(Array.from(await b.mask.data()), ma);
  t.notSame(Array.from(await c.mask.data()), ma);
  t.notSame(Array.from(await d.mask.data()), ma);
  // Without a seed: the global seed and a counter, reproducible after manualSeed.
  manualSeed(77);
  const e1 = ops.dropout(x, { p: 0.5 });
  const e2 = ops.dropout(x, { p: 0.5 });
  manualSeed(77);
  const f1 = ops.dropout(x, { p: 0.5 });
  const v1 = Array.from(await e1.mask.data());
  t.notSame(Array.from(await e2.mask.data()), v1);
  t.same(Array.from(await f1.mask.data()), v1);
  // an evaluation pass in between draws nothing and does not shift later training masks
  const ev = ops.dropout(x, { p: 0.5, training: false });
  const f2 = ops.dropout(x, { p: 0.5 });
  t.same(Array.from(await f2.mask.data()), Array.from(await e2.mask.data()));
  for (const r of [a, b, c, d, e1, e2, f1, ev, f2]) {
    r.y.dispose();
    r.mask.dispose();
  }
  x.dispose();
});

t.test('statistics: keep rate ~ 1-p, inverted mode preserves the mean', async (t) => {
  const n = 200003;
  for (const p of [0.1, 0.5, 0.8]) {
    const x = Tensor.ones([n]);
    const { y, mask } = ops.dropout(x, { p, seed: 31 + Math.round(p * 10), offset: 0 });
    const m = await mask.data();
    const yv = await y.data();
    let kept = 0;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      if (m[i] !== 0) kept++;
      mean += yv[i];
    }
    mean /= n;
    const q = 1 - p;
    const sd = Math.sqrt((p * q) / n);
    t.ok(Math.abs(kept / n - q) < 5 * sd, `p=${p}: keep rate ${kept / n}, expected ${q} +- ${5 * sd}`);
    // mean of y = (kept/n)/q: its sd is sd/q
    t.ok(Math.abs(mean - 1) < (5 * sd) / q, `p=${p}: mean ${mean}`);
    // every kept value is exactly x/(1-p) in float32
    t.ok(Array.from(m).every((v) => v === 0 || v === Math.fround(1 / q)));
    // neighbouring keep decisions are uncorrelated (lag-1 and lag-4, the block size)
    for (const lag of [1, 4]) {
      let both = 0;
      for (let i = lag; i < n; i++) if (m[i] !== 0 && m[i - lag] !== 0) both++;
      const r = both / (n - lag);
      t.ok(Math.abs(r - q * q) < 6 * Math.sqrt((q * q * (1 - q * q)) / n), `p=${p} lag ${lag}: P(both kept) ${r} vs ${q * q}`);
    }
    for (const v of [x, y, mask]) v.dispose();
  }
});

t.test('modes at evaluation: inverted is the identity, paper multiplies by 1-p', async (t) => {
  const xv = f32(randomArray(37, 5, -3, 3));
  const x = Tensor.fromArray(xv, [37]);
  const inv = ops.dropout(x, { p: 0.4, training: false });
  t.same(Array.from(await inv.y.data()), Array.from(Float32Array.from(xv)));
  t.same(Array.from(await inv.mask.data()), new Array(37).fill(1));
  const pap = ops.dropout(x, { p: 0.4, training: false, mode: 'paper' });
  t.same(
    Array.from(await pap.y.data()),
    Array.from(xv, (v) => Math.fround(v * Math.fround(0.6))),
  );
  // paper mode at training keeps values unscaled
  const tr = ops.dropout(x, { p: 0.4, seed: 1, mode: 'paper' });
  const ym = await tr.y.data();
  t.ok(Array.from(ym).every((v, i) => v === 0 || v === Math.fround(xv[i])));
  for (const r of [inv, pap, tr]) {
    r.y.dispose();
    r.mask.dispose();
  }
  x.dispose();
});

t.test('p = 0 keeps everything, p = 1 drops everything (zeros, no inf)', async (t) => {
  const xv = f32(randomArray(50, 8));
  const x = Tensor.fromArray(xv);
  const a = ops.dropout(x, { p: 0, seed: 3 });
  t.same(Array.from(await a.y.data()), Array.from(Float32Array.from(xv)));
  const b = ops.dropout(x, { p: 1, seed: 3 });
  t.ok(Array.from(await b.y.data()).every((v) => v === 0));
  t.ok(Array.from(await b.mask.data()).every((v) => v === 0));
  for (const r of [a, b]) {
    r.y.dispose();
    r.mask.dispose();
  }
  x.dispose();
});

eachBackend(t, 'backward is dy * mask and agrees with finite differences', { families: [], cuda: true }, async (t, be) => {
  const shape = [3, 7, 5];
  const n = 105;
  const xv = f32(randomArray(n, 61));
  const gv = f32(randomArray(n, 62));
  const x = Tensor.fromArray(xv, shape, { device: be.device });
  const g = Tensor.fromArray(gv, shape, { device: be.device });
  const { y, mask } = ops.dropout(x, { p: 0.35, seed: 17, offset: 2 });
  const dx = ops.dropoutBackward(g, mask);
  const m = await mask.data();
  const expected = Float64Array.from(gv, (v, i) => Math.fround(v * m[i]));
  t.equal(mismatch(await dx.data(), expected, tolFor(be, { rtol: 0, atol: 0 }, 'exact')), null);
  // With the mask fixed, dropout is the linear map x -> x * mask.
  const numeric = numericGrad((v) => Float64Array.from(v, (e, i) => e * m[i]), xv, gv);
  t.equal(mismatch(await dx.data(), numeric, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'exact')), null);
  for (const v of [x, g, y, mask, dx]) v.dispose();
});

t.test('bad inputs', async (t) => {
  const x = Tensor.zeros([4, 3]);
  const m = Tensor.zeros([3, 4]);
  const i = Tensor.zeros([4, 3], { dtype: 'int32' });
  t.throws(() => ops.dropout(x, { p: 1.5 }), { code: 'ND_ARG', message: /dropout: 'p' must be <= 1/ });
  t.throws(() => ops.dropout(x, { p: -0.1 }), { code: 'ND_ARG', message: /dropout: 'p'/ });
  t.throws(() => ops.dropout(x, { mode: 'caffe' as 'paper' }), { code: 'ND_ARG', message: /dropout: 'mode'/ });
  t.throws(() => ops.dropout(x, { offset: 3 }), { code: 'ND_ARG', message: /dropout: 'offset' needs an explicit 'seed'/ });
  t.throws(() => ops.dropout(x, { seed: -1 }), { code: 'ND_ARG', message: /dropout: 'seed'/ });
  t.throws(() => ops.dropout(x, { seed: 1n << 64n }), { code: 'ND_ARG', message: /dropout: 'seed'/ });
  t.throws(() => ops.dropout(i), { code: 'ND_ARG', message: /dropout: 'x' must be float32/ });
  t.throws(() => ops.dropoutBackward(x, m), { code: 'ND_SHAPE', message: /dropoutBackward: 'dy' \[4, 3\] and 'mask' \[3, 4\]/ });
  t.throws(() => ops.dropoutBackward(x, i), { code: 'ND_ARG', message: /dropoutBackward: 'mask'/ });
  t.throws(() => debugPhilox(2 ** 32, 0, 0, 0, 0, 0), { code: 'ND_ARG', message: /debugPhilox4x32: 'c0'/ });
  for (const v of [x, m, i]) v.dispose();
});
