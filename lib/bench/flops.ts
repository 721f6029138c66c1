/**
 * Floating-point work per image, counted from a model's layers and their shapes, so GFLOP/s on a
 * bench line means the same arithmetic whichever library did it.
 *
 * The convention is the one published AlexNet figures use: 2 FLOPs per multiply-add of every conv
 * and fully connected weight at every output position (a connection table, as LeNet-5's C3, counts
 * only its connected weights), and of the RBF output's distance terms; biases, activations,
 * pooling, LRN and the loss are left out (they are under 1% of the work of either net). With
 * that, AlexNet's paper form is 1.45 GFLOP per image forward.
 *
 * A training step is, per layer, the forward, the gradient of its input (the data gradient, a GEMM
 * as large as the forward) and the gradient of its weights (another). The first layer's data
 * gradient is not computed by anyone (the image needs no gradient), and a layer with no
 * trainable weights (the RBF output) has no weight gradient. That gives 4.14 GFLOP per image for
 * AlexNet's paper form: 3 x 1.45 minus conv1's forward.
 */
import { Conv2d } from '../layers/conv2d.js';
import { Linear } from '../layers/linear.js';
import { RBFOutput } from '../layers/rbf-output.js';
import type { Model } from '../models/model.js';
import type { Pass } from './options.js';

export interface LayerFlops {
  layer: string;
  /** FLOPs of one image's forward pass through this layer. */
  forward: number;
  /** Whether the layer has trainable weights (so a weight gradient). */
  weights: boolean;
}

/** Per-layer forward FLOPs of one image, walking the layers with their shapes. */
export function layerFlops(model: Model): LayerFlops[] {
  const out: LayerFlops[] = [];
  let shape = model.inputShape;
  for (const l of model.net.layers) {
    const next = l.outputShape(shape);
    let macs = 0;
    let weights = false;
    if (l instanceof Conv2d) {
      // geometry().params counts the connection table's weights plus one bias per map.
      const weightCount = l.geometry(shape).params - (l.bias ? l.opts.outChannels : 0);
      macs = weightCount * next[1] * next[2];
      weights = true;
    } else if (l instanceof Linear) {
      macs = l.inFeatures * l.outFeatures;
      weights = true;
    } else if (l instanceof RBFOutput) {
      // (x_j - w_ij)^2 summed: a subtract and a multiply-add per connection, as one multiply-add.
      macs = l.inFeatures * l.classes;
    }
    if (macs) out.push({ layer: l.name, forward: 2 * macs, weights });
    shape = next;
  }
  return out;
}

/** FLOPs per image of a pass: the forward, or forward + data gradients + weight gradients. */
export function flopsPerImage(model: Model, pass: Pass): number {
  const layers = layerFlops(model);
  let total = 0;
  layers.forEach((l, i) => {
    total += l.forward;
    if (pass === 'train') {
      if (i > 0) total += l.forward; // data gradient; the first layer's input needs none
      if (l.weights) total += l.forward; // weight gradient
    }
  });
  return total;
}
