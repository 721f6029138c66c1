/**
 * AlexNet in two forms (../shared/REFERENCE.md):
 * - 'paper' (Krizhevsky, Sutskever, Hinton 2012): 3x227x227 input, 96-256-384-384-256 with the two
 *   towers as groups=2 in conv2, conv4 and conv5, ReLU, LRN after conv1 and conv2, overlapping
 *   3x3/2 max pooling, fc6/fc7 of 4096 with dropout, fc8, softmax cross-entropy. 60,965,224
 *   parameters. Weights N(0, 0.01^2); biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere
 *   ('paper'), or 0.1 in their place ('caffe': Caffe's replica, because 1 gave a flat loss there).
 * - 'owt' (Krizhevsky 2014, "one weird trick"; torchvision's alexnet): 64-192-384-256-256, no LRN,
 *   no groups, dropout before fc6 and fc7. Input 3x224x224, so pool5 gives 6x6x256 and
 *   torchvision's AdaptiveAvgPool2d((6, 6)) is the identity (it is left out). PyTorch's default
 *   initialisation, as torchvision. 61,100,840 parameters.
 *
 * LRN: k = 2, n = 5, alpha = 1e-4, beta = 0.75. With lrnConvention 'literal' (default, the paper)
 * the denominator is (k + alpha * sum a^2)^beta. PyTorch's nn.LocalResponseNorm divides its alpha
 * by n, so its twin of this model is LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2). With
 * 'per-size' the same alpha = 1e-4 is read as Caffe / PyTorch read it (alpha/n = 2e-5).
 *
 * Parameter names: conv1..conv5, fc6..fc8 + ".weight"/".bias" (torchvision's features.0 etc. map
 * onto them in order).
 */
import { ArgumentError } from '../errors.js';
import type { Init } from '../layers/init.js';
import { paramSeed } from '../layers/init.js';
import type { Device, DeviceName } from '../tensor/device.js';
import { MAX_WIDTH, type LayerSpec } from './layer-registry.js';
import type { Model } from './model.js';
import { buildModel, type ModelSpec } from './model-spec.js';

export interface AlexNetOptions {
  variant?: 'paper' | 'owt';
  numClasses?: number;
  seed?: number;
  device?: DeviceName | Device;
  /** Paper form: biases of 1 ('paper') or 0.1 ('caffe') in conv2, conv4, conv5, fc6 and fc7. */
  biasInit?: 'paper' | 'caffe';
  /** Dropout probability before/after the fully connected layers; 0 leaves the layers out. */
  dropout?: number;
  /** How the LRN's alpha = 1e-4 is read (paper form only): 'literal' (the paper) or 'per-size' (alpha/n). */
  lrnConvention?: 'literal' | 'per-size';
  /** Width of fc6 and fc7 (4096 in both papers; smaller for tests). */
  fcWidth?: number;
}

const LRN = { size: 5, alpha: 1e-4, beta: 0.75, k: 2 } as const;

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > MAX_WIDTH)
    throw new ArgumentError(`alexnet: '${name}' must be an integer in [1, ${MAX_WIDTH}], got ${JSON.stringify(v)}`);
  return v;
}

