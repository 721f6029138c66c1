// ops.packBf16 and ops.linearBf16: the packing is bit-exact round-to-nearest-even (ties, NaN,
// infinities, denormals, overflow), the forward matches a float64 reference computed from the
// bf16-rounded weights, and the AVX-512 path matches the portable one.
import t, { type Test } from 'tap';
import { Tensor, cpuIsa, ops, setIsa } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { f32, randomArray } from '../helpers/rng.js';

const u32 = new Uint32Array(1);
const asF32 = new Float32Array(u32.buffer);

/** bf16 bits of the float32 with these bits, by the definition: nearest, ties to the even one. */
function bf16Ref(bits: number): number {
  u32[0] = bits;
  const v = asF32[0];
  if (Number.isNaN(v)) return ((bits >>> 16) | 0x40) & 0xffff;
  const lo = bits >>> 16;
  const rest = bits & 0xffff;
  if (rest < 0x8000) return lo;
  if (rest > 0x8000) return (lo + 1) & 0xffff;
  return lo & 1 ? (lo + 1) & 0xffff : lo;
}

function widen(h: number): number {
  u32[0] = (h << 16) >>> 0;
  return asF32[0];
}

/** The packed tensor's bf16 values as 16-bit halves, row by row (element 2j low, 2j + 1 high). */
function halves(packed: Int32Array, outF: number, inF: number): number[] {
  const pairs = Math.ceil(inF / 2);
  const out: number[] = [];
  for (let o = 0; o < outF; o++)
    for (let i = 0; i < inF; i++) {
      const word = packed[o * pairs + (i >> 1)] >>> 0;
      out.push(i & 1 ? word >>> 16 : word & 0xffff);
    }
  return out;
}

function bitsTensor(bits: number[], outF: number, inF: number): Tensor {
  return Tensor.fromArray(new Float32Array(Uint32Array.from(bits).buffer), [outF, inF]);
}

t.test('packBf16 rounds to nearest even, bit for bit, and keeps NaN, infinities and signs', async (t) => {
  const special = [
    0x00000000,
    0x80000000, // signed zeros
    0x3f800000,
    0x3f808000,
    0x3f818000,
    0x3f808001,
    0x3f807fff, // 1, ties to even down and up, just above and below a tie
    0x7f800000,
    0xff800000, // infinities
    0x7fc00000,
    0xffc00001,
    0x7f800001,
    0x7fbfffff, // quiet and signalling NaNs (a signalling one must not become infinity)
    0x7f7fffff,
    0x7f7f8000,
    0xff7fffff, // largest finite: rounds to infinity, as RNE does
    0x00000001,
    0x00008000,
    0x00018000,
    0x007fffff,
    0x80408000, // denormals, ties among them
  ];
  const r = new Uint32Array(400);
  const g = new Float64Array(randomArray(r.length, 7, 0, 2 ** 32));
  for (let i = 0; i < r.length; i++) r[i] = Math.floor(g[i]) >>> 0;
  const bits = [...special, ...r];
  // An odd in-features leaves a zero half at the end of each row.
  for (const inF of [bits.length, 1, 7]) {
    const outF = Math.floor(bits.length / inF);
    const used = bits.slice(0, outF * inF);
    const w = bitsTensor(used, outF, inF);
    const p = ops.packBf16(w);
    t.same(p.shape, [outF, Math.ceil(inF / 2)], `in ${inF}: shape`);
    t.equal(p.dtype, 'int32');
    const got = halves((await p.data()) as Int32Array, outF, inF);
    const want = used.map(bf16Ref);
    const bad = got.findIndex((h, i) => h !== want[i]);
    t.equal(
      bad,
      -1,
      bad < 0
        ? `in ${inF}: every value`
        : `in ${inF}: 0x${used[bad].toString(16)} gave 0x${got[bad].toString(16)}, want 0x${want[bad].toString(16)}`,
    );
    if (inF % 2) {
      const raw = (await p.data()) as Int32Array;
      const pairs = Math.ceil(inF / 2);
      t.ok(
        [...Array(outF).keys()].every((o) => raw[o * pairs + pairs - 1] >>> 16 === 0),
        `in ${inF}: the padding half is zero`,
      );
    }
    for (const u of [w, p]) u.dispose();
  }
  t.equal(bf16Ref(0x7fbfffff) & 0x7f80, 0x7f80, 'reference: a NaN stays a NaN');
});

t.test('packBf16 into an existing tensor, and its bad input', async (t) => {
  const w = Tensor.fromArray(f32(randomArray(6 * 5, 3)), [6, 5]);
  const into = Tensor.zeros([6, 3], { dtype: 'int32' });
  t.equal(ops.packBf16(w, { into }), into);
  t.same(Array.from(await into.data()), Array.from(await ops.packBf16(w).data()));
  t.throws(() => ops.packBf16(w, { into: Tensor.zeros([6, 2], { dtype: 'int32' }) }), {
    code: 'ND_SHAPE',
    message: /'into' must be \[6, 3\]/,
  });
  t.throws(() => ops.packBf16(w, { into: Tensor.zeros([6, 3]) }), { code: 'ND_ARG', message: /'into' must be int32/ });
  t.throws(() => ops.packBf16(Tensor.zeros([30])), { code: 'ND_SHAPE' });
  w.dispose();
  into.dispose();
});

