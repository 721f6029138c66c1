/**
 * Seeded op-geometry cases (issue 9, finding 2) and their float64 references. A case names an
 * op (conv2d, im2col, maxPool2d, or the raw conv binding with no TypeScript validation in
 * front) with shapes and window values drawn from small sizes and from the edges where index
 * arithmetic used to overflow (2^24, 2^31, 2^32 + 1, 2^40, 2^52, ...), plus negatives,
 * fractions and non-finite values (NaN and Infinity reach the child as null: JSON). Small valid cases must compute and match the reference; the
 * rest must be refused with a coded error. Shared by geometry.test.ts and longer fuzz runs.
 */
import { rng, randInt } from '../helpers/rng.js';

export type GeomOp = 'conv2d' | 'im2col' | 'maxPool2d' | 'native-conv2d';

export interface GeomCase {
  op: GeomOp;
  x: [number, number, number, number];
  /** conv2d: [OC, C/groups, KH, KW]. */
  w?: [number, number, number, number];
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  seed: number;
}

const EDGES = [
  2 ** 24,
  2 ** 24 + 1,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 40,
  2 ** 51,
  2 ** 52,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
];
const ODD = [-1, 0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -(2 ** 31)];

/** Mostly small values, sometimes an edge, rarely something invalid. */
function value(r: () => number, small: [number, number]): number {
  const u = r();
  if (u < 0.75) return randInt(r, small[0], small[1]);
  if (u < 0.85) return 2 ** randInt(r, 5, 23) + randInt(r, -1, 1); // large but within the bound
  if (u < 0.95) return EDGES[randInt(r, 0, EDGES.length - 1)];
  return ODD[randInt(r, 0, ODD.length - 1)];
}

/** The three cases of the issue, then `count` seeded cases. */
export function geometryCases(count: number, seed: number): GeomCase[] {
  const out: GeomCase[] = [
    // im2col of ones([1,1,6,6]) with kernel [1,3], stride [3, 2^32+1], padding [1, 2^32]: SIGSEGV before.
    {
      op: 'im2col',
      x: [1, 1, 6, 6],
      kernel: [1, 3],
      stride: [3, 2 ** 32 + 1],
      padding: [1, 2 ** 32],
      dilation: [1, 1],
      groups: 1,
      seed: 1,
    },
    // conv2d of [1,2,5,4] by [1,2,3,2], stride [2^40, 2^32+1], padding [0, 2^31-1], dilation [1, 2^31]: SIGSEGV before.
    {
      op: 'conv2d',
      x: [1, 2, 5, 4],
      w: [1, 2, 3, 2],
      kernel: [3, 2],
      stride: [2 ** 40, 2 ** 32 + 1],
      padding: [0, 2 ** 31 - 1],
      dilation: [1, 2 ** 31],
      groups: 1,
      seed: 2,
    },
    // 2x2 input, 1x1 weight, padding 2^51, stride 2^52: returned [10,10,10,10] (right: zeros) before.
    {
      op: 'conv2d',
      x: [1, 1, 2, 2],
      w: [1, 1, 1, 1],
      kernel: [1, 1],
      stride: [2 ** 52, 2 ** 52],
      padding: [2 ** 51, 2 ** 51],
      dilation: [1, 1],
      groups: 1,
      seed: 3,
    },
  ];
  const r = rng(seed);
  const ops: GeomOp[] = ['conv2d', 'conv2d', 'im2col', 'maxPool2d', 'native-conv2d'];
  for (let i = 0; i < count; i++) {
    const op = ops[randInt(r, 0, ops.length - 1)];
    const groups = r() < 0.2 ? 2 : 1;
    const C = groups * randInt(r, 1, 2);
    const x: [number, number, number, number] = [randInt(r, 1, 2), C, randInt(r, 1, 9), randInt(r, 1, 9)];
    // A conv's kernel is its weight's shape (a tensor: small); im2col's and pooling's is an option.
    const conv = op === 'conv2d' || op === 'native-conv2d';
    const kernel: [number, number] = conv ? [randInt(r, 1, 4), randInt(r, 1, 4)] : [value(r, [1, 4]), value(r, [1, 4])];
    const c: GeomCase = {
      op,
      x,
      kernel,
      stride: [value(r, [1, 3]), value(r, [1, 3])],
      padding: op === 'maxPool2d' ? [randInt(r, 0, 1), randInt(r, 0, 1)] : [value(r, [0, 2]), value(r, [0, 2])],
      dilation: [value(r, [1, 2]), value(r, [1, 2])],
      groups,
      seed: seed * 100_000 + i,
    };
    if (conv) c.w = [groups * randInt(r, 1, 2), C / groups, kernel[0], kernel[1]];
    out.push(c);
  }
  return out;
}

