/**
 * Model: a Sequential network, its per-sample input shape and its criterion. train/eval mode,
 * summary(), one training step's forward + loss + backward, and prediction. No math here.
 */
import { ConvkitError, ShapeError, fmtShape } from '../errors.js';
import type { Parameter } from '../layers/layer.js';
import type { Sequential } from '../layers/sequential.js';
import { summarize, type Summary } from '../layers/summary.js';
import * as ops from '../ops/index.js';
import { Tensor, type Shape } from '../tensor/tensor.js';

export interface NamedArray {
  shape: readonly number[];
  data: Float32Array;
}

export type CriterionKind = 'softmax-cross-entropy' | 'rbf-map';

export interface StepResult {
  /** [1] mean loss of the batch. */
  loss: Tensor;
  /** [1] number of correct predictions. */
  correct: Tensor;
}

export class Model {
  constructor(
    readonly name: string,
    readonly net: Sequential,
    readonly inputShape: Shape,
    readonly criterion: CriterionKind,
    /** Options that rebuild this model (stored in checkpoints). */
    readonly config: Record<string, unknown>,
  ) {
    net.layers[0].needInputGrad = false;
  }

  summary(): Summary {
    return summarize(this.net.layers, this.inputShape);
  }

  parameters(): Parameter[] {
    return this.net.parameters();
  }

  train(mode = true): this {
    this.net.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  private checkInput(x: Tensor): void {
    const s = x.shape;
    if (s.length !== this.inputShape.length + 1 || this.inputShape.some((d, i) => s[i + 1] !== d))
      throw new ShapeError(`${this.name}: input must be [N, ${this.inputShape.join(', ')}], got ${fmtShape(s)}`);
  }

  /** Forward, loss and backward for one batch (training mode); parameter grads are set. */
  trainStep(x: Tensor, labels: Tensor): StepResult {
    this.checkInput(x);
    this.net.train(true);
    const out = this.net.forward(x);
    let loss: Tensor;
    let correct: Tensor;
    let grad: Tensor;
    if (this.criterion === 'rbf-map') {
      ({ loss, correct, dy: grad } = ops.rbfCriterion(out, labels));
    } else {
      const r = ops.softmaxCrossEntropy(out, labels);
      loss = r.loss;
      correct = r.correct;
      grad = ops.softmaxCrossEntropyBackward(r.probs, labels);
      r.probs.dispose();
    }
    this.net.backward(grad);
    grad.dispose();
    out.dispose();
    return { loss, correct };
  }

  /** Loss and correct count without gradients (eval mode). */
  evaluateBatch(x: Tensor, labels: Tensor): StepResult {
    this.checkInput(x);
    this.net.train(false);
    const out = this.net.forward(x);
    let r: StepResult;
    if (this.criterion === 'rbf-map') {
      const c = ops.rbfCriterion(out, labels);
      c.dy.dispose();
      r = { loss: c.loss, correct: c.correct };
    } else {
      const c = ops.softmaxCrossEntropy(out, labels);
      c.probs.dispose();
      r = { loss: c.loss, correct: c.correct };
    }
    out.dispose();
    return r;
  }

  /**
   * Class probabilities [N, classes] (eval mode). For the RBF output, softmax(-y): the paper's
   * posterior-like reading of the penalties.
   */
  predictProbs(x: Tensor): Tensor {
    this.checkInput(x);
    this.net.train(false);
    const out = this.net.forward(x);
    const logits = this.criterion === 'rbf-map' ? ops.scale(out, -1) : out;
    const p = ops.softmax(logits);
    if (logits !== out) logits.dispose();
    out.dispose();
    return p;
  }

  /** A copy of every parameter, by its stable name. */
  async stateDict(): Promise<Record<string, NamedArray>> {
    const out: Record<string, NamedArray> = {};
    for (const p of this.parameters()) out[p.name] = { shape: [...p.value.shape], data: (await p.value.data()) as Float32Array };
    return out;
  }

  /**
   * Copies values into the parameters. Every parameter must be present with its exact shape;
   * unknown names are an error too (a checkpoint of another model), unless strict is false.
   */
  loadStateDict(state: Record<string, NamedArray>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const params = this.parameters();
    const known = new Set(params.map((p) => p.name));
    if (strict)
      for (const name of Object.keys(state))
        if (!known.has(name)) throw new ConvkitError('ND_FORMAT', `${this.name}: unexpected parameter '${name}' in the state (expected ${[...known].join(', ')})`);
    for (const p of params) {
      const s = state[p.name];
      if (!s) {
        if (strict) throw new ConvkitError('ND_FORMAT', `${this.name}: parameter '${p.name}' is missing from the state`);
        continue;
      }
      if (s.shape.length !== p.value.shape.length || s.shape.some((d, i) => d !== p.value.shape[i]) || s.data.length !== p.value.size)
        throw new ShapeError(`${this.name}: parameter '${p.name}' is ${fmtShape(p.value.shape)} but the state holds ${fmtShape(s.shape)} (${s.data.length} values)`);
      const src = Tensor.fromArray(s.data, p.value.shape, { device: p.value.device });
      ops.copyInto(src, p.value);
      src.dispose();
    }
  }

  dispose(): void {
    this.net.dispose();
  }

  toString(): string {
    return `${this.name} ${this.net.toString()}`;
  }
}
