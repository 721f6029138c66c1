/** A seeded random float32 tensor (randomArray's values, uniform in [lo, hi)). */
import { Tensor, type Device } from '../../lib/index.js';
import { randomArray } from './rng.js';

export function randomTensor(shape: readonly number[], seed: number, opts: { lo?: number; hi?: number; device?: Device } = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(Float32Array.from(randomArray(n, seed, opts.lo ?? -1, opts.hi ?? 1)), [...shape], { device: opts.device });
}
