/**
 * Model: a Sequential network, its per-sample input shape and its criterion (a Criterion object,
 * lib/models/criteria.ts). summary(), one training step's forward + loss + backward, evaluation
 * and prediction, and the compiled plans (lib/models/train-plan.ts, predictor.ts). No math here.
 *
 * Modes: model.train() / model.eval() set the layers' mode explicitly. trainStep runs in training
 * mode and evaluateBatch / predictProbs in eval mode whatever the current one, because each is
 * only correct in its mode; each restores every layer's previous mode before returning, so no
 * call leaves the model in another mode than the one it was given.
 */
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';
import { FlatParameters, type FlatLayerRange } from '../layers/flat-parameters.js';
import { layersBelow, type Parameter } from '../layers/layer.js';
import type { SGD } from '../optim/sgd.js';
import type { Sequential } from '../layers/sequential.js';
import { summarize, type Summary } from '../layers/summary.js';
import { criterionFor, type Criterion, type CriterionKind } from './criteria.js';
import { exportOnnx, type OnnxExportOptions } from './onnx-export.js';
import { PREDICTOR_PRECISIONS, Predictor, type PredictorOptions } from './predictor.js';
import { TrainPlan } from './train-plan.js';
import * as ops from '../ops/index.js';
import { checkInt, describe } from '../ops/validate.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';

// Re-exported from here, where they were defined before they had files of their own.
export { Predictor, type PredictorOptions, type PredictorPrecision, type PredictorRunOptions } from './predictor.js';
export { TrainPlan } from './train-plan.js';
export type { Criterion, CriterionKind } from './criteria.js';

export interface NamedArray {
  shape: readonly number[];
  data: Float32Array;
}

export interface StepResult {
  /** [1] mean loss of the batch. */
  loss: Tensor;
  /** [1] number of correct predictions. */
  correct: Tensor;
}

/** Model.beginTrainStep's handle: the batch's loss and correct count, and its backward pass one layer per step(). */
export interface TrainStepWalk extends StepResult {
  /** Queues the next top-level layer's backward and returns its index; -1 once the pass is done. */
  step(): number;
  /** Ends the walk early (its temporaries freed, the model's modes restored); loss and correct stay the caller's. */
  abort(): void;
}

export class Model {
  /** What the output is scored against; `criterion.kind` is the name a checkpoint stores. */
  readonly criterion: Criterion;
  readonly #flat: FlatParameters;

  constructor(
    readonly name: string,
    readonly net: Sequential,
    readonly inputShape: Shape,
    /** A Criterion, or its stored name ('softmax-cross-entropy', 'rbf-map'). */
    criterion: Criterion | CriterionKind,
    /** Options that rebuild this model (stored in checkpoints). */
    readonly config: Record<string, unknown>,
  ) {
    this.criterion = criterionFor(criterion, `${name}: criterion`);
    net.layers[0].needInputGrad = false;
    this.#flat = new FlatParameters(net);
  }

  /**
   * The parameters and gradients in one flat buffer each on the model's device, with every
   * parameter's layout (lib/layers/flat-parameters.ts). Read it again after model.to(): the
   * buffers are new there (and after a tensor was assigned to a parameter from outside).
   */
  get flat(): FlatParameters {
    return this.#flat.current();
  }

