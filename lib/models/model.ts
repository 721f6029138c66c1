/**
 * Model: a Sequential network, its per-sample input shape and its criterion. train/eval mode,
 * summary(), one training step's forward + loss + backward, and prediction. No math here.
 */
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';
import { Dropout } from '../layers/dropout.js';
import type { Parameter } from '../layers/layer.js';
import type { SGD } from '../optim/sgd.js';
import type { Sequential } from '../layers/sequential.js';
import { summarize, type Summary } from '../layers/summary.js';
import { exportOnnx, type OnnxExportOptions } from './onnx-export.js';
import * as ops from '../ops/index.js';
import { checkInt } from '../ops/validate.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
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

  /** The device of the parameters (cpu:0 for a model without any). */
  get device(): Device {
    const ps = this.parameters();
    return ps.length ? ps[0].value.device : toDevice('cpu');
  }

  /**
   * Moves the model to `device` in place, with its current values (parameters, masks, codes),
   * and returns it; building it there (lenet5({ device })) is the other way to get a model on a
   * device. Gradients are dropped; create the optimizer after moving (its state lives where the
   * parameters are).
   */
  to(device: DeviceName | Device): this {
    this.net.to(device);
    return this;
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

  /**
   * A prediction plan for batches of exactly `batch` samples: predictProbs's ops recorded once
   * (eval mode) and replayed as one queued op per call, which is what makes batch-1 latency
   * small on the CPU. It reads the model's parameters as they are when it runs (in-place updates
   * such as SGD steps and loadStateDict are seen). Dispose it when done.
   */
  compilePredictor(batch: number): Predictor {
    checkInt(`${this.name}.compilePredictor`, 'batch', batch, 1);
    const params = this.parameters();
    const device = params.length ? params[0].value.device : undefined;
    const input = Tensor.zeros([batch, ...this.inputShape], { device });
    try {
      const { ops: plan, result } = ops.capture(input.device, () => this.predictProbs(input));
      return new Predictor(this.name, plan, input, result);
    } catch (e) {
      input.dispose();
      throw e;
    }
  }

  /**
   * A recorded training step for batches of exactly `batch` samples: trainStep + optimizer.step()
   * captured once and replayed as one queued op per call (the per-op cost of ~40 small ops is
   * most of LeNet-5's step otherwise). Same results as the eager calls; parameter grads are set
   * as by trainStep. A change of the optimizer's lr or state (loadState) re-records on the next
   * step. Models with dropout are refused: a replay would repeat the recorded masks.
   */
  compileTrainStep(batch: number, optimizer: SGD): TrainPlan {
    checkInt(`${this.name}.compileTrainStep`, 'batch', batch, 1);
    if (this.net.layers.some((l) => l instanceof Dropout))
      throw new ArgumentError(
        `${this.name}.compileTrainStep: the model has dropout, whose masks a recorded step would repeat; use trainStep`,
      );
    return new TrainPlan(this, optimizer, batch);
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
        if (!known.has(name))
          throw new ConvkitError(
            'ND_FORMAT',
            `${this.name}: unexpected parameter '${name}' in the state (expected ${[...known].join(', ')})`,
          );
    for (const p of params) {
      const s = state[p.name];
      if (!s) {
        if (strict) throw new ConvkitError('ND_FORMAT', `${this.name}: parameter '${p.name}' is missing from the state`);
        continue;
      }
      if (s.shape.length !== p.value.shape.length || s.shape.some((d, i) => d !== p.value.shape[i]) || s.data.length !== p.value.size)
        throw new ShapeError(
          `${this.name}: parameter '${p.name}' is ${fmtShape(p.value.shape)} but the state holds ${fmtShape(s.shape)} (${s.data.length} values)`,
        );
      const src = Tensor.fromArray(s.data, p.value.shape, { device: p.value.device });
      ops.copyInto(src, p.value);
      src.dispose();
    }
  }

  /**
   * Writes the model as an ONNX file (opset 13, dynamic batch axis "N"); see
   * lib/models/onnx-export.ts for how each layer is written. Output: the net's raw output
   * (logits, or LeNet-5's RBF penalties), or class probabilities with { probabilities: true }.
   */
  async exportOnnx(path: string, opts: OnnxExportOptions = {}): Promise<void> {
    await exportOnnx(this, path, opts);
  }

  dispose(): void {
    this.net.dispose();
  }

  toString(): string {
    return `${this.name} ${this.net.toString()}`;
  }
}

