import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISA_LEVELS, Tensor, device, ops } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor, type Backend } from '../helpers/each-backend.js';
import { f32, randInt, randomArray, rng } from '../helpers/rng.js';

const SIZES = [1, 7, 13, 17, 31, 33, 65, 100, 257];

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra elements at the end of each stored row (lda = cols + pad), for a, b and c. */
  pad: number;
}

/** float64 reference of C = alpha·op(A)·op(B) + beta·C on row-major storage with strides. */
function reference(c: Case, A: Float64Array, lda: number, B: Float64Array, ldb: number, C0: Float64Array, ldc: number): Float64Array {
  const out = Float64Array.from(C0);
  for (let m = 0; m < c.M; m++)
    for (let n = 0; n < c.N; n++) {
      let s = 0;
      for (let k = 0; k < c.K; k++) {
        const a = c.transA ? A[k * lda + m] : A[m * lda + k];
        const b = c.transB ? B[n * ldb + k] : B[k * ldb + n];
        s += a * b;
      }
      out[m * ldc + n] = c.alpha * s + (c.beta === 0 ? 0 : c.beta * C0[m * ldc + n]);
    }
  return out;
}

/** float32 accumulation error grows like sqrt(K) times the size of the partial sums. */
function tolerance(c: Case) {
  return { rtol: 1e-5, atol: 1e-5 * Math.sqrt(c.K + 1) * Math.max(1, Math.abs(c.alpha)) };
}

let seed = 1;
async function checkCase(t: Test, c: Case, be?: Backend): Promise<void> {
  const on = { device: be?.device ?? device('cpu') };
  const [aRows, aCols] = c.transA ? [c.K, c.M] : [c.M, c.K];
  const [bRows, bCols] = c.transB ? [c.N, c.K] : [c.K, c.N];
  const lda = aCols + c.pad;
  const ldb = bCols + c.pad;
  const ldc = c.N + c.pad;
  const A = f32(randomArray(aRows * lda, seed++));
  const B = f32(randomArray(bRows * ldb, seed++));
  // beta == 0 must ignore C entirely: fill it with NaN then.
  const C0 = c.beta === 0 ? new Float64Array(c.M * ldc).fill(NaN) : f32(randomArray(c.M * ldc, seed++));
  const a = Tensor.fromArray(A, [aRows, lda], on);
  const b = Tensor.fromArray(B, [bRows, ldb], on);
  const cT = Tensor.fromArray(C0, [c.M, ldc], on);
  const out = ops.gemm(a, b, {
    transA: c.transA,
    transB: c.transB,
    alpha: c.alpha,
    beta: c.beta,
    c: cT,
    aView: [aRows, aCols],
    bView: [bRows, bCols],
    cView: [c.M, c.N],
  });
  t.equal(out, cT, 'accumulates into the given c');
  const got = await out.data();
  const want = reference(c, A, lda, B, ldb, C0, ldc);
  const name = `${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'} M=${c.M} N=${c.N} K=${c.K} alpha=${c.alpha} beta=${c.beta} pad=${c.pad}`;
  const block = (x: ArrayLike<number>) => Float64Array.from({ length: c.M * c.N }, (_, i) => x[Math.floor(i / c.N) * ldc + (i % c.N)]);
  t.equal(mismatch(block(got), block(want), be ? tolFor(be, tolerance(c), 'gemm') : tolerance(c)), null, name);
  // The padding columns of c are outside the matrix: they must come back untouched.
  let touched = 0;
  for (let m = 0; m < c.M; m++) for (let n = c.N; n < ldc; n++) if (!Object.is(got[m * ldc + n], Math.fround(C0[m * ldc + n]))) touched++;
  t.equal(touched, 0, `${name}: padding of c untouched`);
  for (const x of [a, b, cT]) x.dispose();
}

