/**
 * One fused SGD step (momentum, weight decay) over a parameter w, its gradient g and its
 * velocity v, updating w and v in place in one pass.
 *
 * form 'pytorch' (torch.optim.SGD, dampening 0; v starts at zero):
 *   d = g + wd*w;  v = mu*v + d;  w -= lr * (nesterov ? d + mu*v : v)
 * form 'paper' (Krizhevsky et al. 2012, the AlexNet update):
 *   v = mu*v - wd*lr*w - lr*g;  w += v
 * With a constant lr both give the same weights (the paper's v is -lr times PyTorch's); they
 * differ when the learning rate changes, since the paper's velocity already carries the old lr.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkInt, checkNumber, checkTensor, describe, sameDevice, sameShape } from './validate.js';

const nb = native;

export type SgdForm = 'pytorch' | 'paper';

export interface SgdStepOptions {
  lr: number;
  /** Default 0. */
  momentum?: number;
  /** L2 penalty coefficient. Default 0. */
  weightDecay?: number;
  /** Default 'pytorch'. */
  form?: SgdForm;
  /** Nesterov momentum (form 'pytorch' only, needs momentum > 0). Default false. */
  nesterov?: boolean;
}

/** The step's options, checked: numbers in range, a known form, nesterov only where it applies. */
function rule(op: string, opts: SgdStepOptions, v: Tensor | null): Required<SgdStepOptions> {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(opts)}`);
  const lr = checkNumber(op, 'lr', opts.lr, { min: 0 });
  const momentum = checkNumber(op, 'momentum', opts.momentum ?? 0, { min: 0 });
  const weightDecay = checkNumber(op, 'weightDecay', opts.weightDecay ?? 0, { min: 0 });
  const form = opts.form ?? 'pytorch';
  if (form !== 'pytorch' && form !== 'paper') throw new ArgumentError(`${op}: 'form' must be 'pytorch' or 'paper', got ${describe(form)}`);
  const nesterov = opts.nesterov ?? false;
  if (typeof nesterov !== 'boolean') throw new ArgumentError(`${op}: 'nesterov' must be a boolean, got ${describe(nesterov)}`);
  if (nesterov && (form !== 'pytorch' || momentum === 0))
    throw new ArgumentError(`${op}: 'nesterov' needs form 'pytorch' and momentum > 0 (got form '${form}', momentum ${momentum})`);
  if (momentum !== 0 && v == null) throw new ArgumentError(`${op}: momentum ${momentum} needs a velocity tensor 'v'`);
  return { lr, momentum, weightDecay, form, nesterov };
}

/** Updates w (and v) in place and returns w. v may be null when momentum is 0. */
export function sgdStep(w: Tensor, g: Tensor, v: Tensor | null, opts: SgdStepOptions): Tensor {
  const op = 'sgdStep';
  checkTensor(op, 'w', w);
  checkTensor(op, 'g', g);
  if (v != null) checkTensor(op, 'v', v);
  sameDevice(op, { w, g, v });
  sameShape(op, 'w', w, 'g', g);
  if (v != null) sameShape(op, 'w', w, 'v', v);
  const { lr, momentum, weightDecay, form, nesterov } = rule(op, opts, v);
  if (w === v || g === v || w === g) throw new ArgumentError(`${op}: 'w', 'g' and 'v' must be distinct tensors`);
  const s = w.device.stream;
  const hv = v != null ? v.handle(op, 'v') : null;
  if (form === 'pytorch') nb.sgdStepPytorch(s, w.handle(op, 'w'), g.handle(op, 'g'), hv, w.size, lr, momentum, weightDecay, nesterov);
  else nb.sgdStepPaper(s, w.handle(op, 'w'), g.handle(op, 'g'), hv, w.size, lr, momentum, weightDecay);
  return w;
}

/**
 * One range of flat buffers that sgdFlat updates: elements [offset, offset + size), with the
 * step's weight decay (decay true) or none (noDecay parameters).
 */
export interface SgdSegment {
  offset: number;
  size: number;
  decay: boolean;
}

/**
 * Segments checked once (sorted, disjoint, inside `length` elements) and packed as the binding
 * reads them, so that a step per batch re-checks nothing but its scalars. Make with sgdSegments.
 */
export interface SgdSegments {
  readonly length: number;
  readonly count: number;
  /** @internal [offset, size, decay] per segment. */
  readonly packed: readonly number[];
}

/** Checks segments for buffers of `length` elements and packs them for sgdFlat. */
export function sgdSegments(segments: readonly SgdSegment[], length: number): SgdSegments {
  const op = 'sgdSegments';
  checkInt(op, 'length', length, 0);
  if (!Array.isArray(segments))
    throw new ArgumentError(`${op}: 'segments' must be an array of { offset, size, decay }, got ${describe(segments)}`);
  const packed: number[] = [];
  let end = 0;
  for (const [i, s] of segments.entries()) {
    const offset = checkInt(op, `segments[${i}].offset`, s?.offset, 0);
    const size = checkInt(op, `segments[${i}].size`, s?.size, 0);
    if (typeof s.decay !== 'boolean') throw new ArgumentError(`${op}: 'segments[${i}].decay' must be a boolean, got ${describe(s.decay)}`);
    if (offset < end)
      throw new ArgumentError(
        `${op}: segment ${i} starts at ${offset}, inside the previous one (which ends at ${end}); segments must be sorted and disjoint`,
      );
    if (offset + size > length)
      throw new ShapeError(`${op}: segment ${i} [${offset}, ${offset + size}) lies outside buffers of ${length} elements`);
    packed.push(offset, size, s.decay ? 1 : 0);
    end = offset + size;
  }
  return Object.freeze({ length, count: segments.length, packed: Object.freeze(packed) });
}

/**
 * The fused step of sgdStep over flat buffers w, g, v (v null without momentum), for the
 * elements of `segments` only, in one queued op: each segment with weightDecay or, when its
 * decay is false, none. Elements between segments (alignment padding) are not touched.
 */
export function sgdFlat(w: Tensor, g: Tensor, v: Tensor | null, segments: SgdSegments, opts: SgdStepOptions): Tensor {
  const op = 'sgdFlat';
  checkTensor(op, 'w', w);
  checkTensor(op, 'g', g);
  if (v != null) checkTensor(op, 'v', v);
  sameDevice(op, { w, g, v });
  if (g.size !== w.size || (v != null && v.size !== w.size))
    throw new ShapeError(
      `${op}: 'w' (${w.size}), 'g' (${g.size})${v != null ? ` and 'v' (${v.size})` : ''} must hold the same number of elements`,
    );
  if (segments === null || typeof segments !== 'object' || !Array.isArray(segments.packed))
    throw new ArgumentError(`${op}: 'segments' must come from sgdSegments(), got ${describe(segments)}`);
  if (segments.length !== w.size)
    throw new ShapeError(`${op}: 'segments' were made for buffers of ${segments.length} elements but 'w' holds ${w.size}`);
  const r = rule(op, opts, v);
  if (w === v || g === v || w === g) throw new ArgumentError(`${op}: 'w', 'g' and 'v' must be distinct tensors`);
  const hv = v != null ? v.handle(op, 'v') : null;
  nb.sgdFlat(
    w.device.stream,
    w.handle(op, 'w'),
    g.handle(op, 'g'),
    hv,
    w.size,
    segments.packed as number[],
    r.lr,
    r.momentum,
    r.weightDecay,
    r.form === 'paper',
    r.nesterov,
  );
  return w;
}
