/**
 * Runs one batch of samples through a model at one of a few prepared batch sizes. A recorded
 * predictor (Model.compilePredictor) is kept per prepared size and reused; a batch of n real
 * samples runs at the smallest prepared size >= n, the rest of it zero rows whose outputs are
 * dropped. Recording per size, not per n, bounds the memory held by plans (each keeps its
 * activations) while padding wastes at most half a batch at powers of two.
 *
 * On devices without recording (CUDA today), the same padded batch runs through the eager
 * predictProbs ops, so a row never depends on how many other requests shared its batch.
 *
 * Batches are assembled in staging buffers kept for the runner's life, not a new one per batch:
 * every JS ArrayBuffer allocated counts as V8 external memory until the next GC sweeps it, and
 * under a load test a fresh 20 MB AlexNet batch buffer per batch (with the per-request copies)
 * triggered a Mark-Compact every few batches (bench/RESULTS.md). A recorded batch lends its
 * buffer to the executor (Predictor.run's borrowInput: no 20 MB copy on the event loop, which
 * took up to 79 ms there under load) and gets it back when it settles; a batch assembled
 * meanwhile takes another buffer, so there are as many as batches in flight (one or two).
 * A recorded batch of float samples needs no staging at all: the executor gathers the rows.
 */
import { ArgumentError } from '../errors.js';
import { native } from '../native.js';
import type { Model, Predictor } from '../models/model.js';
import type { PredictorPrecision } from '../models/predictor.js';
import type { Device } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import { writePixels } from './image-input.js';

/**
 * One sample: sampleSize floats, or the decoded pixels of an image (imageToPixels for the
 * model's input shape), normalised straight into the batch.
 */
export type BatchInput = Float32Array | Uint8Array;

/** Powers of two up to max, and max itself: 1, 2, 4, 8, ..., max. */
export function powersOfTwo(max: number): number[] {
  const out: number[] = [];
  for (let s = 1; s < max; s *= 2) out.push(s);
  out.push(max);
  return out;
}

/**
 * The CPU kernels take other paths for small batches than the packed GEMM above them, and the
 * paths sum in different orders, so a row differs in its last bits between them: convolutions
 * up to SMALL_BATCH_PATH samples (kSmallBatch in native/cpu/conv_direct.h), linear layers at the
 * bounds linearPathBounds() gives (native/cpu/linear.h: the dot products up to 8 and the
 * streamed kernel up to 48 under AVX-512, and up to 128 for a weight of 2^21 floats or more;
 * the dot products up to 16 otherwise). On each path a
 * row is the same whatever the batch size and the row's position (tested).
 */
export const SMALL_BATCH_PATH = 4;

/** The batch sizes after which the CPU linear forward changes path, under the active ISA level. */
export function linearPathBounds(): number[] {
  return native.linearPathBounds();
}

/**
 * Checks and sorts prepared sizes; the largest must be maxBatchSize so that every batch fits.
 * batchInvariant keeps only sizes that take one and the same kernel paths as maxBatchSize does:
 * above SMALL_BATCH_PATH always, and above the last linear path bound below maxBatchSize, so
 * every request, even a lone one, takes the same paths and its row never depends on what it
 * was batched with.
 */
export function preparedSizes(op: string, sizes: readonly number[] | undefined, maxBatchSize: number, batchInvariant = false): number[] {
  if (batchInvariant) {
    if (maxBatchSize <= SMALL_BATCH_PATH)
      throw new ArgumentError(
        `${op}: batchInvariant needs maxBatchSize > ${SMALL_BATCH_PATH} (the small-batch kernels sum in another order), got ${maxBatchSize}`,
      );
    const floor = Math.max(SMALL_BATCH_PATH, ...linearPathBounds().filter((b) => b < maxBatchSize));
    return preparedSizes(op, sizes, maxBatchSize).filter((s) => s > floor);
  }
  if (sizes === undefined) return powersOfTwo(maxBatchSize);
  if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((s) => Number.isSafeInteger(s) && s >= 1 && s <= maxBatchSize))
    throw new ArgumentError(`${op}: 'batchSizes' must be integers in [1, maxBatchSize=${maxBatchSize}], got ${JSON.stringify(sizes)}`);
  const out = [...new Set(sizes)].sort((a, b) => a - b);
  if (out[out.length - 1] !== maxBatchSize) out.push(maxBatchSize);
  return out;
}

export interface Calibration {
  /** Median milliseconds of one batch at each candidate size. */
  msBySize: Record<string, number>;
  /** The sizes kept. */
  kept: number[];
}

/** A staging buffer and the row from which it is known to be zero (padding rows need no clearing). */
interface Staging {
  buf: Float32Array;
  zeroFrom: number;
}

export class BatchRunner {
  private readonly predictors = new Map<number, Predictor>();
  private readonly perSample: number;
  private sizes: number[];
  /** Staging buffers not lent to a run, each sized for the largest prepared batch. */
  private staging: Staging[] = [];

  constructor(
    readonly model: Model,
    readonly device: Device,
    sizes: number[],
    readonly precision: PredictorPrecision = 'fp32',
  ) {
    this.sizes = sizes;
    this.perSample = model.inputShape.reduce((a, b) => a * b, 1);
  }