function randomCases(r: () => number, count: number): Case[] {
  const cases: Case[] = [{ transA: false, transB: false, M: 1, N: 1, K: 1, alpha: 1, beta: 0, pad: 0 }];
  const alphas = [1, -0.5, 2];
  const betas = [0, 1, 0.25];
  for (let i = 0; i < count; i++) {
    let M = SIZES[randInt(r, 0, SIZES.length - 1)];
    let N = SIZES[randInt(r, 0, SIZES.length - 1)];
    const K = SIZES[randInt(r, 0, SIZES.length - 1)];
    // Keep the float64 reference cheap: at most one dimension at 257, and few multiply-adds.
    if (N === 257 && (M === 257 || K === 257)) N = SIZES[randInt(r, 0, 6)];
    if (M === 257 && K === 257) M = SIZES[randInt(r, 0, 6)];
    if (M * N * K > 1.2e6) N = SIZES[randInt(r, 0, 4)];
    cases.push({
      transA: (i & 1) === 1,
      transB: (i & 2) === 2,
      M,
      N,
      K,
      alpha: alphas[i % 3],
      beta: betas[Math.floor(i / 3) % 3],
      pad: i % 4 === 3 ? randInt(r, 1, 5) : 0,
    });
  }
  return cases;
}

// Every ISA path's micro-kernel (and cuBLAS on cuda:N), through the one backend helper.
eachBackend(t, 'gemm matches a float64 reference', { families: ['gemm'], cuda: true }, async (t, be) => {
  if (be.isa) t.equal(ops.gemmKernelName(), be.isa, `the ${be.isa} micro-kernel runs`);
  const r = rng(100 + (be.isa ? ISA_LEVELS.indexOf(be.isa) : 0));
  for (const c of randomCases(r, 24)) await checkCase(t, c, be);
  // Several K blocks, several column chunks per thread, ragged edges in every dimension.
  await checkCase(t, { transA: false, transB: false, M: 29, N: 1391, K: 801, alpha: 1, beta: 0, pad: 0 }, be);
  await checkCase(t, { transA: true, transB: true, M: 45, N: 700, K: 410, alpha: 0.5, beta: 1, pad: 3 }, be);
});

eachBackend(t, 'gemm: all four transpose combinations on one set of values', { families: ['gemm'], cuda: true }, async (t, be) => {
  for (const transA of [false, true])
    for (const transB of [false, true]) await checkCase(t, { transA, transB, M: 33, N: 65, K: 17, alpha: 1.5, beta: 0.5, pad: 2 }, be);
});

eachBackend(t, 'gemm: alpha == 0 gives beta·C and beta == 0 gives a fresh C', { families: ['gemm'], cuda: true }, async (t, be) => {
  await checkCase(t, { transA: false, transB: false, M: 7, N: 13, K: 31, alpha: 0, beta: 0.5, pad: 0 }, be);
  await checkCase(t, { transA: false, transB: true, M: 7, N: 13, K: 31, alpha: 0, beta: 0, pad: 1 }, be);
  const a = Tensor.fromArray(f32(randomArray(6, 9)), [2, 3], { device: be.device });
  const b = Tensor.fromArray(f32(randomArray(12, 10)), [3, 4], { device: be.device });
  const c = ops.gemm(a, b);
  t.same(c.shape, [2, 4]);
  const A = await a.data();
  const B = await b.data();
  const want = new Float64Array(8);
  for (let m = 0; m < 2; m++) for (let n = 0; n < 4; n++) for (let k = 0; k < 3; k++) want[m * 4 + n] += A[m * 3 + k] * B[k * 4 + n];
  t.equal(mismatch(await c.data(), want, tolFor(be, { rtol: 1e-6, atol: 1e-6 }, 'gemm')), null);
  const mm = ops.matmul(a, b);
  t.equal(mismatch(await mm.data(), want, tolFor(be, { rtol: 1e-6, atol: 1e-6 }, 'gemm')), null, 'matmul');
  for (const x of [a, b, c, mm]) x.dispose();
});

eachBackend(t, 'gemm: large enough to use both threads, several K blocks', { families: ['gemm'], cuda: true }, async (t, be) => {
  await checkCase(t, { transA: false, transB: false, M: 100, N: 2049, K: 390, alpha: 1, beta: 0, pad: 0 }, be);
});