/** y = x Wb^T + b in float64, Wb the bf16-rounded weights. */
function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, N: number, inF: number, outF: number): Float64Array {
  const wb = Float32Array.from(w);
  const bits = new Uint32Array(wb.buffer);
  const wr = Array.from(bits, (v) => widen(bf16Ref(v)));
  const y = new Float64Array(N * outF);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[n * inF + i] * wr[o * inF + i];
      y[n * outF + o] = s;
    }
  return y;
}

// [N, in, out]: batch 1 (the target), odd in, out not a multiple of the 8-row tile, K tails,
// sizes that split across the pool, and batches past the 4-row group.
const shapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 15, 3],
  [1, 17, 9],
  [2, 33, 13],
  [3, 64, 8],
  [4, 31, 17],
  [5, 100, 23],
  [1, 1001, 603],
  [2, 777, 301],
  [7, 250, 130],
  [32, 129, 70],
];

async function runShapes(t: Test, label: string): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [N, inF, outF] of shapes) {
    const xa = f32(randomArray(N * inF, N * 31 + inF));
    const wa = f32(randomArray(outF * inF, inF * 7 + outF, -0.5, 0.5));
    const ba = f32(randomArray(outF, outF + 1));
    const x = Tensor.fromArray(xa, [N, inF]);
    const w = Tensor.fromArray(wa, [outF, inF]);
    const b = Tensor.fromArray(ba, [outF]);
    const p = ops.packBf16(w);
    for (const bias of [b, null]) {
      const y = ops.linearBf16(x, p, bias, inF);
      t.same(y.shape, [N, outF]);
      const got = (await y.data()) as Float32Array;
      const want = linearRef(xa, wa, bias ? ba : null, N, inF, outF);
      // Only fp32 summation error is left against the bf16 weights' exact products.
      const err = mismatch(got, want, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(inF) });
      t.equal(err, null, `${label} N ${N} in ${inF} out ${outF}${bias ? '' : ' no bias'}: ${err ?? 'matches'}`);
      out.set(`${N},${inF},${outF},${!!bias}`, got);
      y.dispose();
    }
    for (const u of [x, w, b, p]) u.dispose();
  }
  return out;
}

t.test('linearBf16 matches a float64 reference of the bf16-rounded weights', async (t) => {
  await runShapes(t, cpuIsa());
});

const noAvx512 = cpuIsa() !== 'avx512' && 'this CPU has no AVX-512: only the portable path runs here';

t.test('the AVX-512 path matches the portable one', { skip: noAvx512 }, async (t) => {
  const fast = await runShapes(t, 'avx512');
  setIsa('portable');
  try {
    const slow = await runShapes(t, 'portable');
    for (const [k, v] of fast) {
      const err = mismatch(v, slow.get(k)!, { rtol: 1e-5, atol: 1e-4 });
      t.equal(err, null, `${k}: ${err ?? 'same'}`);
    }
  } finally {
    setIsa('auto');
  }
});

t.test('linearBf16 keeps leading dimensions, empty sizes, and against fp32 ops.linear', async (t) => {
  const xa = f32(randomArray(2 * 3 * 40, 5));
  const wa = f32(randomArray(11 * 40, 6, -0.2, 0.2));
  const x = Tensor.fromArray(xa, [2, 3, 40]);
  const w = Tensor.fromArray(wa, [11, 40]);
  const p = ops.packBf16(w);
  const y = ops.linearBf16(x, p, null, 40);
  t.same(y.shape, [2, 3, 11]);
  const fp = (await ops.linear(x, w).data()) as Float32Array;
  const got = (await y.data()) as Float32Array;
  const scale = Math.max(...fp.map(Math.abs));
  const rel = Math.max(...got.map((v, i) => Math.abs(v - fp[i]))) / scale;
  t.ok(rel < 1e-2, `largest difference against fp32 is ${rel.toExponential(2)} of the largest output`);
  const e = ops.linearBf16(Tensor.zeros([0, 40]), p, null, 40);
  t.same(e.shape, [0, 11]);
  const w0 = Tensor.zeros([3, 0]);
  const p0 = ops.packBf16(w0);
  const b0 = Tensor.fromArray([1, 2, 3]);
  const z = ops.linearBf16(Tensor.zeros([2, 0]), p0, b0, 0);
  t.same(Array.from(await z.data()), [1, 2, 3, 1, 2, 3], 'in 0: the bias alone');
  for (const u of [x, w, p, y, e, z, w0, p0, b0]) u.dispose();
});

t.test('linearBf16 refuses bad shapes with coded errors', async (t) => {
  const p = ops.packBf16(Tensor.zeros([4, 7]));
  t.throws(() => ops.linearBf16(Tensor.zeros([2, 6]), p, null, 7), { code: 'ND_SHAPE', message: /'x' must be \[\.\.\., 7\]/ });
  t.throws(() => ops.linearBf16(Tensor.zeros([2, 5]), p, null, 5), { code: 'ND_SHAPE', message: /'packed' must be \[4, 3\]/ });
  t.throws(() => ops.linearBf16(Tensor.zeros([2, 7]), p, Tensor.zeros([5]), 7), { code: 'ND_SHAPE', message: /'b' must be \[4\]/ });
  t.throws(() => ops.linearBf16(Tensor.zeros([2, 7]), Tensor.zeros([4, 4]), null, 7), {
    code: 'ND_ARG',
    message: /'packed' must be int32/,
  });
  t.throws(() => ops.linearBf16(Tensor.zeros([2, 7]), p, null, -1), { code: 'ND_ARG' });
  p.dispose();
});
