// Child side of geometry.test.ts (test/helpers/child-cases.ts): runs each geometry case and
// answers 'computed' (it matched the float64 reference) or 'rejected <code>' (a coded error);
// an uncoded error, a wrong result, or a small valid case that was refused fails the case.
import { Tensor, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { mismatch } from '../helpers/compare.js';
import { randomArray } from '../helpers/rng.js';
import { serveCases } from '../helpers/child-cases.js';
import { type GeomCase, conv2dRef, im2colRef, isSmall, maxPoolRef, outSize } from './geometry-cases.js';

const CODED = new Set(['ND_ARG', 'ND_SHAPE', 'ND_OOM']);

function values(n: number, seed: number): Float32Array {
  return Float32Array.from(randomArray(n, seed));
}

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

async function compare(t: Tensor, ref: { y: Float64Array; shape: number[] }): Promise<string> {
  if (t.shape.length !== ref.shape.length || t.shape.some((d, i) => d !== ref.shape[i]))
    throw new Error(`shape ${JSON.stringify(t.shape)}, reference ${JSON.stringify(ref.shape)}`);
  const bad = mismatch(await t.data(), ref.y, { rtol: 1e-4, atol: 1e-5 });
  if (bad) throw new Error(bad);
  return 'computed';
}

/** The raw binding with no TypeScript in front: the geometry goes across as drawn. */
async function nativeConv(c: GeomCase, x: Tensor, w: Tensor): Promise<string> {
  // Output sizes as a caller would compute them; nonsense values (null, fractions, a zero
  // stride) cross as drawn, with an output size of 1.
  const exact = (...v: unknown[]): boolean => v.every((n) => Number.isSafeInteger(n));
  const safeOut = (i: number, k: number, s: number, p: number, d: number): bigint =>
    exact(i, k, s, p, d) && s > 0 ? outSize(i, k, s, p, d) : 1n;
  const OH = safeOut(c.x[2], c.kernel[0], c.stride[0], c.padding[0], c.dilation[0]);
  const OW = safeOut(c.x[3], c.kernel[1], c.stride[1], c.padding[1], c.dilation[1]);
  const yElems = BigInt(c.x[0]) * BigInt(c.w![0]) * OH * OW;
  // A buffer of the true output size when that is small, else one element: either way the
  // binding must refuse what does not fit rather than write past it.
  const y = Tensor.empty([yElems > 0n && yElems < 100_000n ? Number(yElems) : 1]);
  const geom = [...c.x, c.w![0], ...c.kernel, ...c.stride, ...c.padding, ...c.dilation, Number(OH), Number(OW), c.groups];
  try {
    (native.conv2dForward as (...a: unknown[]) => void)(x.device.stream, x.handle(), w.handle(), null, null, y.handle(), geom, false);
  } catch (e) {
    y.dispose();
    throw e;
  }
  if (!isSmall(c)) {
    // Accepted although large: only correct if it matches the reference exactly as well.
    await y.data();
  }
  const ref = conv2dRef((await x.data()) as Float32Array, [...c.x], (await w.data()) as Float32Array, c.w!, c);
  const got = await y.data();
  y.dispose();
  const bad = mismatch(got, ref.y, { rtol: 1e-4, atol: 1e-5 });
  if (bad) throw new Error(`native conv2d accepted ${JSON.stringify(geom)}: ${bad}`);
  return 'computed';
}

/**
 * Output elements of a case whose window values are all in range, else null. Some such cases
 * are valid but enormous (padding 2^23 at stride 1: gigabytes of columns): they are skipped,
 * and counted, rather than run here.
 */
function validOutputElements(c: GeomCase): bigint | null {
  const win = [...c.kernel, ...c.stride, ...c.padding, ...c.dilation];
  if (!win.every((v) => Number.isSafeInteger(v) && v >= 0 && v <= 2 ** 24) || c.stride.some((v) => v < 1)) return null;
  const d = c.op === 'maxPool2d' ? [1, 1] : c.dilation;
  const k = c.w ? [c.w[2], c.w[3]] : c.kernel;
  const oh = outSize(c.x[2], k[0], c.stride[0], c.padding[0], d[0]);
  const ow = outSize(c.x[3], k[1], c.stride[1], c.padding[1], d[1]);
  const perPos = c.op === 'im2col' ? BigInt(c.x[1] * k[0] * k[1]) : BigInt(c.w ? c.w[0] : c.x[1]);
  return BigInt(c.x[0]) * perPos * oh * ow;
}
const RUN_LIMIT = 4_000_000n;

async function run(c: GeomCase): Promise<string> {
  const n = validOutputElements(c);
  if (n !== null && n > RUN_LIMIT && c.op !== 'native-conv2d') return `skipped: valid but ${n} output elements`;
  const xv = values(size(c.x), c.seed);
  const x = Tensor.fromArray(xv, c.x);
  const w = c.w ? Tensor.fromArray(values(size(c.w), c.seed + 1), c.w) : undefined;
  let out: Tensor | undefined;
  try {
    if (c.op === 'native-conv2d') return await nativeConv(c, x, w!);
    if (c.op === 'conv2d') {
      out = ops.conv2d(x, w!, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      return await compare(out, conv2dRef(xv, c.x, (await w!.data()) as Float32Array, c.w!, c));
    }
    if (c.op === 'im2col') {
      out = ops.im2col(x, { kernelSize: c.kernel, stride: c.stride, padding: c.padding, dilation: c.dilation });
      return await compare(out, im2colRef(xv, c.x, c));
    }
    const r = ops.maxPool2d(x, { kernelSize: c.kernel, stride: c.stride, padding: c.padding });
    r.argmax.dispose();
    out = r.y;
    return await compare(out, maxPoolRef(xv, c.x, c));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code && CODED.has(code)) {
      if (isSmall(c) && c.op !== 'native-conv2d') throw new Error(`a small valid case was refused: ${(e as Error).message}`, { cause: e });
      return `rejected ${code}`;
    }
    throw e;
  } finally {
    x.dispose();
    w?.dispose();
    out?.dispose();
  }
}

await serveCases<GeomCase>((c) => run(c));
