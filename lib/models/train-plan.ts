/**
 * Model.compileTrainStep's plan: trainStep + optimizer.step() recorded once and replayed as one
 * queued op per batch (the per-op cost of ~40 small ops is most of LeNet-5's step otherwise).
 * The plan holds its optimizer. It records again, before the next step, when what the recording
 * named is no longer what the model and optimizer hold: the lr changed, the optimizer's state was
 * replaced (loadState), or the model's storages moved or were replaced (model.to, new tensors,
 * an eager trainStep's new gradients). A disposed model is refused (ND_DISPOSED), and so is an
 * optimizer whose state stayed on another device than the parameters (ND_ARG).
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { stochasticLayers } from '../layers/layer.js';
import * as ops from '../ops/index.js';
import type { SGD } from '../optim/sgd.js';
import type { Device } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import type { Model, StepResult } from './model.js';
import { RecordedStorages } from './plan-storages.js';

interface Recording {
  ops: ops.CapturedOps;
  loss: Tensor;
  correct: Tensor;
  lr: number;
  state: Tensor[];
  storages: RecordedStorages;
}

export class TrainPlan {
  private x: Tensor;
  private labels: Tensor;
  private recorded: Recording | null = null;
  /** Times the step was recorded (the first time included). */
  recordings = 0;

  /** @internal Use Model.compileTrainStep. */
  constructor(
    readonly model: Model,
    readonly optimizer: SGD,
    readonly batch: number,
  ) {
    // A replay repeats the recorded random draws, nested containers included.
    const random = stochasticLayers(model.net);
    if (random.length)
      throw new ArgumentError(
        `${model.name}.compileTrainStep: the model has dropout ('${random[0].path}'), whose masks a recorded step would repeat; use trainStep`,
      );
    const device = model.device;
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
    const r = this.current(op);
    if (x.device !== this.x.device || labels.device !== this.x.device)
      throw new ArgumentError(
        `${op}: 'x' and 'labels' must be on ${this.x.device.name} (where ${this.model.name} is), got ${x.device.name} and ${labels.device.name}`,
      );
    const loss = Tensor.empty(r.loss.shape, r.loss.dtype, r.loss.device);
    const correct = Tensor.empty(r.correct.shape, r.correct.dtype, r.correct.device);
    this.model.flat.noteWrite();
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

  private current(op: string): Recording {
    const r = this.recorded;
    const state = this.optimizerState();
    if (
      r &&
      r.lr === this.optimizer.lr &&
      r.state.length === state.length &&
      r.state.every((t, i) => t === state[i]) &&
      r.storages.check(this.model, op) === null
    )
      return r;
    this.release();
    const device = this.model.device;
    if (this.x.device !== device) this.placeholdersOn(device); // the model moved
    this.checkOptimizerOn(op, device);
    this.optimizer.ensureState();
    const { ops: recorded, result } = ops.capture(device, () => {
      const s = this.model.trainStep(this.x, this.labels);
      this.optimizer.step();
      return s;
    });
    this.recordings++;
    this.recorded = {
      ops: recorded,
      loss: result.loss,
      correct: result.correct,
      lr: this.optimizer.lr,
      state: this.optimizerState(),
      storages: RecordedStorages.of(this.model, true),
    };
    return this.recorded;
  }

  private placeholdersOn(device: Device): void {
    const x = Tensor.zeros(this.x.shape, { device });
    const labels = Tensor.zeros(this.labels.shape, { dtype: 'int32', device });
    this.x.dispose();
    this.labels.dispose();
    this.x = x;
    this.labels = labels;
  }

  /** Momentum buffers made before model.to() stay behind: updating across devices is refused. */
  private checkOptimizerOn(op: string, device: Device): void {
    for (const [name, v] of this.optimizer.state())
      if (v.device !== device)
        throw new ArgumentError(
          `${op}: the optimizer's state for '${name}' is on ${v.device.name} but ${this.model.name}'s parameters are on ${device.name}; create the optimizer (and the plan) after moving the model`,
        );
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
