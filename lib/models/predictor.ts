/**
 * Model.compilePredictor's plan: predictProbs's ops recorded once (eval mode) and replayed as one
 * queued op per call, which is what makes batch-1 latency small on the CPU. It reads the model's
 * parameters as they are when it runs (in-place updates such as SGD steps and loadStateDict are
 * seen); when they were moved (model.to) or replaced by other tensors it re-records on the
 * model's current device before running, and a disposed model is refused (ND_DISPOSED).
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import type { Model } from './model.js';
import { RecordedStorages } from './plan-storages.js';

interface Recording {
  plan: ops.CapturedOps;
  input: Tensor;
  probs: Tensor;
  storages: RecordedStorages;
}

/** predict(x) equals model.predictProbs(x), in one queued op. */
export class Predictor {
  private rec: Recording;
  /** Times the plan was recorded again because the model's storages changed. */
  rerecords = 0;

  /** @internal Use Model.compilePredictor. */
  constructor(
    private readonly model: Model,
    readonly batch: number,
  ) {
    this.rec = this.record();
  }

  get modelName(): string {
    return this.model.name;
  }

  private record(): Recording {
    const input = Tensor.zeros([this.batch, ...this.model.inputShape], { device: this.model.device });
    try {
      const { ops: plan, result } = ops.capture(input.device, () => this.model.predictProbs(input));
      return { plan, input, probs: result, storages: RecordedStorages.of(this.model, false) };
    } catch (e) {
      input.dispose();
      throw e;
    }
  }

  /** The recording, made again first when the model's storages moved or were replaced. */
  private current(): Recording {
    if (this.rec.plan.disposed) return this.rec; // replay says so
    if (this.rec.storages.check(this.model, `${this.model.name}.predict`) === null) return this.rec;
    const next = this.record();
    this.release(this.rec);
    this.rec = next;
    this.rerecords++;
    return next;
  }

  /** Class probabilities [batch, classes] for x [batch, ...inputShape] (a new tensor). */
  predict(x: Tensor): Tensor {
    const op = `${this.model.name}.predict`;
    if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: 'x' must be a Tensor`);
    const want = this.rec.input.shape;
    if (x.shape.length !== want.length || x.shape.some((d, i) => d !== want[i]))
      throw new ShapeError(`${op}: input must be ${fmtShape(want)} (the compiled batch), got ${fmtShape(x.shape)}`);
    const r = this.current();
    if (x.device !== r.input.device)
      throw new ArgumentError(`${op}: 'x' is on ${x.device.name} but ${this.model.name} is on ${r.input.device.name}`);
    const out = Tensor.empty(r.probs.shape, 'float32', r.probs.device);
    try {
      r.plan.replay([[x, r.input]], [[r.probs, out]]);
    } catch (e) {
      out.dispose();
      throw e;
    }
    return out;
  }

  /** Recorded ops in the plan. */
  get opCount(): number {
    return this.rec.plan.length;
  }

  private release(r: Recording): void {
    r.plan.dispose();
    r.input.dispose();
    r.probs.dispose();
  }

  dispose(): void {
    this.release(this.rec);
  }
}
