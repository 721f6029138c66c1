// Layer stacks the fusion tests build, and the unfused reference they compare against.
import type { Tensor } from '../../lib/index.js';
import { Conv2d, LocalResponseNorm, MaxPool2d, ReLU, Sequential, type Layer } from '../../lib/layers/index.js';

/** Each layer's own forward() in turn, never fused (Sequential's reference); intermediates disposed. */
export function forwardEachLayer(layers: readonly Layer[], x: Tensor): Tensor {
  let cur = x;
  for (const l of layers) {
    const next = l.forward(cur);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return cur;
}

/** AlexNet's stage form: Conv2d (3x3, padding 1) -> ReLU -> LocalResponseNorm -> MaxPool2d. */
export function convReluLrnPool(o: {
  inChannels: number;
  outChannels: number;
  lrn: { alphaConvention: 'literal' | 'per-size'; alpha: number };
  pool: { kernelSize: number; stride?: number };
}): Sequential {
  return new Sequential([
    new Conv2d({ inChannels: o.inChannels, outChannels: o.outChannels, kernelSize: 3, padding: 1, name: 'c', seed: 1 }),
    new ReLU('r'),
    new LocalResponseNorm({ ...o.lrn, name: 'norm' }),
    new MaxPool2d(o.pool),
  ]);
}
