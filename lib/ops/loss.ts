/**
 * Softmax and the fused softmax cross-entropy over logits [N, K] with int32 labels [N].
 * Forward returns the mean loss (a stable log-sum-exp in double), the count of rows whose label is
 * the first argmax, optionally the top-k count, and the probabilities that backward needs:
 * dlogits = scale * (probs - onehot(labels)) / N.
 *
 * Labels given as a plain array are checked here. Labels in a tensor cannot be read without a
 * wait, so the kernel checks them: a label outside [0, K) fails the op, and the error (naming the
 * op, the row and the label) surfaces at the next wait on the device.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkInt, checkNumber, checkTensor, describe, sameDevice, sameShape } from './validate.js';

const nb = native;

/** Labels as a tensor, or as plain integers (checked here, then copied to the device). */
export type Labels = Tensor | ArrayLike<number>;

function rowsOf(op: string, name: string, x: Tensor): { N: number; K: number } {
  if (x.rank < 1) throw new ShapeError(`${op}: '${name}' must have at least one dimension, got shape ${fmtShape(x.shape)}`);
  const K = x.shape[x.rank - 1];
  return { N: K > 0 ? x.size / K : 0, K };
}

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  checkTensor('softmax', 'x', x);
  const { N, K } = rowsOf('softmax', 'x', x);
  const y = Tensor.empty(x.shape, 'float32', x.device);
  nb.softmax(x.device.stream, x.handle('softmax', 'x'), y.handle(), N, K);
  return y;
}

/** Gradient of softmax from its output y: y * (dy - sum(dy * y)) over the last dimension. */
export function softmaxBackward(dy: Tensor, y: Tensor): Tensor {
  const op = 'softmaxBackward';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'y', y);
  sameDevice(op, { dy, y });
  sameShape(op, 'dy', dy, 'y', y);
  const { N, K } = rowsOf(op, 'y', y);
  const dx = Tensor.empty(y.shape, 'float32', y.device);
  nb.softmaxBackward(dy.device.stream, dy.handle(op, 'dy'), y.handle(op, 'y'), dx.handle(), N, K);
  return dx;
}

function checkLogits(op: string, name: string, x: Tensor): { N: number; K: number } {
  checkTensor(op, name, x);
  if (x.rank !== 2 || x.shape[0] < 1 || x.shape[1] < 1)
    throw new ShapeError(`${op}: '${name}' must be [N, K] with N, K >= 1, got shape ${fmtShape(x.shape)}`);
  return { N: x.shape[0], K: x.shape[1] };
}

/**
 * The labels as an int32 tensor on `like`'s device, and whether this call made it (so the caller
 * disposes it once the op is queued; the queued op keeps the bytes alive).
 */
function labelTensor(op: string, labels: Labels, N: number, K: number, like: Tensor): { t: Tensor; owned: boolean } {
  if (labels instanceof Tensor) {
    checkTensor(op, 'labels', labels, { dtype: 'int32' });
    sameDevice(op, { logits: like, labels });
    if (labels.rank !== 1 || labels.shape[0] !== N)
      throw new ShapeError(
        `${op}: 'labels' ${fmtShape(labels.shape)} must be [${N}] for ${op === 'softmaxCrossEntropy' ? 'logits' : 'probs'} ${fmtShape(like.shape)}`,
      );
    return { t: labels, owned: false };
  }
  if (labels === null || typeof labels !== 'object' || typeof (labels as ArrayLike<number>).length !== 'number')
    throw new ArgumentError(`${op}: 'labels' must be an int32 Tensor or an array of integers, got ${describe(labels)}`);
  if (labels.length !== N)
    throw new ShapeError(
      `${op}: 'labels' has ${labels.length} entries but ${op === 'softmaxCrossEntropy' ? 'logits' : 'probs'} ${fmtShape(like.shape)} has ${N} rows`,
    );
  for (let i = 0; i < N; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= K) throw new ArgumentError(`${op}: label ${describe(v)} at row ${i} is outside [0, ${K})`);
  }
  return { t: Tensor.fromArray(Int32Array.from(labels), [N], { dtype: 'int32', device: like.device }), owned: true };
}

export interface SoftmaxCrossEntropyOptions {
  /** Also count rows whose label is among the k largest logits (ties go to the lower index). */
  topk?: number;
}

export interface SoftmaxCrossEntropyResult {
  /** [1]: mean over the batch of -log softmax(logits)[label]. */
  loss: Tensor;
  /** [1]: number of rows whose label is the (first) argmax; divide by N for accuracy. */
  correct: Tensor;
  /** [1]: number of rows whose label ranks within the top `topk`; present when topk was given. */
  correctTopK?: Tensor;
  /** [N, K]: softmax(logits), saved for backward. */
  probs: Tensor;
}

export function softmaxCrossEntropy(logits: Tensor, labels: Labels, opts: SoftmaxCrossEntropyOptions = {}): SoftmaxCrossEntropyResult {
  const op = 'softmaxCrossEntropy';
  const { N, K } = checkLogits(op, 'logits', logits);
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(opts)}`);
  const k = opts.topk === undefined ? 0 : checkInt(op, 'topk', opts.topk, 1);
  const lab = labelTensor(op, labels, N, K, logits);
  const dev = logits.device;
  const probs = Tensor.empty(logits.shape, 'float32', dev);
  const loss = Tensor.empty([1], 'float32', dev);
  const correct = Tensor.empty([1], 'float32', dev);
  const correctTopK = k > 0 ? Tensor.empty([1], 'float32', dev) : undefined;
  try {
    nb.softmaxCrossEntropy(
      dev.stream,
      logits.handle(op, 'logits'),
      lab.t.handle(op, 'labels'),
      probs.handle(),
      loss.handle(),
      correct.handle(),
      correctTopK ? correctTopK.handle() : null,
      N,
      K,
      k,
    );
  } finally {
    if (lab.owned) lab.t.dispose();
  }
  const out: SoftmaxCrossEntropyResult = { loss, correct, probs };
  if (correctTopK) out.correctTopK = correctTopK;
  return out;
}

export interface SoftmaxCrossEntropyBackwardOptions {
  /** Upstream gradient of the (mean) loss. Default 1. */
  scale?: number;
}

/** dlogits = scale * (probs - onehot(labels)) / N. */
export function softmaxCrossEntropyBackward(probs: Tensor, labels: Labels, opts: SoftmaxCrossEntropyBackwardOptions = {}): Tensor {
  const op = 'softmaxCrossEntropyBackward';
  const { N, K } = checkLogits(op, 'probs', probs);
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(opts)}`);
  const scale = checkNumber(op, 'scale', opts.scale ?? 1);
  const lab = labelTensor(op, labels, N, K, probs);
  const dlogits = Tensor.empty(probs.shape, 'float32', probs.device);
  try {
    nb.softmaxCrossEntropyBackward(
      probs.device.stream,
      probs.handle(op, 'probs'),
      lab.t.handle(op, 'labels'),
      dlogits.handle(),
      N,
      K,
      scale,
    );
  } finally {
    if (lab.owned) lab.t.dispose();
  }
  return dlogits;
}