/** Model.compilePredictor's plan: predict(x) equals model.predictProbs(x) in one queued op. */
export class Predictor {
  /** @internal */
  constructor(
    readonly modelName: string,
    private readonly plan: ops.CapturedOps,
    private readonly input: Tensor,
    private readonly probs: Tensor,
  ) {}

  /** Class probabilities [batch, classes] for x [batch, ...inputShape] (a new tensor). */
  predict(x: Tensor): Tensor {
    const op = `${this.modelName}.predict`;
    if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: 'x' must be a Tensor`);
    const want = this.input.shape;
    if (x.shape.length !== want.length || x.shape.some((d, i) => d !== want[i]))
      throw new ShapeError(`${op}: input must be ${fmtShape(want)} (the compiled batch), got ${fmtShape(x.shape)}`);
    const out = Tensor.empty(this.probs.shape, 'float32', this.probs.device);
    this.plan.replay([[x, this.input]], [[this.probs, out]]);
    return out;
  }

  /** Recorded ops in the plan. */
  get opCount(): number {
    return this.plan.length;
  }

  dispose(): void {
    this.plan.dispose();
    this.input.dispose();
    this.probs.dispose();
  }
}

/** Model.compileTrainStep's plan. */
export class TrainPlan {
  private readonly x: Tensor;
  private readonly labels: Tensor;
  private recorded: { ops: ops.CapturedOps; loss: Tensor; correct: Tensor; lr: number; state: Tensor[] } | null = null;

  /** @internal */
  constructor(
    readonly model: Model,
    readonly optimizer: SGD,
    readonly batch: number,
  ) {
    const params = model.parameters();
    const device = params.length ? params[0].value.device : undefined;
    this.x = Tensor.zeros([batch, ...model.inputShape], { device });
    this.labels = Tensor.zeros([batch], { dtype: 'int32', device });
  }

  /** One training step on (x, labels): forward, loss, backward and the optimizer's update. */
  step(x: Tensor, labels: Tensor): StepResult {
    const op = `${this.model.name}.trainStep`;
    if (!(x instanceof Tensor) || !(labels instanceof Tensor)) throw new ArgumentError(`${op}: 'x' and 'labels' must be Tensors`);
    const same = (a: Tensor, b: Tensor) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (!same(x, this.x))
      throw new ShapeError(`${op}: input must be ${fmtShape(this.x.shape)} (the compiled batch), got ${fmtShape(x.shape)}`);
    if (!same(labels, this.labels) || labels.dtype !== 'int32')
      throw new ShapeError(`${op}: labels must be int32 ${fmtShape(this.labels.shape)}, got ${labels.dtype} ${fmtShape(labels.shape)}`);
    const r = this.current();
    const loss = Tensor.empty(r.loss.shape, r.loss.dtype, r.loss.device);
    const correct = Tensor.empty(r.correct.shape, r.correct.dtype, r.correct.device);
    r.ops.replay(
      [
        [x, this.x],
        [labels, this.labels],
      ],
      [
        [r.loss, loss],
        [r.correct, correct],
      ],
    );
    return { loss, correct };
  }

  private optimizerState(): Tensor[] {
    return [...this.optimizer.state().values()];
  }

  private current() {
    const r = this.recorded;
    const state = this.optimizerState();
    if (r && r.lr === this.optimizer.lr && r.state.length === state.length && r.state.every((t, i) => t === state[i])) return r;
    this.release();
    this.optimizer.ensureState();
    const { ops: recorded, result } = ops.capture(this.x.device, () => {
      const s = this.model.trainStep(this.x, this.labels);
      this.optimizer.step();
      return s;
    });
    this.recorded = { ops: recorded, loss: result.loss, correct: result.correct, lr: this.optimizer.lr, state: this.optimizerState() };
    return this.recorded;
  }

  private release(): void {
    if (!this.recorded) return;
    this.recorded.ops.dispose();
    this.recorded.loss.dispose();
    this.recorded.correct.dispose();
    this.recorded = null;
  }

  dispose(): void {
    this.release();
    this.x.dispose();
    this.labels.dispose();
  }
}
