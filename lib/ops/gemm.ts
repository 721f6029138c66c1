/**
 * Matrix products: C = alpha·op(A)·op(B) + beta·C on row-major float32 matrices, where op(X) is
 * X or its transpose. Shapes are checked here; the native SGEMM (packed, cache-blocked, SIMD
 * micro-kernel chosen for this CPU) runs on the device's stream.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { setIsa } from '../isa.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkNumber, checkTensor, describe, sameDevice } from './validate.js';

const nb = native;

export type GemmKernel = 'avx512' | 'avx2' | 'portable';

export interface GemmOptions {
  /** Use A transposed (a is stored [K, M]). */
  transA?: boolean;
  /** Use B transposed (b is stored [N, K]). */
  transB?: boolean;
  alpha?: number;
  /** Weight of c's old contents; 0 (the default) ignores them, NaN included. */
  beta?: number;
  /** Accumulate into this tensor (it is also returned) instead of a new one. */
  c?: Tensor;
  /**
   * Use only the top-left [rows, cols] block of a (or b, or c) as the matrix; the row stride
   * (lda, ldb, ldc) stays the tensor's last dimension. This is how a sub-matrix is addressed.
   */
  aView?: readonly [number, number];
  bView?: readonly [number, number];
  cView?: readonly [number, number];
}

interface Mat {
  rows: number;
  cols: number;
  ld: number;
}

function matrixOf(op: string, name: string, t: Tensor, view: readonly [number, number] | undefined): Mat {
  const [r, c] = [t.shape[t.rank - 2], t.shape[t.rank - 1]];
  if (view === undefined) return { rows: r, cols: c, ld: c };
  const ok = Array.isArray(view) && view.length === 2 && view.every((v) => Number.isSafeInteger(v) && v >= 0);
  if (!ok) throw new ArgumentError(`${op}: '${name}View' must be [rows, cols] of non-negative integers, got ${describe(view)}`);
  if (view[0] > r || view[1] > c)
    throw new ShapeError(`${op}: '${name}View' [${view.join(', ')}] does not fit in '${name}' ${fmtShape(t.shape)}`);
  return { rows: view[0], cols: view[1], ld: c };
}

interface Plan {
  M: number;
  N: number;
  K: number;
  a: Mat;
  b: Mat;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
}

/** Checks op(a)·op(b) chains and returns the product's geometry. */
function planProduct(op: string, a: Tensor, b: Tensor, opts: GemmOptions, a2: Mat, b2: Mat): Plan {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (typeof transA !== 'boolean') throw new ArgumentError(`${op}: 'transA' must be a boolean, got ${describe(transA)}`);
  if (typeof transB !== 'boolean') throw new ArgumentError(`${op}: 'transB' must be a boolean, got ${describe(transB)}`);
  const alpha = checkNumber(op, 'alpha', opts.alpha ?? 1);
  const beta = checkNumber(op, 'beta', opts.beta ?? 0);
  const [M, K] = transA ? [a2.cols, a2.rows] : [a2.rows, a2.cols];
  const [Kb, N] = transB ? [b2.cols, b2.rows] : [b2.rows, b2.cols];
  if (K !== Kb) {
    const opA = `${transA ? 'transposed ' : ''}a ${fmtShape(a.shape)}`;
    const opB = `${transB ? 'transposed ' : ''}b ${fmtShape(b.shape)}`;
    throw new ShapeError(`${op}: ${opA} has ${K} columns but ${opB} has ${Kb} rows; they must match`);
  }
  return { M, N, K, a: a2, b: b2, transA, transB, alpha, beta };
}

function checkOutput(op: string, c: Tensor, a: Tensor, b: Tensor, want: readonly number[], got: Mat): void {
  if (c === a || c === b) throw new ArgumentError(`${op}: 'c' must not be the same tensor as 'a' or 'b'`);
  const n = want.length;
  const shape = [...c.shape.slice(0, c.rank - 2), got.rows, got.cols];
  if (shape.length !== n || shape.some((d, i) => d !== want[i]))
    throw new ShapeError(`${op}: 'c' ${fmtShape(c.shape)} must be ${fmtShape(want)} for a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`);
}

/**
 * C = alpha·op(a)·op(b) + beta·c for 2-D tensors: a is [M, K] ([K, M] with transA), b is [K, N]
 * ([N, K] with transB). Returns a new [M, N] tensor, or `opts.c` updated in place.
 */
