/** LRN options resolved for the kernels (the alpha convention applied), shared by ops/lrn.ts and ops/lrn-pool.ts. */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LrnOptions } from './lrn.js';
import { checkInt, checkNumber, describe } from './validate.js';

export interface Resolved {
  size: number;
  alphaEff: number;
  beta: number;
  k: number;
}

export function resolve(op: string, opts: LrnOptions | undefined): Resolved {
  const choices = `alphaConvention: 'per-size' (alpha/size: Caffe, PyTorch, ONNX) or 'literal' (alpha: the paper, TensorFlow)`;
  if (typeof opts !== 'object' || opts === null)
    throw new ArgumentError(`${op}: options are required, with ${choices}; got ${describe(opts)}`);
  const conv = opts.alphaConvention;
  if (conv !== 'per-size' && conv !== 'literal') throw new ArgumentError(`${op}: ${choices} must be given, got ${describe(conv)}`);
  const size = checkInt(op, 'size', opts.size ?? 5, 1);
  const alpha = checkNumber(op, 'alpha', opts.alpha ?? 1e-4, { min: 0 });
  const beta = checkNumber(op, 'beta', opts.beta ?? 0.75);
  // k > 0 and alpha >= 0 keep the scale positive, so scale^-beta is always finite.
  const k = checkNumber(op, 'k', opts.k ?? 2);
  if (!(k > 0)) throw new ArgumentError(`${op}: 'k' must be > 0, got ${k}`);
  return { size, alphaEff: conv === 'per-size' ? alpha / size : alpha, beta, k };
}

/** [N, C, ...spatial] as the kernel's [N, C, H, W] (spatial dims flattened into H). */
export function lrnGeom(op: string, name: string, x: Tensor): number[] {
  if (x.rank < 3) throw new ShapeError(`${op}: '${name}' must be [N, C, H, W] (rank >= 3), got ${fmtShape(x.shape)}`);
  const spatial = x.shape.slice(2).reduce((a, b) => a * b, 1);
  return [x.shape[0], x.shape[1], spatial, 1];
}