  /** Prepared sizes, ascending. */
  get batchSizes(): readonly number[] {
    return this.sizes;
  }

  get sampleSize(): number {
    return this.perSample;
  }

  /** The prepared size a batch of n runs at. */
  sizeFor(n: number): number {
    for (const s of this.sizes) if (s >= n) return s;
    throw new ArgumentError(`batch of ${n} exceeds the largest prepared size ${this.sizes[this.sizes.length - 1]}`);
  }

  private recorded(size: number): Predictor | null {
    if (this.device.kind !== 'cpu') return null;
    let p = this.predictors.get(size);
    if (!p) {
      p = this.model.compilePredictor(size, { precision: this.precision });
      this.predictors.set(size, p);
    }
    return p;
  }

  /** Records every prepared size now (a few ms each), so the first requests do not. */
  prepare(): void {
    for (const s of this.sizes) this.recorded(s);
  }

  /** One output row per input, in order. Inputs are sampleSize floats or an image's pixels each. */
  async run(inputs: readonly BatchInput[]): Promise<Float32Array[]> {
    const n = inputs.length;
    const size = this.sizeFor(n);
    const p = this.recorded(size);
    let data: Float32Array;
    if (p && inputs.every((v) => v instanceof Float32Array)) {
      // Float samples: the executor gathers them into the plan's input itself (and zeroes the
      // padding rows), so the event loop copies nothing; the session holds each sample until
      // its request settles. Not polled: a server's event loop has other work, and a batch's
      // wake-up is shared by all its requests.
      data = await p.run(inputs as readonly Float32Array[], { poll: false, borrowInput: true });
    } else if (p) {
      // Pixels are normalised into a staging buffer here, which the executor then reads.
      const st = this.stage(inputs, size);
      try {
        data = await p.run(st.buf.subarray(0, size * this.perSample), { poll: false, borrowInput: true });
      } finally {
        this.staging.push(st);
      }
    } else {
      const x = this.assemble(inputs, size);
      let y: Tensor;
      try {
        y = this.model.predictProbs(x);
      } finally {
        // Safe while the op is queued: queued ops hold their own references (DESIGN.md, Memory).
        x.dispose();
      }
      try {
        data = (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    }
    const k = data.length / size;
    const rows: Float32Array[] = [];
    // Copies, not views: a row posted to another thread would otherwise carry the whole batch.
    for (let i = 0; i < n; i++) rows.push(data.slice(i * k, (i + 1) * k));
    return rows;
  }

  /**
   * The inputs as one tensor at prepared size `size`, padded with zero rows (run() uses it;
   * public for tests). Synchronous from the staging writes to the tensor's copy, so no other
   * batch can write staging in between.
   */
  assemble(inputs: readonly BatchInput[], size: number): Tensor {
    const st = this.stage(inputs, size);
    try {
      return Tensor.fromArray(st.buf.subarray(0, size * this.perSample), [size, ...this.model.inputShape], {
        device: this.device,
      });
    } finally {
      this.staging.push(st); // fromArray copied it
    }
  }

  /** The inputs written into a free staging buffer at prepared size `size`, padding rows zero. */
  private stage(inputs: readonly BatchInput[], size: number): Staging {
    const n = inputs.length;
    const per = this.perSample;
    const shape = this.model.inputShape;
    const st = this.staging.pop() ?? { buf: new Float32Array(this.sizes[this.sizes.length - 1]! * per), zeroFrom: 0 };
    const buf = st.buf;
    for (let i = 0; i < n; i++) {
      const v = inputs[i]!;
      if (v instanceof Uint8Array) writePixels(v, shape, buf, i * per);
      else buf.set(v, i * per);
    }
    // Padding rows: clear only what an earlier, larger batch left there.
    if (st.zeroFrom > n) buf.fill(0, n * per, Math.min(st.zeroFrom, size) * per);
    if (st.zeroFrom <= size) st.zeroFrom = n;
    return st;
  }

  /**
   * The measured choice of sizes: times `rounds` batches at every candidate size and keeps a
   * size only when it is clearly (by `margin`) faster than the next larger kept one; otherwise
   * padding up to that one costs little and saves the memory of another plan.
   */
  async calibrate(rounds = 3, margin = 0.8): Promise<Calibration> {
    const per = this.perSample;
    const ms: Record<string, number> = {};
    for (const s of this.sizes) {
      const inputs = Array.from({ length: s }, () => new Float32Array(per));
      await this.run(inputs); // warm: plans, pooled buffers
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        await this.run(inputs);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      ms[s] = times[times.length >> 1]!;
    }
    const kept = [this.sizes[this.sizes.length - 1]!];
    for (let i = this.sizes.length - 2; i >= 0; i--) {
      const s = this.sizes[i]!;
      if (ms[s]! < margin * ms[kept[0]!]!) kept.unshift(s);
    }
    for (const s of this.sizes)
      if (!kept.includes(s)) {
        this.predictors.get(s)?.dispose();
        this.predictors.delete(s);
      }
    this.sizes = kept;
    return { msBySize: ms, kept };
  }

  dispose(): void {
    this.staging = [];
    for (const p of this.predictors.values()) p.dispose();
    this.predictors.clear();
  }
}
