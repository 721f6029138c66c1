/** Pooling geometry shared by the pooling ops and the fused LRN + max pool: PyTorch's rules. */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Pool2dOptions } from './pool.js';
import { checkExtent, checkFlag, checkInt, checkPerImage, describe, pair } from './validate.js';

/** Output length along one axis, exactly as PyTorch's pooling_output_shape. */
export function poolOutputSize(input: number, kernel: number, stride: number, pad: number, ceilMode: boolean): number {
  let out = Math.floor((input + 2 * pad - kernel + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= input + pad) out--;
  return out;
}

export interface Geometry {
  geom: number[];
  outShape: [number, number, number, number];
}

export function checkInputShape(op: string, name: string, shape: unknown): [number, number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 4) throw new ArgumentError(`${op}: '${name}' must be [N, C, H, W], got ${describe(shape)}`);
  return shape.map((d, i) => checkInt(op, `${name}[${i}]`, d, 1)) as [number, number, number, number];
}

export function geometry(op: string, inShape: readonly number[], opts: Pool2dOptions | undefined): Geometry {
  if (typeof opts !== 'object' || opts === null)
    throw new ArgumentError(`${op}: options { kernelSize, stride?, padding?, ceilMode? } are required, got ${describe(opts)}`);
  if (opts.kernelSize === undefined) throw new ArgumentError(`${op}: 'kernelSize' is required`);
  const [kh, kw] = pair(op, 'kernelSize', opts.kernelSize, 1, 1);
  const stride = opts.stride === undefined ? [kh, kw] : pair(op, 'stride', opts.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, 0, 0);
  const ceil = checkFlag(op, 'ceilMode', opts.ceilMode, false);
  if (ph > Math.floor(kh / 2) || pw > Math.floor(kw / 2))
    throw new ArgumentError(`${op}: padding [${ph}, ${pw}] must be at most half the kernel [${kh}, ${kw}]`);
  const [N, C, H, W] = inShape;
  checkExtent(op, 'input height', H);
  checkExtent(op, 'input width', W);
  // argmax holds h*W + w in int32: one plane must stay below 2^31 elements.
  checkPerImage(op, 'one input plane', [H, W]);
  const oh = poolOutputSize(H, kh, stride[0], ph, ceil);
  const ow = poolOutputSize(W, kw, stride[1], pw, ceil);
  if (oh < 1 || ow < 1)
    throw new ShapeError(
      `${op}: input ${fmtShape(inShape)} with kernel [${kh}, ${kw}], stride [${stride[0]}, ${stride[1]}], ` +
        `padding [${ph}, ${pw}] gives an empty output [${N}, ${C}, ${oh}, ${ow}]`,
    );
  return {
    geom: [N, C, H, W, kh, kw, stride[0], stride[1], ph, pw, oh, ow, ceil ? 1 : 0],
    outShape: [N, C, oh, ow],
  };
}