/** alexnet()'s layers as registry specs (no tensors): what restoreModel checks a file against. */
export function alexnetSpec(o: AlexNetOptions = {}): ModelSpec {
  const variant = o.variant ?? 'paper';
  if (variant !== 'paper' && variant !== 'owt')
    throw new ArgumentError(`alexnet: 'variant' must be 'paper' or 'owt', got ${JSON.stringify(variant)}`);
  const numClasses = positiveInt('numClasses', o.numClasses ?? 1000);
  const fcWidth = positiveInt('fcWidth', o.fcWidth ?? 4096);
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ArgumentError(`alexnet: 'seed' must be an integer, got ${JSON.stringify(seed)}`);
  const p = o.dropout ?? 0.5;
  if (!(p >= 0 && p < 1)) throw new ArgumentError(`alexnet: 'dropout' must be in [0, 1), got ${JSON.stringify(o.dropout)}`);
  const biasInit = o.biasInit ?? 'paper';
  if (biasInit !== 'paper' && biasInit !== 'caffe')
    throw new ArgumentError(`alexnet: 'biasInit' must be 'paper' or 'caffe', got ${JSON.stringify(biasInit)}`);
  const lrnConvention = o.lrnConvention ?? 'literal';
  if (lrnConvention !== 'literal' && lrnConvention !== 'per-size')
    throw new ArgumentError(
      `alexnet: 'lrnConvention' must be 'literal' (the paper's alpha) or 'per-size' (alpha/n, as PyTorch and Caffe), got ${JSON.stringify(lrnConvention)}`,
    );

  // Dropout masks are keyed by (seed, layer), so two dropout layers never share a mask stream.
  const drop = (name: string): LayerSpec[] => (p > 0 ? [{ kind: 'dropout', name, p, seed: paramSeed(seed, name) }] : []);
  const pool = (name: string): LayerSpec => ({ kind: 'maxpool2d', name, kernelSize: 3, stride: 2 });
  const relu = (name: string): LayerSpec => ({ kind: 'relu', name });
  const flatten: LayerSpec = { kind: 'flatten', name: 'flatten' };

  if (variant === 'owt') {
    // Exactly torchvision.models.alexnet: features.{0,3,6,8,10} and classifier.{1,4,6} in order.
    const conv = (
      name: string,
      inChannels: number,
      outChannels: number,
      kernelSize: number,
      stride: number,
      padding: number,
    ): LayerSpec => ({ kind: 'conv2d', name, inChannels, outChannels, kernelSize, stride, padding });
    const fc = (name: string, inFeatures: number, outFeatures: number): LayerSpec => ({ kind: 'linear', name, inFeatures, outFeatures });
    // One row per stage, as in the paper's table.
    // prettier-ignore
    const layers: LayerSpec[] = [
      conv('conv1', 3, 64, 11, 4, 2), relu('conv1.relu'), pool('pool1'),
      conv('conv2', 64, 192, 5, 1, 2), relu('conv2.relu'), pool('pool2'),
      conv('conv3', 192, 384, 3, 1, 1), relu('conv3.relu'),
      conv('conv4', 384, 256, 3, 1, 1), relu('conv4.relu'),
      conv('conv5', 256, 256, 3, 1, 1), relu('conv5.relu'), pool('pool5'),
      flatten,
      ...drop('drop6'), fc('fc6', 256 * 6 * 6, fcWidth), relu('fc6.relu'),
      ...drop('drop7'), fc('fc7', fcWidth, fcWidth), relu('fc7.relu'),
      fc('fc8', fcWidth, numClasses),
    ];
    return {
      name: 'alexnet-owt',
      inputShape: [3, 224, 224],
      criterion: 'softmax-cross-entropy',
      layers,
      config: { model: 'alexnet', variant, numClasses, seed, dropout: p, fcWidth },
    };
  }

  const weight: Init = { kind: 'normal', std: 0.01 };
  const one: Init = { kind: 'constant', value: biasInit === 'paper' ? 1 : 0.1 };
  const zero: Init = { kind: 'constant', value: 0 };
  const conv = (
    name: string,
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    stride: number,
    padding: number,
    groups: number,
    bias: Init,
  ): LayerSpec => ({ kind: 'conv2d', name, inChannels, outChannels, kernelSize, stride, padding, groups, init: weight, biasInit: bias });
  const fc = (name: string, inFeatures: number, outFeatures: number, bias: Init): LayerSpec => ({
    kind: 'linear',
    name,
    inFeatures,
    outFeatures,
    init: weight,
    biasInit: bias,
  });
  // summary: false: an elementwise-shaped step, folded into its conv's summary row.
  const lrn = (name: string): LayerSpec => ({ kind: 'lrn', name, ...LRN, alphaConvention: lrnConvention, summary: false });
  // One row per stage, as in the paper's table.
  // prettier-ignore
  const layers: LayerSpec[] = [
    conv('conv1', 3, 96, 11, 4, 0, 1, zero), relu('conv1.relu'), lrn('norm1'), pool('pool1'),
    conv('conv2', 96, 256, 5, 1, 2, 2, one), relu('conv2.relu'), lrn('norm2'), pool('pool2'),
    conv('conv3', 256, 384, 3, 1, 1, 1, zero), relu('conv3.relu'),
    conv('conv4', 384, 384, 3, 1, 1, 2, one), relu('conv4.relu'),
    conv('conv5', 384, 256, 3, 1, 1, 2, one), relu('conv5.relu'), pool('pool5'),
    flatten,
    fc('fc6', 256 * 6 * 6, fcWidth, one), relu('fc6.relu'), ...drop('drop6'),
    fc('fc7', fcWidth, fcWidth, one), relu('fc7.relu'), ...drop('drop7'),
    fc('fc8', fcWidth, numClasses, zero),
  ];
  return {
    name: 'alexnet',
    inputShape: [3, 227, 227],
    criterion: 'softmax-cross-entropy',
    layers,
    config: { model: 'alexnet', variant, numClasses, seed, dropout: p, fcWidth, biasInit, lrnConvention },
  };
}

export function alexnet(o: AlexNetOptions = {}): Model {
  return buildModel(alexnetSpec(o), o.device);
}