  /**
   * Calls fn with a top-level layer's range of the flat gradient buffer right after that
   * layer's backward has been queued, in the backward walk (last layer first, layers without
   * parameters skipped): what a data-parallel step needs to start all-reducing a bucket while
   * the rest of the backward pass runs. One listener at a time; returns the function that
   * removes it. Unused, it costs nothing.
   */
  onLayerBackward(fn: (range: FlatLayerRange) => void): () => void {
    const byIndex = new Map<number, FlatLayerRange>();
    let version = -1;
    const hook = (index: number) => {
      const flat = this.#flat;
      if (flat.version !== version) {
        byIndex.clear();
        for (const r of flat.current().layers) byIndex.set(r.index, r);
        version = flat.version;
      }
      const r = byIndex.get(index);
      if (r) fn(r);
    };
    this.net.onLayerBackward = hook;
    return () => {
      if (this.net.onLayerBackward === hook) this.net.onLayerBackward = null;
    };
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
    const dev = toDevice(device);
    this.net.releaseSaved();
    this.#flat.moveTo(dev); // one copy of the flat buffer; the layers then find their parameters there
    this.net.to(dev);
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

  /**
   * Runs fn with the whole layer tree in `training` mode and restores each layer's own mode
   * afterwards (also when fn throws): the mode a call needs, without changing the user's.
   */
  private inMode<R>(training: boolean, fn: () => R): R {
    const layers = layersBelow(this.net, [this.net]);
    const modes = layers.map((l) => l.training);
    this.net.train(training);
    try {
      return fn();
    } finally {
      layers.forEach((l, i) => (l.training = modes[i]));
    }
  }

  /** Forward, loss and backward for one batch (in training mode); parameter grads are set. */
  trainStep(x: Tensor, labels: Tensor): StepResult {
    const walk = this.beginTrainStep(x, labels);
    while (walk.step() >= 0);
    return { loss: walk.loss, correct: walk.correct };
  }

  /**
   * trainStep with its backward pass left to the caller, one top-level layer per step() (last
   * layer first; -1 once done): data parallelism walks its replicas in lockstep and queues a
   * bucket's all-reduce right after the layers that write it. The loss gradient is multiplied by
   * `gradScale` first (a replica's share of the whole batch). The model is in training mode from
   * here until the walk ends (its last step, a throw, or abort()), then back in its own modes.
   */
  beginTrainStep(x: Tensor, labels: Tensor, opts: { gradScale?: number } = {}): TrainStepWalk {
    this.checkInput(x);
    const layers = layersBelow(this.net, [this.net]);
    const modes = layers.map((l) => l.training);
    const restore = () => layers.forEach((l, i) => (l.training = modes[i]));
    this.net.train(true);
    let out: Tensor | null = null;
    let grad: Tensor;
    let f: ReturnType<Criterion['forward']>;
    try {
      out = this.net.forward(x);
      f = this.criterion.forward(out, labels);
      grad = this.criterion.backward(f, labels);
      const scale = opts.gradScale ?? 1;
      if (scale !== 1) {
        const scaled = ops.scale(grad, scale);
        grad.dispose();
        grad = scaled;
      }
    } catch (e) {
      out?.dispose();
      restore();
      throw e;
    }
    const output = out;
    const walk = this.net.backwardWalk(grad);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      grad.dispose();
      output.dispose();
      restore();
    };
    return {
      loss: f.loss,
      correct: f.correct,
      step: () => {
        if (done) return -1;
        try {
          const i = walk.step();
          if (i < 0) finish();
          return i;
        } catch (e) {
          finish();
          throw e;
        }
      },
      abort: finish,
    };
  }

  /** Loss and correct count without gradients (in eval mode). */
  evaluateBatch(x: Tensor, labels: Tensor): StepResult {
    this.checkInput(x);
    return this.inMode(false, () => {
      const out = this.net.forward(x);
      const f = this.criterion.forward(out, labels);
      this.criterion.release(f);
      out.dispose();
      return { loss: f.loss, correct: f.correct };
    });
  }

  /**
   * Class probabilities [N, classes] (in eval mode), as the criterion reads the output: softmax
   * of the logits, or for the RBF output softmax(-y), the paper's posterior-like reading.
   */
  predictProbs(x: Tensor): Tensor {
    this.checkInput(x);
    return this.inMode(false, () => {
      const out = this.net.forward(x);
      const p = this.criterion.probabilities(out);
      out.dispose();
      return p;
    });
  }

  /**
   * A prediction plan for batches of exactly `batch` samples (lib/models/predictor.ts): one
   * queued op per call. It re-records after model.to() or replaced parameters. Dispose it when done.
   * `precision: 'bf16'` (opt-in, CPU only) runs the Linear layers with bf16 weights: see
   * lib/models/predictor.ts for what it rounds and when it packs the weights again.
   */
  compilePredictor(batch: number, opts: PredictorOptions = {}): Predictor {
    const op = `${this.name}.compilePredictor`;
    checkInt(op, 'batch', batch, 1);
    if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(opts)}`);
    const precision = opts.precision ?? 'fp32';
    if (!PREDICTOR_PRECISIONS.includes(precision))
      throw new ArgumentError(`${op}: unknown precision ${describe(precision)} (expected ${PREDICTOR_PRECISIONS.join(' or ')})`);
    if (precision === 'bf16' && this.device.kind !== 'cpu')
      throw new ArgumentError(`${op}: precision 'bf16' runs on CPU streams only; ${this.name} is on ${this.device.name}`);
    return new Predictor(this, batch, precision);
  }

  /**
   * A recorded training step for batches of exactly `batch` samples, owning `optimizer`'s use
   * (lib/models/train-plan.ts): trainStep + optimizer.step() in one queued op, same results as
   * the eager calls. Models with dropout (at any depth) are refused: a replay would repeat the masks.
   */
  compileTrainStep(batch: number, optimizer: SGD): TrainPlan {
    checkInt(`${this.name}.compileTrainStep`, 'batch', batch, 1);
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
    this.flat.noteWrite();
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
    this.#flat.dispose();
  }

  toString(): string {
    return `${this.name} ${this.net.toString()}`;
  }
}
