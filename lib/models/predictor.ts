/**
 * Model.compilePredictor's plan: predictProbs's ops recorded once (eval mode) and replayed as one
 * queued op per call, which is what makes batch-1 latency small on the CPU. It reads the model's
 * parameters as they are when it runs (in-place updates such as SGD steps and loadStateDict are
 * seen); when they were moved (model.to) or replaced by other tensors it re-records on the
 * model's current device before running, and a disposed model is refused (ND_DISPOSED).
 *
 * With `precision: 'bf16'` (CPU only, never the default) every Linear layer is recorded with its
 * weight rounded to bf16 and packed (ops.packBf16), which halves the bytes a batch-1 call reads
 * (AlexNet's fc6-fc8: 235 MB of fp32); convolutions, biases and activations stay fp32. The packs
 * are copies, so they are made again (queued before the replay, in stream order) when the
 * library wrote the values in place since (SGD.step, a compiled train step, loadStateDict,
 * DataParallel's broadcast: FlatParameters.writes), and the plan records again when the storages
 * changed. A write the library cannot see (an op of your own into a parameter's tensor) needs
 * refresh().
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { Linear } from '../layers/linear.js';
import { layersBelow } from '../layers/layer.js';
import { Tensor } from '../tensor/tensor.js';
import type { Model } from './model.js';
import { RecordedStorages } from './plan-storages.js';

/** The weight format of a compiled predictor's Linear layers. */
export type PredictorPrecision = 'fp32' | 'bf16';
export const PREDICTOR_PRECISIONS: readonly PredictorPrecision[] = ['fp32', 'bf16'];

export interface PredictorOptions {
  /**
   * 'fp32' (default), or 'bf16': Linear weights rounded to bf16 (CPU only; about half the time
   * of a bandwidth-bound batch-1 call, logits within ~1e-2 relative of fp32).
   */
  precision?: PredictorPrecision;
}

interface Pack {
  layer: Linear;
  packed: Tensor;
}

interface Recording {
  plan: ops.CapturedOps;
  input: Tensor;
  probs: Tensor;
  storages: RecordedStorages;
  packs: Pack[];
  /** model.flat.writes when the packs were made. */
  written: number;
}

/** predict(x) equals model.predictProbs(x), in one queued op. */
export class Predictor {
  private rec: Recording;
  /** Times the plan was recorded again because the model's storages changed. */
  rerecords = 0;

  /** Times the bf16 weights were packed again because the values were written in place. */
  repacks = 0;

  /** @internal Use Model.compilePredictor. */
  constructor(
    private readonly model: Model,
    readonly batch: number,
    readonly precision: PredictorPrecision = 'fp32',
  ) {
    this.rec = this.record();
  }

  get modelName(): string {
    return this.model.name;
  }

  private record(): Recording {
    const input = Tensor.zeros([this.batch, ...this.model.inputShape], { device: this.model.device });
    const written = this.model.flat.writes;
    const packs: Pack[] = [];
    try {
      if (this.precision === 'bf16')
        for (const l of layersBelow(this.model.net))
          if (l instanceof Linear) packs.push({ layer: l, packed: ops.packBf16(l.weight.value) });
      for (const p of packs) p.layer.packedBf16 = p.packed;
      const { ops: plan, result } = ops.capture(input.device, () => this.model.predictProbs(input));
      return { plan, input, probs: result, storages: RecordedStorages.of(this.model, false), packs, written };
    } catch (e) {
      input.dispose();
      for (const p of packs) p.packed.dispose();
      throw e;
    } finally {
      for (const p of packs) p.layer.packedBf16 = null;
    }
  }

  /**
   * Packs the bf16 weights again from the model's current values (queued before any later
   * predict). Needed only after writing a parameter's tensor with ops of your own; the library's
   * writers are seen without it. Does nothing on an fp32 predictor.
   */
  refresh(): void {
    const r = this.current();
    this.repack(r);
  }

  private repack(r: Recording): void {
    if (!r.packs.length) return;
    for (const p of r.packs) ops.packBf16(p.layer.weight.value, { into: p.packed });
    r.written = this.model.flat.writes;
    this.repacks++;
  }

  /** The recording, made again first when the model's storages moved or were replaced. */
  private current(): Recording {
    if (this.rec.plan.disposed) return this.rec; // replay says so
    if (this.rec.storages.check(this.model, `${this.model.name}.predict`) === null) {
      if (this.rec.packs.length && this.model.flat.writes !== this.rec.written) this.repack(this.rec);
      return this.rec;
    }
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
    for (const p of r.packs) p.packed.dispose();
  }

  dispose(): void {
    this.release(this.rec);
  }
}
