/**
 * Initializers. Each takes the parameter shape, its fan-in and a seed, and returns a new tensor.
 * Seeds are derived per parameter name, so a model's weights depend only on (model seed, name).
 */
import { ArgumentError } from '../errors.js';
import type { Device } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';

export type Init =
  | { kind: 'lecun-uniform' } // U(-2.4/F, 2.4/F): LeNet-5 (1998)
  | { kind: 'torch-default' } // U(-1/sqrt(F), 1/sqrt(F)): PyTorch's Conv2d/Linear default
  | { kind: 'he-normal' } // N(0, 2/F)
  | { kind: 'normal'; std: number; mean?: number } // AlexNet: N(0, 0.01^2)
  | { kind: 'constant'; value: number };

export function initTensor(init: Init, shape: Shape, fanIn: number, seed: number, dev: Device): Tensor {
  const F = Math.max(1, fanIn);
  switch (init.kind) {
    case 'lecun-uniform':
      return Tensor.uniform(shape, { seed, low: -2.4 / F, high: 2.4 / F, device: dev });
    case 'torch-default': {
      const b = 1 / Math.sqrt(F);
      return Tensor.uniform(shape, { seed, low: -b, high: b, device: dev });
    }
    case 'he-normal':
      return Tensor.randn(shape, { seed, std: Math.sqrt(2 / F), device: dev });
    case 'normal':
      return Tensor.randn(shape, { seed, mean: init.mean ?? 0, std: init.std, device: dev });
    case 'constant':
      return Tensor.full(shape, init.value, { device: dev });
    default:
      throw new ArgumentError(`init: unknown initializer ${JSON.stringify(init)}`);
  }
}

/** A 32-bit seed from a model seed and a parameter name (FNV-1a). */
export function paramSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return (h ^ Math.floor(seed / 2 ** 32)) >>> 0;
}
