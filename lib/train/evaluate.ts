/**
 * evaluate() and predict(): eval-mode passes that never block the event loop. The model's mode is
 * left as it was (Model.evaluateBatch / predictProbs restore it).
 */
import { ArgumentError } from '../errors.js';
import type { Model } from '../models/model.js';
import { DataParallel } from '../parallel/data-parallel.js';
import { Tensor } from '../tensor/tensor.js';
import type { BatchSource } from './types.js';

/** Mean loss and accuracy over one pass of `data` (a DataParallel scores each batch's shards on its replicas). */
export async function evaluate(
  target: Model | DataParallel,
  data: BatchSource,
): Promise<{ loss: number; accuracy: number; count: number }> {
  let loss = 0;
  let correct = 0;
  let count = 0;
  if (target instanceof DataParallel) {
    for await (const b of data.epoch(0)) {
      const r = target.evaluateBatch(b.x, b.shape, b.labels);
      loss += (await r.loss) * b.shape[0];
      correct += await r.correct;
      count += b.shape[0];
    }
    return { loss: loss / Math.max(1, count), accuracy: correct / Math.max(1, count), count };
  }
  const model = target;
  const dev = model.parameters()[0].value.device;
  for await (const b of data.epoch(0)) {
    const n = b.shape[0];
    const x = Tensor.fromArray(b.x, b.shape, { device: dev });
    const labels = Tensor.fromArray(b.labels, [n], { dtype: 'int32', device: dev });
    const r = model.evaluateBatch(x, labels);
    x.dispose();
    labels.dispose();
    loss += (await r.loss.data())[0] * n;
    correct += (await r.correct.data())[0];
    r.loss.dispose();
    r.correct.dispose();
    count += n;
  }
  return { loss: loss / Math.max(1, count), accuracy: correct / Math.max(1, count), count };
}

/** Class probabilities for a batch of normalised images [N, ...inputShape]. */
export async function predict(model: Model, x: Float32Array | Tensor, shape?: readonly number[]): Promise<Float32Array> {
  const dev = model.parameters()[0].value.device;
  let t: Tensor;
  if (x instanceof Tensor) t = x;
  else {
    const s = shape ?? [x.length / model.inputShape.reduce((a, b) => a * b, 1), ...model.inputShape];
    if (!Number.isInteger(s[0]))
      throw new ArgumentError(`predict: ${x.length} values are not a whole number of ${model.inputShape.join('x')} images`);
    t = Tensor.fromArray(x, s, { device: dev });
  }
  const p = model.predictProbs(t);
  if (t !== x) t.dispose();
  const out = (await p.data()) as Float32Array;
  p.dispose();
  return out;
}
