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
import { ArgumentError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkNumber, checkTensor, describe, sameDevice, sameShape } from './validate.js';

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

/** Updates w (and v) in place and returns w. v may be null when momentum is 0. */
export function sgdStep(w: Tensor, g: Tensor, v: Tensor | null, opts: SgdStepOptions): Tensor {
  const op = 'sgdStep';
  checkTensor(op, 'w', w);
  checkTensor(op, 'g', g);
  if (v != null) checkTensor(op, 'v', v);
  sameDevice(op, { w, g, v });
  sameShape(op, 'w', w, 'g', g);
  if (v != null) sameShape(op, 'w', w, 'v', v);
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
  if (w === v || g === v || w === g) throw new ArgumentError(`${op}: 'w', 'g' and 'v' must be distinct tensors`);
  const s = w.device.stream;
  const hv = v != null ? v.handle(op, 'v') : null;
  if (form === 'pytorch') nb.sgdStepPytorch(s, w.handle(op, 'w'), g.handle(op, 'g'), hv, w.size, lr, momentum, weightDecay, nesterov);
  else nb.sgdStepPaper(s, w.handle(op, 'w'), g.handle(op, 'g'), hv, w.size, lr, momentum, weightDecay);
  return w;
}
