/**
 * Local response normalization across channels (AlexNet, section 3.3):
 *
 *   b_c = a_c / (k + alphaEff * sum_{c' in window(c)} a_{c'}^2)^beta
 *
 * window(c) = c - floor(size/2) .. c + floor((size-1)/2), clipped to the channels (PyTorch's
 * window, which for an even size reaches one channel further back than forward).
 *
 * The alpha convention must be named, because the two in use differ by a factor of `size`:
 * - 'per-size': alphaEff = alpha / size (Caffe, PyTorch's local_response_norm, ONNX);
 * - 'literal':  alphaEff = alpha (the paper, TensorFlow, tfjs).
 * The paper's k = 2, size = 5, alpha = 1e-4, beta = 0.75 are the defaults of the other options.
 */
import { ArgumentError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { lrnGeom, resolve } from './lrn-options.js';
import { checkFlag, checkTensor, sameDevice, sameShape } from './validate.js';

const nb = native;

export type AlphaConvention = 'per-size' | 'literal';

export interface LrnOptions {
  /** Which alpha is meant: 'per-size' divides it by size (PyTorch, Caffe, ONNX), 'literal' does not (paper, TF). */
  alphaConvention: AlphaConvention;
  /** Channels in the window, n (default 5). */
  size?: number;
  /** Default 1e-4. */
  alpha?: number;
  /** Default 0.75. */
  beta?: number;
  /** Additive constant, > 0 (default 2, the paper's; PyTorch's own default is 1). */
  k?: number;
}

/** The forward kernel: y, and the scale when keepScale. */
function forward(op: string, x: Tensor, opts: LrnOptions, keepScale: boolean): { y: Tensor; scale: Tensor | null } {
  checkTensor(op, 'x', x);
  const geom = lrnGeom(op, 'x', x);
  const p = resolve(op, opts);
  const y = Tensor.empty(x.shape, 'float32', x.device);
  const scale = keepScale ? Tensor.empty(x.shape, 'float32', x.device) : null;
  nb.lrn(x.device.stream, x.handle(), y.handle(), scale?.handle() ?? null, geom, p.size, p.alphaEff, p.beta, p.k);
  return { y, scale };
}

/** LRN forward. Returns y and the scale k + alphaEff * sum(a^2), which lrnBackward can use. */
export function lrn(x: Tensor, opts: LrnOptions): { y: Tensor; scale: Tensor } {
  return forward('lrn', x, opts, true) as { y: Tensor; scale: Tensor };
}

/**
 * LRN forward without the scale: y only. lrnBackward then takes null for the scale and
 * recomputes it from x, bit for bit what lrn() would have returned: a network keeps one tensor
 * less per LRN (AlexNet at batch 64: 122 MB) and the forward writes one less.
 */
export function lrnOutput(x: Tensor, opts: LrnOptions): Tensor {
  return forward('lrnOutput', x, opts, false).y;
}

export interface LrnBackwardOptions {
  /**
   * x is a ReLU's output: dx is also taken back through that ReLU (0 where x <= 0), exactly
   * what reluBackward(lrnBackward(...), x) gives, in the same pass (a network's backward then
   * skips one pass over the tensor and the tensor itself).
   */
  reluInput?: boolean;
}

/**
 * dx of LRN, from the forward's x, y and scale and the same options. A null scale is recomputed
 * from x, and y with it (the same bits the forward made), so y may then be null too: a network
 * need keep neither.
 */
export function lrnBackward(
  dy: Tensor,
  x: Tensor,
  y: Tensor | null,
  scale: Tensor | null,
  opts: LrnOptions,
  back: LrnBackwardOptions = {},
): Tensor {
  const op = 'lrnBackward';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'x', x);
  if (y !== null) checkTensor(op, 'y', y);
  if (scale !== null) checkTensor(op, 'scale', scale);
  if (scale !== null && y === null)
    throw new ArgumentError(`${op}: 'y' is required with a kept 'scale' (only a recomputed scale recomputes y)`);
  sameDevice(op, { dy, x, ...(y ? { y } : {}), ...(scale ? { scale } : {}) });
  sameShape(op, 'dy', dy, 'x', x);
  if (y !== null) sameShape(op, 'y', y, 'x', x);
  if (scale !== null) sameShape(op, 'scale', scale, 'x', x);
  const geom = lrnGeom(op, 'x', x);
  const p = resolve(op, opts);
  const reluInput = checkFlag(op, 'reluInput', back.reluInput, false);
  const dx = Tensor.empty(x.shape, 'float32', x.device);
  nb.lrnBackward(
    x.device.stream,
    dy.handle(),
    x.handle(),
    y?.handle() ?? null,
    scale?.handle() ?? null,
    dx.handle(),
    geom,
    p.size,
    p.alphaEff,
    p.beta,
    p.k,
    reluInput,
  );
  return dx;
}
