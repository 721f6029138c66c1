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

/** Options of Predictor.run. */
export interface PredictorRunOptions {
  /** Where the probabilities go, [batch * classes] floats (a new Float32Array by default). */
  out?: Float32Array;
  /**
   * Watch for the answer from the event loop (setImmediate turns, never blocking it) instead of
   * only waiting to be woken: 'auto' (the default) does so for predictors whose runs have taken
   * under POLL_BELOW_US, true always, false never.
   */
  poll?: boolean | 'auto';
  /**
   * A Float32Array input (or rows) is read by the executor when the run starts instead of being
   * copied at the call: saves a copy on the JS thread (20 MB for AlexNet at batch 32), and the
   * caller must not change the arrays until the promise settles. Default false.
   */
  borrowInput?: boolean;
}

/** Runs shorter than this (a moving average) are polled for by default; longer ones are not worth a busy loop. */
export const POLL_BELOW_US = 250;
/** A poll gives up after this many average run times and waits for the wake-up instead. */
const POLL_SPAN = 4;

/** predict(x) equals model.predictProbs(x), in one queued op. */
export class Predictor {
  private rec: Recording;
  /** Times the plan was recorded again because the model's storages changed. */
  rerecords = 0;
  /** run()'s completion flag: the executor stores each run's sequence number after its output is written. */
  private readonly done = new Int32Array(new SharedArrayBuffer(4));
  private seq = 0;
  /** Moving average of run()'s time from the call to the answer, in microseconds (NaN before the first). */
  private runUs = Number.NaN;

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

  /**
   * Class probabilities for x (a Tensor of the compiled shape on the model's device, or a
   * Float32Array of its values, copied at the call), written into `out`: predict(x) followed by
   * data(), on the shortest path there is. One native call queues one op, which writes the
   * answer straight into `out` and raises a flag; there is no output tensor and no second copy.
   * A short run is polled for from the event loop (see PredictorRunOptions.poll): on a virtual
   * machine an idle event loop wakes tens of microseconds after the executor signals it, more
   * than LeNet-5's whole forward pass at batch 1. Values are those of predict(x), bit for bit.
   *
   * x may also be rows: an array of Float32Arrays of one sample each, at most the compiled
   * batch of them, gathered into the input by the op (rows after them are zero), so that a
   * server's queued samples need no batch buffer assembled on the event loop.
   */
  run(x: Tensor | Float32Array | readonly Float32Array[], options: PredictorRunOptions = {}): Promise<Float32Array> {
    const op = `${this.model.name}.run`;
    const r = this.current();
    const out = options.out ?? new Float32Array(r.probs.size);
    if (!(out instanceof Float32Array)) throw new ArgumentError(`${op}: 'out' must be a Float32Array`);
    if (x instanceof Tensor && x.device !== r.input.device)
      throw new ArgumentError(`${op}: 'x' is on ${x.device.name} but ${this.model.name} is on ${r.input.device.name}`);
    const seq = (this.seq = (this.seq + 1) | 0);
    const t0 = performance.now();
    const settled = r.plan.runInto(x, r.input, r.probs, out, this.done, seq, options.borrowInput === true);
    const poll = options.poll ?? 'auto';
    const wantPoll = poll === true || (poll === 'auto' && !(this.runUs >= POLL_BELOW_US));
    const answered = wantPoll ? this.pollFor(seq, settled, t0) : settled;
    return answered.then(() => {
      const us = (performance.now() - t0) * 1000;
      this.runUs = Number.isNaN(this.runUs) ? us : 0.9 * this.runUs + 0.1 * us;
      return out;
    });
  }

  /** Resolves when done[0] reaches seq or `settled` settles, whichever comes first. */
  private pollFor(seq: number, settled: Promise<void>, t0: number): Promise<void> {
    const giveUpMs = (POLL_SPAN * (Number.isNaN(this.runUs) ? POLL_BELOW_US : Math.min(this.runUs, POLL_BELOW_US))) / 1000;
    return new Promise<void>((resolve, reject) => {
      let over = false;
      settled.then(
        () => {
          over = true;
          resolve();
        },
        (e: unknown) => {
          over = true;
          reject(e as Error);
        },
      );
      const check = (): void => {
        if (over) return;
        // Modular comparison: the sequence wraps at 2^31 and runs finish in order.
        if (((Atomics.load(this.done, 0) - seq) | 0) >= 0) {
          over = true;
          resolve();
        } else if (performance.now() - t0 < giveUpMs) {
          setImmediate(check);
        }
      };
      setImmediate(check);
    });
  }

  /** Floats in one answer: batch x classes (the length of run()'s output). */
  get outputSize(): number {
    return this.rec.probs.size;
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
