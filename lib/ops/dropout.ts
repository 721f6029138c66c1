/**
 * Dropout with a counter-based mask (Philox4x32-10): element i is kept iff
 * uniform(philoxWord(seed, offset, i)) >= p, where uniform takes the word's top 24 bits / 2^24.
 * The same (seed, offset) gives the same mask on every device and any thread count.
 *
 * Conventions (`mode`):
 * - 'inverted' (default): training scales kept values by 1/(1-p); evaluation is the identity.
 * - 'paper' (Krizhevsky et al. 2012): training keeps values unscaled; evaluation multiplies by 1-p.
 *
 * The mask is a float32 tensor of x's shape holding 0 or the scale applied to kept values, so
 * backward is one multiply: dx = dy * mask. In evaluation every element of the mask is the
 * evaluation scale (1 or 1-p), which keeps backward valid there too.
 */
import { ArgumentError } from '../errors.js';
import { native } from '../native.js';
import { nextStream } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { checkNumber, checkTensor, describe, sameDevice, sameShape } from './validate.js';

const nb = native;

export type DropoutMode = 'inverted' | 'paper';

export interface DropoutOptions {
  /** Probability of dropping an element, in [0, 1]. Default 0.5. */
  p?: number;
  /** Philox key. Without it the global seed (manualSeed) and a fresh offset are used. */
  seed?: number | bigint;
  /** Philox stream offset (needs an explicit seed). Default 0. */
  offset?: number | bigint;
  /** Training draws a mask; evaluation applies the mode's fixed scale. Default true. */
  training?: boolean;
  /** Default 'inverted'. */
  mode?: DropoutMode;
}

export interface DropoutResult {
  y: Tensor;
  /** float32, x's shape: 0 for dropped elements, the applied scale for kept ones. */
  mask: Tensor;
}

const U64_MAX = (1n << 64n) - 1n;

function checkU64(op: string, name: string, v: unknown): number | bigint {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw new ArgumentError(`${op}: '${name}' must fit in 64 unsigned bits, got ${v}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new ArgumentError(`${op}: '${name}' must be a non-negative safe integer or a bigint, got ${describe(v)}`);
  return v;
}

/** The scale kept elements get while training, for p and mode. */
export function dropoutTrainScale(p: number, mode: DropoutMode = 'inverted'): number {
  if (mode === 'paper') return 1;
  return p < 1 ? 1 / (1 - p) : 0;
}

/** The scale every element gets in evaluation, for p and mode. */
export function dropoutEvalScale(p: number, mode: DropoutMode = 'inverted'): number {
  return mode === 'paper' ? 1 - p : 1;
}

export function dropout(x: Tensor, opts: DropoutOptions = {}): DropoutResult {
  const op = 'dropout';
  checkTensor(op, 'x', x);
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(opts)}`);
  const p = checkNumber(op, 'p', opts.p ?? 0.5, { min: 0, max: 1 });
  const mode = opts.mode ?? 'inverted';
  if (mode !== 'inverted' && mode !== 'paper')
    throw new ArgumentError(`${op}: 'mode' must be 'inverted' or 'paper', got ${describe(mode)}`);
  const training = opts.training ?? true;
  if (typeof training !== 'boolean') throw new ArgumentError(`${op}: 'training' must be a boolean, got ${describe(training)}`);
  let seed: number | bigint = 0;
  let offset: number | bigint = 0;
  if (opts.seed === undefined) {
    if (opts.offset !== undefined) throw new ArgumentError(`${op}: 'offset' needs an explicit 'seed'`);
    // Evaluation draws nothing, so it must not advance the global stream either: interleaving
    // validation passes with training leaves the training masks unchanged.
    if (training) ({ seed, offset } = nextStream());
  } else {
    seed = checkU64(op, 'seed', opts.seed);
    offset = checkU64(op, 'offset', opts.offset ?? 0);
  }

  const y = Tensor.empty(x.shape, 'float32', x.device);
  const mask = Tensor.empty(x.shape, 'float32', x.device);
  const s = x.device.stream;
  if (training) {
    nb.dropout(s, x.handle(op, 'x'), y.handle(), mask.handle(), x.size, p, dropoutTrainScale(p, mode), seed, offset);
  } else {
    native.fill(s, mask.handle(), x.size, dropoutEvalScale(p, mode));
    native.mul(s, x.handle(op, 'x'), mask.handle(), y.handle(), x.size);
  }
  return { y, mask };
}

/** dy * mask, with the mask that dropout returned. */
export function dropoutBackward(dy: Tensor, mask: Tensor): Tensor {
  const op = 'dropoutBackward';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'mask', mask);
  sameDevice(op, { dy, mask });
  sameShape(op, 'dy', dy, 'mask', mask);
  const dx = Tensor.empty(dy.shape, 'float32', dy.device);
  nb.dropoutBackward(dy.device.stream, dy.handle(op, 'dy'), mask.handle(op, 'mask'), dx.handle(), dy.size);
  return dx;
}
