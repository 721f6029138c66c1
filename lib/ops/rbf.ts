/**
 * LeNet-5's Euclidean RBF output (y[n,i] = sum_j (x[n,j] - w[i,j])^2, fixed codes w [K, F]) and
 * its MAP criterion E = mean_n [ y[n,label] + log(exp(-J) + sum_i exp(-y[n,i])) ] (LeCun 1998, eq. 9).
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkNumber, checkTensor, sameDevice } from './validate.js';

const nb = native;

function dims(op: string, x: Tensor, w: Tensor): [number, number, number] {
  checkTensor(op, 'x', x, { rank: 2 });
  checkTensor(op, 'w', w, { rank: 2 });
  sameDevice(op, { x, w });
  if (x.shape[1] !== w.shape[1])
    throw new ShapeError(`${op}: 'x' ${fmtShape(x.shape)} and codes 'w' ${fmtShape(w.shape)} must have the same feature size`);
  return [x.shape[0], x.shape[1], w.shape[0]];
}

export function rbf(x: Tensor, w: Tensor): Tensor {
  const [N, F, K] = dims('rbf', x, w);
  const y = Tensor.empty([N, K], 'float32', x.device);
  nb.rbfForward(x.device.stream, x.handle(), w.handle(), y.handle(), N, F, K);
  return y;
}

export function rbfBackward(dy: Tensor, x: Tensor, w: Tensor): Tensor {
  const [N, F, K] = dims('rbfBackward', x, w);
  checkTensor('rbfBackward', 'dy', dy, { rank: 2 });
  // dy on another CPU stream would be read before that stream has written it (all CPU streams
  // share host memory, so the native side cannot tell).
  sameDevice('rbfBackward', { x, dy });
  if (dy.shape[0] !== N || dy.shape[1] !== K)
    throw new ShapeError(
      `rbfBackward: 'dy' ${fmtShape(dy.shape)} must be [${N}, ${K}] for 'x' ${fmtShape(x.shape)} and 'w' ${fmtShape(w.shape)}`,
    );
  const dx = Tensor.empty([N, F], 'float32', x.device);
  nb.rbfBackward(x.device.stream, dy.handle(), x.handle(), w.handle(), dx.handle(), N, F, K);
  return dx;
}

/** Returns the mean loss [1], the count of correct argmin predictions [1] and dE/dy [N, K]. */
export function rbfCriterion(y: Tensor, labels: Tensor, opts: { j?: number } = {}): { loss: Tensor; correct: Tensor; dy: Tensor } {
  const op = 'rbfCriterion';
  checkTensor(op, 'y', y, { rank: 2 });
  checkTensor(op, 'labels', labels, { dtype: 'int32', rank: 1 });
  sameDevice(op, { y, labels });
  if (labels.shape[0] !== y.shape[0])
    throw new ShapeError(`${op}: 'labels' ${fmtShape(labels.shape)} must have one label per row of 'y' ${fmtShape(y.shape)}`);
  const J = checkNumber(op, 'j', opts.j ?? 0.1, { min: 0 });
  if (y.shape[1] < 1) throw new ArgumentError(`${op}: 'y' needs at least one class`);
  const [N, K] = y.shape;
  const loss = Tensor.empty([1], 'float32', y.device);
  const correct = Tensor.empty([1], 'float32', y.device);
  const dy = Tensor.empty([N, K], 'float32', y.device);
  nb.rbfCriterion(y.device.stream, y.handle(), labels.handle(), loss.handle(), correct.handle(), dy.handle(), N, K, J);
  return { loss, correct, dy };
}
