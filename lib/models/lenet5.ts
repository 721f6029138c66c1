/**
 * LeNet-5 in two forms (../shared/REFERENCE.md):
 * - 'modern' (default): 1x28x28 input padded by 2 in C1, ReLU (or tanh), max (or average)
 *   pooling, full C3, Linear 84 -> 10 + softmax cross-entropy.
 * - 'classic': 1x32x32 input scaled to [-0.1, 1.175], trainable subsampling, 1.7159 tanh(2a/3),
 *   C3's partial connection table, F6 of 84 units and the Euclidean RBF output with its MAP
 *   criterion; LeCun's uniform +-2.4/F initialisation. 60,000 trainable parameters.
 * Parameter names: c1, s2, c3, s4, c5, f6, (f7 | output) + ".weight"/".bias"/".coef".
 */
import { ArgumentError } from '../errors.js';
import { AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, RBFOutput, ReLU, ScaledTanh, Sequential, Subsampling, Tanh, type Layer } from '../layers/index.js';
import type { Device, DeviceName } from '../tensor/device.js';
import { Model } from './model.js';

export interface LeNet5Options {
  variant?: 'modern' | 'classic';
  /** Modern form only. */
  activation?: 'relu' | 'tanh';
  /** Modern form only. */
  pooling?: 'max' | 'avg';
  seed?: number;
  device?: DeviceName | Device;
}

/** C3's connection table: which S2 maps feed each C3 map (LeCun et al. 1998, table I). */
export const C3_TABLE: readonly (readonly number[])[] = [
  [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
  [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
  [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
  [0, 1, 2, 3, 4, 5],
];

export function c3Mask(): number[][] {
  return C3_TABLE.map((ins) => Array.from({ length: 6 }, (_, i) => (ins.includes(i) ? 1 : 0)));
}

export function lenet5(o: LeNet5Options = {}): Model {
  const variant = o.variant ?? 'modern';
  const seed = o.seed ?? 0;
  const device = o.device;
  if (variant === 'classic') {
    const init = { kind: 'lecun-uniform' } as const;
    const layers: Layer[] = [
      new Conv2d({ name: 'c1', inChannels: 1, outChannels: 6, kernelSize: 5, init, seed, device }),
      new ScaledTanh('c1.squash'),
      new Subsampling({ name: 's2', channels: 6, seed, device }),
      new ScaledTanh('s2.squash'),
      new Conv2d({ name: 'c3', inChannels: 6, outChannels: 16, kernelSize: 5, mask: c3Mask(), init, seed, device }),
      new ScaledTanh('c3.squash'),
      new Subsampling({ name: 's4', channels: 16, seed, device }),
      new ScaledTanh('s4.squash'),
      new Conv2d({ name: 'c5', inChannels: 16, outChannels: 120, kernelSize: 5, init, seed, device }),
      new ScaledTanh('c5.squash'),
      new Flatten('flatten'),
      new Linear({ name: 'f6', inFeatures: 120, outFeatures: 84, init, seed, device }),
      new ScaledTanh('f6.squash'),
      new RBFOutput({ name: 'output', device }),
    ];
    return new Model('lenet5-classic', new Sequential(layers), [1, 32, 32], 'rbf-map', { model: 'lenet5', variant, seed });
  }
  if (variant !== 'modern') throw new ArgumentError(`lenet5: 'variant' must be 'modern' or 'classic', got ${JSON.stringify(variant)}`);
  const act = o.activation ?? 'relu';
  const pool = o.pooling ?? 'max';
  if (act !== 'relu' && act !== 'tanh') throw new ArgumentError(`lenet5: 'activation' must be 'relu' or 'tanh', got ${JSON.stringify(act)}`);
  if (pool !== 'max' && pool !== 'avg') throw new ArgumentError(`lenet5: 'pooling' must be 'max' or 'avg', got ${JSON.stringify(pool)}`);
  const A = (name: string) => (act === 'relu' ? new ReLU(name) : new Tanh(name));
  const P = (name: string) => (pool === 'max' ? new MaxPool2d({ name, kernelSize: 2 }) : new AvgPool2d({ name, kernelSize: 2 }));
  const layers: Layer[] = [
    new Conv2d({ name: 'c1', inChannels: 1, outChannels: 6, kernelSize: 5, padding: 2, seed, device }),
    A('c1.act'),
    P('s2'),
    new Conv2d({ name: 'c3', inChannels: 6, outChannels: 16, kernelSize: 5, seed, device }),
    A('c3.act'),
    P('s4'),
    new Conv2d({ name: 'c5', inChannels: 16, outChannels: 120, kernelSize: 5, seed, device }),
    A('c5.act'),
    new Flatten('flatten'),
    new Linear({ name: 'f6', inFeatures: 120, outFeatures: 84, seed, device }),
    A('f6.act'),
    new Linear({ name: 'f7', inFeatures: 84, outFeatures: 10, seed, device }),
  ];
  return new Model('lenet5', new Sequential(layers), [1, 28, 28], 'softmax-cross-entropy', { model: 'lenet5', variant, activation: act, pooling: pool, seed });
}
