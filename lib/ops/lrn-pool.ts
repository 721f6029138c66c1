/**
 * LRN followed by max pooling in one op, for inference (AlexNet's norm1 -> pool1 and norm2 ->
 * pool2 in eval mode): on a CPU stream each image's LRN output stays in a thread's cache for the
 * pool instead of going to memory and back. The values are maxPool2dValues(lrnOutput(x)) bit for
 * bit; no argmax is made, so nothing can backpropagate through it. Other devices run those two ops.
 */
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import type { LrnOptions } from './lrn.js';
import { lrnOutput } from './lrn.js';
import { resolve } from './lrn-options.js';
import type { Pool2dOptions } from './pool.js';
import { maxPool2dValues } from './pool.js';
import { geometry } from './pool-geometry.js';
import { checkTensor } from './validate.js';

/** maxPool2dValues(lrnOutput(x, lrn), pool) for an x of [N, C, H, W]. */
export function lrnMaxPool2d(x: Tensor, lrn: LrnOptions, pool: Pool2dOptions): Tensor {
  const op = 'lrnMaxPool2d';
  checkTensor(op, 'x', x, { rank: 4 });
  const p = resolve(op, lrn);
  const g = geometry(op, x.shape, pool);
  if (x.device.kind !== 'cpu') {
    const normed = lrnOutput(x, lrn);
    try {
      return maxPool2dValues(normed, pool);
    } finally {
      normed.dispose();
    }
  }
  const y = Tensor.empty(g.outShape, 'float32', x.device);
  native.lrnMaxPool2d(x.device.stream, x.handle(), y.handle(), g.geom, p.size, p.alphaEff, p.beta, p.k);
  return y;
}