async function checkBatched(
  t: Test,
  be: Backend,
  batch: number,
  M: number,
  N: number,
  K: number,
  o: { transA: boolean; transB: boolean; shareA?: boolean; shareB?: boolean; beta?: number },
) {
  const on = { device: be.device };
  const [ar, ac] = o.transA ? [K, M] : [M, K];
  const [br, bc] = o.transB ? [N, K] : [K, N];
  const aCount = o.shareA ? 1 : batch;
  const bCount = o.shareB ? 1 : batch;
  const A = f32(randomArray(aCount * ar * ac, seed++));
  const B = f32(randomArray(bCount * br * bc, seed++));
  const beta = o.beta ?? 0;
  const C0 = beta === 0 ? new Float64Array(batch * M * N) : f32(randomArray(batch * M * N, seed++));
  const a = Tensor.fromArray(A, o.shareA ? [ar, ac] : [batch, ar, ac], on);
  const b = Tensor.fromArray(B, o.shareB ? [br, bc] : [batch, br, bc], on);
  const cIn = beta === 0 ? undefined : Tensor.fromArray(C0, [batch, M, N], on);
  const alpha = 0.75;
  const c = ops.batchedGemm(a, b, { transA: o.transA, transB: o.transB, alpha, beta, c: cIn });
  t.same(c.shape, [batch, M, N]);
  const got = await c.data();
  const want = new Float64Array(batch * M * N);
  const cs: Case = { transA: o.transA, transB: o.transB, M, N, K, alpha, beta, pad: 0 };
  for (let i = 0; i < batch; i++) {
    const Ai = A.subarray((o.shareA ? 0 : i) * ar * ac, ((o.shareA ? 0 : i) + 1) * ar * ac);
    const Bi = B.subarray((o.shareB ? 0 : i) * br * bc, ((o.shareB ? 0 : i) + 1) * br * bc);
    want.set(reference(cs, Ai, ac, Bi, bc, C0.subarray(i * M * N, (i + 1) * M * N), N), i * M * N);
  }
  t.equal(mismatch(got, want, tolFor(be, tolerance(cs), 'gemm')), null, `batch=${batch} M=${M} N=${N} K=${K} ${JSON.stringify(o)}`);
  for (const x of [a, b, c]) x.dispose();
}

eachBackend(t, 'batchedGemm matches a float64 reference per entry', { families: ['gemm'], cuda: true }, async (t, be) => {
  await checkBatched(t, be, 1, 13, 17, 7, { transA: false, transB: false });
  await checkBatched(t, be, 3, 33, 65, 31, { transA: true, transB: false, beta: 0.5 });
  await checkBatched(t, be, 8, 17, 31, 13, { transA: false, transB: true });
  await checkBatched(t, be, 5, 7, 100, 33, { transA: true, transB: true, shareB: true });
  await checkBatched(t, be, 4, 65, 13, 17, { transA: false, transB: false, shareA: true, beta: 1 });
  await checkBatched(t, be, 2, 100, 257, 65, { transA: false, transB: false });
});

t.test('gemm on two CPU streams at once shares the thread pool and gives the same answers', async (t) => {
  const M = 65;
  const N = 1031;
  const K = 401;
  const A = f32(randomArray(M * K, seed++));
  const B = f32(randomArray(K * N, seed++));
  const devs = [device('cpu:0'), device('cpu:1')];
  const outs = [];
  for (let rep = 0; rep < 3; rep++)
    for (const dev of devs) {
      const a = Tensor.fromArray(A, [M, K], { device: dev });
      const b = Tensor.fromArray(B, [K, N], { device: dev });
      outs.push({ c: ops.gemm(a, b), a, b });
    }
  const want = reference({ transA: false, transB: false, M, N, K, alpha: 1, beta: 0, pad: 0 }, A, K, B, N, new Float64Array(M * N), N);
  const first = await outs[0].c.data();
  t.equal(mismatch(first, want, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(K) }), null);
  for (const o of outs.slice(1)) t.same(Array.from(await o.c.data()), Array.from(first), `${o.c.device.name}: bit-identical`);
  for (const o of outs) for (const x of [o.a, o.b, o.c]) x.dispose();
});

