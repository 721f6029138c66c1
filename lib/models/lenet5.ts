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
import type { LayerSpec } from './layer-registry.js';
import type { Device, DeviceName } from '../tensor/device.js';
import type { Model } from './model.js';
import { buildModel, type ModelSpec } from './model-spec.js';

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
  [0, 1, 2],
  [1, 2, 3],
  [2, 3, 4],
  [3, 4, 5],
  [0, 4, 5],
  [0, 1, 5],
  [0, 1, 2, 3],
  [1, 2, 3, 4],
  [2, 3, 4, 5],
  [0, 3, 4, 5],
  [0, 1, 4, 5],
  [0, 1, 2, 5],
  [0, 1, 3, 4],
  [1, 2, 4, 5],
  [0, 2, 3, 5],
  [0, 1, 2, 3, 4, 5],
];

export function c3Mask(): number[][] {
  return C3_TABLE.map((ins) => Array.from({ length: 6 }, (_, i) => (ins.includes(i) ? 1 : 0)));
}

/** lenet5()'s layers as registry specs (no tensors): what restoreModel checks a file against. */
export function lenet5Spec(o: LeNet5Options = {}): ModelSpec {
  const variant = o.variant ?? 'modern';
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ArgumentError(`lenet5: 'seed' must be an integer, got ${JSON.stringify(seed)}`);
  if (variant === 'classic') {
    const init = { kind: 'lecun-uniform' } as const;
    const layers: LayerSpec[] = [
      { kind: 'conv2d', name: 'c1', inChannels: 1, outChannels: 6, kernelSize: 5, init },
      { kind: 'scaled-tanh', name: 'c1.squash' },
      { kind: 'subsampling', name: 's2', channels: 6 },
      { kind: 'scaled-tanh', name: 's2.squash' },
      { kind: 'conv2d', name: 'c3', inChannels: 6, outChannels: 16, kernelSize: 5, mask: c3Mask(), init },
      { kind: 'scaled-tanh', name: 'c3.squash' },
      { kind: 'subsampling', name: 's4', channels: 16 },
      { kind: 'scaled-tanh', name: 's4.squash' },
      { kind: 'conv2d', name: 'c5', inChannels: 16, outChannels: 120, kernelSize: 5, init },
      { kind: 'scaled-tanh', name: 'c5.squash' },
      { kind: 'flatten', name: 'flatten' },
      { kind: 'linear', name: 'f6', inFeatures: 120, outFeatures: 84, init },
      { kind: 'scaled-tanh', name: 'f6.squash' },
      { kind: 'rbf-output', name: 'output' },
    ];
    return { name: 'lenet5-classic', inputShape: [1, 32, 32], criterion: 'rbf-map', layers, config: { model: 'lenet5', variant, seed } };
  }
  if (variant !== 'modern') throw new ArgumentError(`lenet5: 'variant' must be 'modern' or 'classic', got ${JSON.stringify(variant)}`);
  const act = o.activation ?? 'relu';
  const pool = o.pooling ?? 'max';
  if (act !== 'relu' && act !== 'tanh')
    throw new ArgumentError(`lenet5: 'activation' must be 'relu' or 'tanh', got ${JSON.stringify(act)}`);
  if (pool !== 'max' && pool !== 'avg') throw new ArgumentError(`lenet5: 'pooling' must be 'max' or 'avg', got ${JSON.stringify(pool)}`);
  const A = (name: string): LayerSpec => ({ kind: act, name });
  const P = (name: string): LayerSpec => ({ kind: pool === 'max' ? 'maxpool2d' : 'avgpool2d', name, kernelSize: 2 });
  const layers: LayerSpec[] = [
    { kind: 'conv2d', name: 'c1', inChannels: 1, outChannels: 6, kernelSize: 5, padding: 2 },
    A('c1.act'),
    P('s2'),
    { kind: 'conv2d', name: 'c3', inChannels: 6, outChannels: 16, kernelSize: 5 },
    A('c3.act'),
    P('s4'),
    { kind: 'conv2d', name: 'c5', inChannels: 16, outChannels: 120, kernelSize: 5 },
    A('c5.act'),
    { kind: 'flatten', name: 'flatten' },
    { kind: 'linear', name: 'f6', inFeatures: 120, outFeatures: 84 },
    A('f6.act'),
    { kind: 'linear', name: 'f7', inFeatures: 84, outFeatures: 10 },
  ];
  return {
    name: 'lenet5',
    inputShape: [1, 28, 28],
    criterion: 'softmax-cross-entropy',
    layers,
    config: { model: 'lenet5', variant, activation: act, pooling: pool, seed },
  };
}

export function lenet5(o: LeNet5Options = {}): Model {
  return buildModel(lenet5Spec(o), o.device);
}