/** floor((in + 2p - d(k-1) - 1) / s) + 1 in exact integer arithmetic (BigInt). */
export function outSize(input: number, k: number, s: number, p: number, d: number): bigint {
  const span = BigInt(input) + 2n * BigInt(p) - BigInt(d) * BigInt(k - 1) - 1n;
  return span < 0n ? 0n : span / BigInt(s) + 1n;
}

/** Whether every window value is an integer in a small range: such a case must compute. */
export function isSmall(c: GeomCase): boolean {
  const vals = [...c.kernel, ...c.stride, ...c.dilation, ...c.padding];
  if (!vals.every((v) => Number.isInteger(v) && v >= 0 && v <= 64)) return false;
  if (c.kernel.some((v) => v < 1) || c.stride.some((v) => v < 1) || c.dilation.some((v) => v < 1)) return false;
  const d = c.op === 'maxPool2d' ? [1, 1] : c.dilation;
  const oh = outSize(c.x[2], c.kernel[0], c.stride[0], c.padding[0], d[0]);
  const ow = outSize(c.x[3], c.kernel[1], c.stride[1], c.padding[1], d[1]);
  if (c.op === 'maxPool2d') return c.padding[0] <= c.kernel[0] / 2 && c.padding[1] <= c.kernel[1] / 2 && oh >= 1n && ow >= 1n;
  return oh >= 1n && ow >= 1n;
}

/** Float64 conv2d (groups, stride, padding, dilation; no bias) over float32-rounded inputs. */
export function conv2dRef(x: Float32Array, xs: number[], w: Float32Array, ws: number[], c: GeomCase): { y: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs;
  const [OC, Cg, KH, KW] = ws;
  const OH = Number(outSize(H, KH, c.stride[0], c.padding[0], c.dilation[0]));
  const OW = Number(outSize(W, KW, c.stride[1], c.padding[1], c.dilation[1]));
  const OCg = OC / c.groups;
  const y = new Float64Array(N * OC * OH * OW);
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < OC; oc++) {
      const g = Math.floor(oc / OCg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = 0;
          for (let cg = 0; cg < Cg; cg++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
                const iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x[((n * C + g * Cg + cg) * H + ih) * W + iw] * w[((oc * Cg + cg) * KH + kh) * KW + kw];
              }
          y[((n * OC + oc) * OH + oh) * OW + ow] = s;
        }
    }
  return { y, shape: [N, OC, OH, OW] };
}

/** Float64 im2col: [N, C*KH*KW, OH*OW], zeros in the padding. */
export function im2colRef(x: Float32Array, xs: number[], c: GeomCase): { y: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs;
  const [KH, KW] = c.kernel;
  const OH = Number(outSize(H, KH, c.stride[0], c.padding[0], c.dilation[0]));
  const OW = Number(outSize(W, KW, c.stride[1], c.padding[1], c.dilation[1]));
  const rows = C * KH * KW;
  const y = new Float64Array(N * rows * OH * OW);
  for (let n = 0; n < N; n++)
    for (let ch = 0; ch < C; ch++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
              const iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
              const v = ih < 0 || ih >= H || iw < 0 || iw >= W ? 0 : x[((n * C + ch) * H + ih) * W + iw];
              y[((n * rows + (ch * KH + kh) * KW + kw) * OH + oh) * OW + ow] = v;
            }
  return { y, shape: [N, rows, OH * OW] };
}

/** Float64 max pooling (floor mode, -inf padding). */
export function maxPoolRef(x: Float32Array, xs: number[], c: GeomCase): { y: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs;
  const [KH, KW] = c.kernel;
  const OH = Number(outSize(H, KH, c.stride[0], c.padding[0], 1));
  const OW = Number(outSize(W, KW, c.stride[1], c.padding[1], 1));
  const y = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let m = -Infinity;
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const ih = oh * c.stride[0] - c.padding[0] + kh;
            const iw = ow * c.stride[1] - c.padding[1] + kw;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = Math.max(m, x[(p * H + ih) * W + iw]);
          }
        y[(p * OH + oh) * OW + ow] = m;
      }
  return { y, shape: [N, C, OH, OW] };
}
