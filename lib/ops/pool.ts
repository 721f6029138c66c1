/**
 * 2-D pooling over NCHW tensors: max (returning its argmax for backward), average and sum, with
 * PyTorch's geometry: stride defaults to the kernel size, padding is at most half the kernel, and
 * in ceil mode the last window must start inside the input or its left padding.
 */
import { ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkInputShape, geometry } from './pool-geometry.js';
import { checkFlag, checkTensor, sameDevice, sameShape } from './validate.js';

const nb = native;

type Size2 = number | readonly [number, number];

export interface Pool2dOptions {
  /** Window size, n or [kh, kw]. */
  kernelSize: Size2;
  /** Step between windows; defaults to kernelSize (non-overlapping). AlexNet uses 3x3 stride 2. */
  stride?: Size2;
  /** Implicit padding on each side; at most half the kernel. Max pooling pads with -inf. */
  padding?: Size2;
  /** Round the output size up instead of down (PyTorch's ceil_mode). */
  ceilMode?: boolean;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by the whole window, padding included (PyTorch's default, true) or by the valid part. */
  countIncludePad?: boolean;
}

export { poolOutputSize } from './pool-geometry.js';

function checkGradShape(op: string, dy: Tensor, expected: readonly number[], inputShape: readonly number[]): void {
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== expected[i]))
    throw new ShapeError(
      `${op}: 'dy' ${fmtShape(dy.shape)} must have shape ${fmtShape(expected)}, the output for input ${fmtShape(inputShape)}`,
    );
}

/** Max pooling. Returns y and, per output element, the index h*W + w of the winner in its input plane. */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): { y: Tensor; argmax: Tensor } {
  const op = 'maxPool2d';
  checkTensor(op, 'x', x, { rank: 4 });
  const g = geometry(op, x.shape, opts);
  const y = Tensor.empty(g.outShape, 'float32', x.device);
  const argmax = Tensor.empty(g.outShape, 'int32', x.device);
  nb.maxPool2d(x.device.stream, x.handle(), y.handle(), argmax.handle(), g.geom);
  return { y, argmax };
}

/**
 * maxPool2d's values without the argmax, for inference (eval-mode MaxPool2d): no index is
 * computed or stored, and the values are maxPool2d's bit for bit (same scan, same tie and NaN
 * rule). On AVX-512 CPUs 2x2/2 windows take a values-only kernel; other shapes compute the argmax
 * into a scratch buffer.
 */
export function maxPool2dValues(x: Tensor, opts: Pool2dOptions): Tensor {
  const op = 'maxPool2dValues';
  checkTensor(op, 'x', x, { rank: 4 });
  const g = geometry(op, x.shape, opts);
  const y = Tensor.empty(g.outShape, 'float32', x.device);
  nb.maxPool2d(x.device.stream, x.handle(), y.handle(), null, g.geom);
  return y;
}

/** dx of max pooling: dy routed to the argmax positions, summed where windows overlap. */
export function maxPool2dBackward(dy: Tensor, argmax: Tensor, inputShape: readonly number[]): Tensor {
  const op = 'maxPool2dBackward';
  checkTensor(op, 'dy', dy, { rank: 4 });
  checkTensor(op, 'argmax', argmax, { dtype: 'int32', rank: 4 });
  sameDevice(op, { dy, argmax });
  sameShape(op, 'dy', dy, 'argmax', argmax);
  const [N, C, H, W] = checkInputShape(op, 'inputShape', inputShape);
  if (dy.shape[0] !== N || dy.shape[1] !== C)
    throw new ShapeError(`${op}: 'dy' ${fmtShape(dy.shape)} and 'inputShape' ${fmtShape(inputShape)} must agree on N and C`);
  const [, , oh, ow] = dy.shape;
  const dx = Tensor.empty([N, C, H, W], 'float32', dy.device);
  // Backward needs only the two plane sizes: the argmax already encodes every window.
  nb.maxPool2dBackward(dy.device.stream, dy.handle(), argmax.handle(), dx.handle(), [N, C, H, W, 1, 1, 1, 1, 0, 0, oh, ow, 0]);
  return dx;
}

/** Average pooling with PyTorch's semantics (countIncludePad defaults to true). */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const op = 'avgPool2d';
  checkTensor(op, 'x', x, { rank: 4 });
  const g = geometry(op, x.shape, opts);
  const inc = checkFlag(op, 'countIncludePad', opts.countIncludePad, true);
  const y = Tensor.empty(g.outShape, 'float32', x.device);
  nb.avgPool2d(x.device.stream, x.handle(), y.handle(), g.geom, inc);
  return y;
}

/** dx of average pooling for an input of inputShape, with the same options as the forward. */
export function avgPool2dBackward(dy: Tensor, inputShape: readonly number[], opts: AvgPool2dOptions): Tensor {
  const op = 'avgPool2dBackward';
  checkTensor(op, 'dy', dy);
  const inShape = checkInputShape(op, 'inputShape', inputShape);
  const g = geometry(op, inShape, opts);
  const inc = checkFlag(op, 'countIncludePad', opts.countIncludePad, true);
  checkGradShape(op, dy, g.outShape, inShape);
  const dx = Tensor.empty(inShape, 'float32', dy.device);
  nb.avgPool2dBackward(dy.device.stream, dy.handle(), dx.handle(), g.geom, inc);
  return dx;
}

/** Sum over each window (LeNet-5's subsampling before its coefficient and bias); padding adds 0. */
export function sumPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const op = 'sumPool2d';
  checkTensor(op, 'x', x, { rank: 4 });
  const g = geometry(op, x.shape, opts);
  const y = Tensor.empty(g.outShape, 'float32', x.device);
  nb.sumPool2d(x.device.stream, x.handle(), y.handle(), g.geom);
  return y;
}

/** dx of sum pooling: every input position receives the dy of each window that holds it. */
export function sumPool2dBackward(dy: Tensor, inputShape: readonly number[], opts: Pool2dOptions): Tensor {
  const op = 'sumPool2dBackward';
  checkTensor(op, 'dy', dy);
  const inShape = checkInputShape(op, 'inputShape', inputShape);
  const g = geometry(op, inShape, opts);
  checkGradShape(op, dy, g.outShape, inShape);
  const dx = Tensor.empty(inShape, 'float32', dy.device);
  nb.sumPool2dBackward(dy.device.stream, dy.handle(), dx.handle(), g.geom);
  return dx;
}
