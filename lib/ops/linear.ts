/**
 * Fully connected layer in PyTorch's layout: y = x W^T + b with W [out, in], b [out].
 * x is [..., in] (leading dimensions are flattened into N rows, as torch.nn.functional.linear),
 * y is [..., out].
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkInto, checkTensor, describe, outputInto, sameDevice } from './validate.js';

const nb = native;

interface Dims {
  N: number;
  inF: number;
  outF: number;
  yShape: number[];
}

function dims(op: string, x: Tensor, w: Tensor): Dims {
  if (x.rank < 1) throw new ShapeError(`${op}: 'x' must be [..., in], got shape ${fmtShape(x.shape)}`);
  if (w.rank !== 2) throw new ShapeError(`${op}: 'w' must be [out, in], got shape ${fmtShape(w.shape)}`);
  const [outF, inF] = w.shape;
  if (x.shape[x.rank - 1] !== inF)
    throw new ShapeError(`${op}: 'x' ${fmtShape(x.shape)} must end in w's in-features ${inF} ('w' ${fmtShape(w.shape)})`);
  const N = inF > 0 ? x.size / inF : x.shape.slice(0, -1).reduce((a, d) => a * d, 1);
  return { N, inF, outF, yShape: [...x.shape.slice(0, -1), outF] };
}

function checkBias(op: string, b: Tensor, outF: number): void {
  if (b.rank !== 1 || b.shape[0] !== outF)
    throw new ShapeError(`${op}: 'b' must be [${outF}] to match 'w''s out-features, got shape ${fmtShape(b.shape)}`);
}

/** x W^T + b. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  const op = 'linear';
  checkTensor(op, 'x', x);
  checkTensor(op, 'w', w);
  if (b != null) checkTensor(op, 'b', b);
  sameDevice(op, { x, w, b });
  const d = dims(op, x, w);
  if (b != null) checkBias(op, b, d.outF);
  const y = Tensor.empty(d.yShape, 'float32', x.device);
  nb.linear(x.device.stream, x.handle(op, 'x'), w.handle(op, 'w'), b != null ? b.handle(op, 'b') : null, y.handle(), d.N, d.inF, d.outF);
  return y;
}

export interface LinearBackwardOptions {
  /** Compute dx (false for a first layer, whose input needs no gradient). Default true. */
  needInputGrad?: boolean;
  /** Compute db. Default true. */
  hasBias?: boolean;
  /** Tensors to overwrite with dw ([out, in]) and db ([out]) instead of new ones (a model's gradient views). */
  into?: { dw?: Tensor; db?: Tensor };
}

export interface LinearGrads {
  dx?: Tensor;
  dw: Tensor;
  db?: Tensor;
}

/** dx = dy W, dW = dy^T x, db = column sums of dy. */
export function linearBackward(dy: Tensor, x: Tensor, w: Tensor, opts: LinearBackwardOptions = {}): LinearGrads {
  const op = 'linearBackward';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'x', x);
  checkTensor(op, 'w', w);
  sameDevice(op, { dy, x, w });
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(opts)}`);
  const needInputGrad = opts.needInputGrad ?? true;
  const hasBias = opts.hasBias ?? true;
  if (typeof needInputGrad !== 'boolean' || typeof hasBias !== 'boolean')
    throw new ArgumentError(`${op}: 'needInputGrad' and 'hasBias' must be booleans`);
  const d = dims(op, x, w);
  if (dy.rank !== d.yShape.length || dy.shape.some((v, i) => v !== d.yShape[i]))
    throw new ShapeError(
      `${op}: 'dy' ${fmtShape(dy.shape)} must be ${fmtShape(d.yShape)} for 'x' ${fmtShape(x.shape)} and 'w' ${fmtShape(w.shape)}`,
    );
  const s = dy.device.stream;
  const hdy = dy.handle(op, 'dy');
  checkInto(op, 'dw', opts.into?.dw, w.shape, w.device);
  if (hasBias) checkInto(op, 'db', opts.into?.db, [d.outF], dy.device);
  if (opts.into?.dw && opts.into.dw === opts.into.db) throw new ArgumentError(`${op}: 'into.dw' and 'into.db' must be distinct tensors`);
  const grads: LinearGrads = { dw: outputInto(opts.into?.dw, w.shape, w.device) };
  nb.linearBackwardWeight(s, hdy, x.handle(op, 'x'), grads.dw.handle(), d.N, d.inF, d.outF, 0);
  if (needInputGrad) {
    grads.dx = Tensor.empty(x.shape, 'float32', x.device);
    nb.linearBackwardData(s, hdy, w.handle(op, 'w'), grads.dx.handle(), d.N, d.inF, d.outF);
  }
  if (hasBias) {
    grads.db = outputInto(opts.into?.db, [d.outF], dy.device);
    nb.linearBackwardBias(s, hdy, grads.db.handle(), d.N, d.outF, 0);
  }
  return grads;
}