export function gemm(a: Tensor, b: Tensor, opts: GemmOptions = {}): Tensor {
  const op = 'gemm';
  checkTensor(op, 'a', a, { rank: 2 });
  checkTensor(op, 'b', b, { rank: 2 });
  if (opts.c !== undefined) checkTensor(op, 'c', opts.c, { rank: 2 });
  sameDevice(op, { a, b, c: opts.c });
  const p = planProduct(op, a, b, opts, matrixOf(op, 'a', a, opts.aView), matrixOf(op, 'b', b, opts.bView));
  let c = opts.c;
  let cm: Mat = { rows: p.M, cols: p.N, ld: p.N };
  if (c) {
    cm = matrixOf(op, 'c', c, opts.cView);
    checkOutput(op, c, a, b, [p.M, p.N], cm);
  } else {
    if (opts.cView !== undefined) throw new ArgumentError(`${op}: 'cView' needs 'c'`);
    if (p.beta !== 0) throw new ArgumentError(`${op}: 'beta' is ${p.beta} but no 'c' was given to accumulate into`);
    c = Tensor.empty([p.M, p.N], 'float32', a.device);
  }
  nb.gemm(a.device.stream, a.handle(), b.handle(), c.handle(), p.transA, p.transB, p.M, p.N, p.K, p.alpha, p.a.ld, p.b.ld, p.beta, cm.ld);
  return c;
}

/** a·b for 2-D tensors: [M, K]·[K, N] → [M, N]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'a', a, { rank: 2 });
  checkTensor('matmul', 'b', b, { rank: 2 });
  if (a.shape[1] !== b.shape[0])
    throw new ShapeError(`matmul: a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)} do not chain (${a.shape[1]} != ${b.shape[0]})`);
  return gemm(a, b);
}

export type BatchedGemmOptions = Pick<GemmOptions, 'transA' | 'transB' | 'alpha' | 'beta' | 'c'>;

/**
 * One product per batch entry: a is [batch, M, K], b is [batch, K, N] (each transposed with
 * transA/transB); either may instead be 2-D and is then shared by every entry. Returns a new
 * [batch, M, N] tensor, or `opts.c` updated in place.
 */
export function batchedGemm(a: Tensor, b: Tensor, opts: BatchedGemmOptions = {}): Tensor {
  const op = 'batchedGemm';
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  for (const [name, t] of [
    ['a', a],
    ['b', b],
  ] as const)
    if (t.rank !== 2 && t.rank !== 3) throw new ShapeError(`${op}: '${name}' must be 2-D or 3-D, got shape ${fmtShape(t.shape)}`);
  if (a.rank === 2 && b.rank === 2)
    throw new ShapeError(`${op}: a ${fmtShape(a.shape)} or b ${fmtShape(b.shape)} must be 3-D [batch, rows, cols]`);
  if (a.rank === 3 && b.rank === 3 && a.shape[0] !== b.shape[0])
    throw new ShapeError(`${op}: a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)} have different batch sizes`);
  if (opts.c !== undefined) checkTensor(op, 'c', opts.c, { rank: 3 });
  sameDevice(op, { a, b, c: opts.c });
  const batch = a.rank === 3 ? a.shape[0] : b.shape[0];
  const am = matrixOf(op, 'a', a, undefined);
  const bm = matrixOf(op, 'b', b, undefined);
  const p = planProduct(op, a, b, opts, am, bm);
  let c = opts.c;
  if (c) checkOutput(op, c, a, b, [batch, p.M, p.N], matrixOf(op, 'c', c, undefined));
  else {
    if (p.beta !== 0) throw new ArgumentError(`${op}: 'beta' is ${p.beta} but no 'c' was given to accumulate into`);
    c = Tensor.empty([batch, p.M, p.N], 'float32', a.device);
  }
  const strideA = a.rank === 3 ? am.rows * am.cols : 0;
  const strideB = b.rank === 3 ? bm.rows * bm.cols : 0;
  nb.batchedGemm(
    a.device.stream,
    a.handle(),
    b.handle(),
    c.handle(),
    p.transA,
    p.transB,
    p.M,
    p.N,
    p.K,
    p.alpha,
    am.ld,
    strideA,
    bm.ld,
    strideB,
    p.beta,
    p.N,
    p.M * p.N,
    batch,
  );
  return c;
}

/** The SGEMM micro-kernel in use: 'avx512', 'avx2' or 'portable'. */
export function gemmKernelName(): GemmKernel {
  return nb.gemmKernelName() as GemmKernel;
}

/**
 * The old name of setIsa() (lib/isa.ts): the micro-kernel follows the one ISA level, which also
 * switches every other CPU kernel family. Kept so that callers of the gemm-only knob still work;
 * returns the gemm kernel now in use. Throws ND_ARG (unknown name, a level this CPU lacks) or
 * ND_BUSY (a CPU stream still has ops queued).
 */
export function setGemmKernel(name: GemmKernel | 'auto'): GemmKernel {
  if (typeof name !== 'string') throw new ArgumentError(`setGemmKernel: 'name' must be a string, got ${describe(name)}`);
  setIsa(name);
  return gemmKernelName();
}