t.test('CONVKIT_ISA (or its old name CONVKIT_GEMM_KERNEL) picks the level at load time', async (t) => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const probe = `const b = require('node-gyp-build')(${JSON.stringify(root)}); process.stdout.write(b.isa() + ' ' + b.gemmKernelName())`;
  const run = (env: Record<string, string>) =>
    execFileSync(process.execPath, ['-e', probe], {
      env: { ...process.env, CONVKIT_ISA: '', CONVKIT_GEMM_KERNEL: '', ...env },
      cwd: root,
    }).toString();
  const best = run({});
  t.match(best, /^(avx512|avx2|portable) \1$/, `default is ${best}`);
  t.equal(run({ CONVKIT_ISA: 'portable' }), 'portable portable');
  t.equal(run({ CONVKIT_ISA: 'bogus' }), best, 'an unknown name falls back to the best level');
  t.equal(run({ CONVKIT_GEMM_KERNEL: 'portable' }), 'portable portable', 'the old name is an alias');
  t.equal(run({ CONVKIT_ISA: 'portable', CONVKIT_GEMM_KERNEL: 'avx2' }), 'portable portable', 'CONVKIT_ISA wins over the old name');
  if (!best.startsWith('portable')) t.equal(run({ CONVKIT_ISA: 'avx2' }), 'avx2 avx2');
  else t.pass('CONVKIT_ISA=avx2', { skip: 'this CPU has no AVX2/FMA' });
});

t.test('gemm rejects bad input with the op and the shapes in the message', async (t) => {
  const a = Tensor.zeros([2, 3]);
  const b = Tensor.zeros([4, 5]);
  const b2 = Tensor.zeros([3, 5]);
  const v = Tensor.zeros([6]);
  t.throws(() => ops.gemm(a, b), { code: 'ND_SHAPE', message: /gemm: .*\[2, 3\].*\[4, 5\]/ });
  t.throws(() => ops.gemm(a, b2, { transA: true }), { code: 'ND_SHAPE', message: /gemm: transposed a \[2, 3\].*b \[3, 5\]/ });
  t.throws(() => ops.matmul(a, b), { code: 'ND_SHAPE', message: /matmul: a \[2, 3\] and b \[4, 5\]/ });
  t.throws(() => ops.gemm(v, b2), { code: 'ND_SHAPE', message: /gemm: 'a' must have rank 2, got shape \[6\]/ });
  t.throws(() => ops.gemm(a, b2, { c: Tensor.zeros([2, 4]) }), { code: 'ND_SHAPE', message: /gemm: 'c' \[2, 4\] must be \[2, 5\]/ });
  t.throws(() => ops.gemm(a, b2, { aView: [3, 3] }), { code: 'ND_SHAPE', message: /gemm: 'aView' \[3, 3\] does not fit in 'a' \[2, 3\]/ });
  t.throws(() => ops.gemm([1, 2] as unknown as Tensor, b2), { code: 'ND_ARG', message: /gemm: 'a' must be a Tensor/ });
  t.throws(() => ops.gemm(a, b2, { alpha: NaN }), { code: 'ND_ARG', message: /gemm: 'alpha'/ });
  t.throws(() => ops.gemm(a, b2, { beta: 1 }), { code: 'ND_ARG', message: /gemm: 'beta' is 1 but no 'c'/ });
  t.throws(() => ops.gemm(a, b2, { transA: 1 as unknown as boolean }), { code: 'ND_ARG' });
  t.throws(() => ops.gemm(a, Tensor.zeros([3, 5], { dtype: 'int32' })), { code: 'ND_ARG', message: /gemm: 'b' must be float32/ });
  t.throws(() => ops.batchedGemm(Tensor.zeros([2, 2, 3]), Tensor.zeros([3, 3, 5])), {
    code: 'ND_SHAPE',
    message: /batchedGemm: a \[2, 2, 3\] and b \[3, 3, 5\]/,
  });
  t.throws(() => ops.batchedGemm(Tensor.zeros([2, 2, 3]), Tensor.zeros([2, 4, 5])), {
    code: 'ND_SHAPE',
    message: /batchedGemm: .*\[2, 2, 3\].*\[2, 4, 5\]/,
  });
  t.throws(() => ops.batchedGemm(a, b2), { code: 'ND_SHAPE', message: /batchedGemm: .* must be 3-D/ });
  t.throws(() => ops.setGemmKernel('bogus' as 'avx2'), { code: 'ND_ARG', message: /setIsa: unknown ISA 'bogus'/ });
  for (const x of [a, b, b2, v]) x.dispose();
});
