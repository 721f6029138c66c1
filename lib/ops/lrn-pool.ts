/**
 * LRN followed by max pooling in one op (AlexNet's norm1 -> pool1 and norm2 -> pool2), and its
 * backward: on a CPU stream each image's LRN output (or, backward, the gradient of it) stays in a
 * thread's cache between the two kernels instead of going to memory and back, and training never
 * stores the LRN output at all. The values are the two separate ops' bit for bit. Other devices
 * run those two ops.
 */
import { ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import type { LrnBackwardOptions, LrnOptions } from './lrn.js';
import { lrnBackward, lrnOutput } from './lrn.js';
import { resolve } from './lrn-options.js';
import type { Pool2dOptions } from './pool.js';
import { maxPool2d, maxPool2dBackward, maxPool2dValues } from './pool.js';
import { geometry } from './pool-geometry.js';
import { checkFlag, checkTensor, sameDevice, sameShape } from './validate.js';

/** maxPool2dValues(lrnOutput(x, lrn), pool) for an x of [N, C, H, W], for inference (no argmax). */
export function lrnMaxPool2d(x: Tensor, lrn: LrnOptions, pool: Pool2dOptions): Tensor {
  return lrnThenPool('lrnMaxPool2d', x, lrn, pool, false).y;
}

/**
 * maxPool2d(lrnOutput(x, lrn), pool) for training: y and the pool's argmax (into the LRN output's
 * planes, which equal x's), for maxPool2dLrnBackward. The LRN output itself is never stored.
 */
export function lrnMaxPool2dWithArgmax(x: Tensor, lrn: LrnOptions, pool: Pool2dOptions): { y: Tensor; argmax: Tensor } {
  const { y, argmax } = lrnThenPool('lrnMaxPool2dWithArgmax', x, lrn, pool, true);
  return { y, argmax: argmax! };
}

// The two forms' one body: the fused kernel on a CPU stream, the two ops elsewhere.
function lrnThenPool(
  op: string,
  x: Tensor,
  lrn: LrnOptions,
  pool: Pool2dOptions,
  withArgmax: boolean,
): { y: Tensor; argmax: Tensor | null } {
  checkTensor(op, 'x', x, { rank: 4 });
  const p = resolve(op, lrn);
  const g = geometry(op, x.shape, pool);
  if (x.device.kind !== 'cpu') {
    const normed = lrnOutput(x, lrn);
    try {
      return withArgmax ? maxPool2d(normed, pool) : { y: maxPool2dValues(normed, pool), argmax: null };
    } finally {
      normed.dispose();
    }
  }
  const y = Tensor.empty(g.outShape, 'float32', x.device);
  const argmax = withArgmax ? Tensor.empty(g.outShape, 'int32', x.device) : null;
  native.lrnMaxPool2d(x.device.stream, x.handle(), y.handle(), g.geom, p.size, p.alphaEff, p.beta, p.k, argmax?.handle() ?? null);
  return { y, argmax };
}

/**
 * The backward of lrnMaxPool2dWithArgmax: lrnBackward(maxPool2dBackward(dy, argmax, x.shape), x,
 * null, null, lrn, back) in one pass, x being the LRN's input (its scale is recomputed from x).
 * With back.reluInput it is the ReLU before the LRN's backward too.
 */
export function maxPool2dLrnBackward(dy: Tensor, argmax: Tensor, x: Tensor, lrn: LrnOptions, back: LrnBackwardOptions = {}): Tensor {
  const op = 'maxPool2dLrnBackward';
  checkTensor(op, 'dy', dy, { rank: 4 });
  checkTensor(op, 'argmax', argmax, { dtype: 'int32', rank: 4 });
  checkTensor(op, 'x', x, { rank: 4 });
  sameDevice(op, { dy, argmax, x });
  sameShape(op, 'dy', dy, 'argmax', argmax);
  if (dy.shape[0] !== x.shape[0] || dy.shape[1] !== x.shape[1])
    throw new ShapeError(`${op}: 'dy' ${fmtShape(dy.shape)} and 'x' ${fmtShape(x.shape)} must agree on N and C`);
  const p = resolve(op, lrn);
  const reluInput = checkFlag(op, 'reluInput', back.reluInput, false);
  if (x.device.kind !== 'cpu') {
    const dNormed = maxPool2dBackward(dy, argmax, x.shape);
    try {
      return lrnBackward(dNormed, x, null, null, lrn, { reluInput });
    } finally {
      dNormed.dispose();
    }
  }
  const [N, C, H, W] = x.shape;
  const [, , oh, ow] = dy.shape;
  const dx = Tensor.empty(x.shape, 'float32', x.device);
  // As maxPool2dBackward: the argmax encodes every window, so only the two plane sizes matter.
  native.maxPool2dLrnBackward(
    x.device.stream,
    dy.handle(),
    argmax.handle(),
    x.handle(),
    dx.handle(),
    [N, C, H, W, 1, 1, 1, 1, 0, 0, oh, ow, 0],
    p.size,
    p.alphaEff,
    p.beta,
    p.k,
    reluInput,
  );
  return dx;
}
