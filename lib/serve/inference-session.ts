/**
 * InferenceSession: one model on one device behind a dynamic batcher, as Triton's is.
 *
 *   const s = await InferenceSession.create('lenet5.safetensors', { maxBatchSize: 32 });
 *   const probs = await s.run(sample, { timeoutMs: 1000, signal });
 *   await s.close();
 *
 * Requests queue; whenever no batch is running, the next one takes up to maxBatchSize queued
 * requests (waiting up to maxQueueDelayMs for more when fewer are queued; the default 0 takes
 * whatever queued while the previous batch ran) and runs them as one padded batch
 * (batch-runner.ts). The JS thread only copies inputs in and rows out; the batch runs on the
 * device's stream. The queue is bounded: a full queue rejects at once with ND_BUSY.
 *
 * Note: today a CPU stream's enqueue can block the JS thread past 1,024 queued ops (issue 9).
 * A session keeps at most one batch (one recorded op on the CPU) queued at a time, so it never
 * comes near that bound on its own.
 */
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';
import { Model } from '../models/model.js';
import { PREDICTOR_PRECISIONS, type PredictorPrecision } from '../models/predictor.js';
import { restoreModel } from '../train/checkpointing.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import { native } from '../native.js';
import { BatchRunner, preparedSizes, type BatchInput, type Calibration } from './batch-runner.js';
import { imageToPixels, pixelLength } from './image-input.js';
import { AbortedError, BusyError, ClosedError, TimeoutError } from './errors.js';
import { Window, bump, type SessionStats } from './stats.js';

export interface SessionOptions {
  /** Where to build the model from a weights file (default 'cpu'); a given Model stays where it is. */
  device?: DeviceName | Device;
  /** Most requests in one batch (default 32; 1 turns batching off). */
  maxBatchSize?: number;
  /** How long the oldest queued request may wait for a fuller batch (default 0). */
  maxQueueDelayMs?: number;
  /** Prepared batch sizes (default powers of two up to maxBatchSize, plus maxBatchSize). */
  batchSizes?: number[];
  /**
   * Run every batch, even a lone request, at a prepared size on the same CPU kernel paths as
   * the largest (above the convolutions' small-batch path of 4, and above the linear layers' of
   * 16 when maxBatchSize is: so at least 8 with maxBatchSize 8-16, 32 with 32): a request's row
   * is then bit-identical whatever it was batched with, at the cost of padding small batches
   * (default false: rows from batches on different paths may differ in the last bits; see
   * session-rows.test.ts).
   */
  batchInvariant?: boolean;
  /** Time each prepared size at create() and keep only those that pay off (default false). */
  calibrate?: boolean;
  /** Run one batch at each prepared size at create(), so first requests meet warm buffers (default false). */
  warmup?: boolean;
  /** Most requests waiting (default 1024); more are rejected with ND_BUSY. */
  maxQueue?: number;
  /** Default per-request timeout in ms (default 0: none). */
  timeoutMs?: number;
  /** Requests in the latency window of stats() (default 4096). */
  statsWindow?: number;
  /**
   * A finished batch answers this many requests per event-loop turn (default 8), the rest in
   * the turns after: each answer's continuation (a server writes a response, reads the next
   * request) then shares the loop with I/O and timers instead of running as one long burst of
   * 32 (measured: the event-loop delay p99 of a 1,000-connection AlexNet load test).
   */
  answersPerTurn?: number;
  /** The predictors' weight format (Model.compilePredictor): 'fp32' (default) or 'bf16' (CPU only). */
  precision?: PredictorPrecision;
}

export interface RunOptions {
  /** Milliseconds until the request rejects with ND_TIMEOUT (0: none; default the session's). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * run() reads a Float32Array sample in place instead of copying it: the caller keeps it
   * unchanged until the promise settles (a decode worker's shared slot, say). A request that
   * times out or aborts while its batch runs may be read until that batch ends, but only its
   * own row, which is dropped, depends on it. Values are still checked to be finite. Default false.
   */
  borrowInput?: boolean;
}

/** One sample: sampleSize floats, or a Tensor of the model's input shape (or [1, ...shape]). */
export type SampleInput = Float32Array | ArrayLike<number> | Tensor;

interface Pending {
  /** A float sample (copied, or borrowed), or an image's pixels (runPixels), normalised into the batch. */
  input: BatchInput;
  start: number;
  resolve: (row: Float32Array) => void;
  reject: (e: Error) => void;
  settled: boolean;
  timer: NodeJS.Timeout | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  /** In the queue (not yet taken by a batch). */
  queued: boolean;
}

function optNumber(op: string, name: string, v: unknown, fallback: number, min: number, integer: boolean): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isSafeInteger(v)))
    throw new ArgumentError(`${op}: '${name}' must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(v)}`);
  return v;
}

export class InferenceSession {
  private readonly queue: Pending[] = [];
  private running: Pending[] | null = null;
  private kickTimer: NodeJS.Timeout | null = null;
  private kickQueued = false;
  /** Batches with answers still to give (answersPerTurn). */
  private answering = 0;
  private closing: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  private readonly latency: Window;
  private readonly batchTime: Window;
  private readonly counts = { completed: 0, failed: 0, batches: 0, busy: 0, timeout: 0, aborted: 0, closed: 0 };
  private readonly batchSizes: Record<string, number> = {};
  private readonly paddedSizes: Record<string, number> = {};
  /** The measured timings behind the prepared sizes, when created with calibrate. */
  calibration: Calibration | null = null;

  private constructor(
    readonly model: Model,
    private readonly runner: BatchRunner,
    private readonly ownsModel: boolean,
    readonly maxBatchSize: number,
    readonly maxQueueDelayMs: number,
    readonly maxQueue: number,
    readonly timeoutMs: number,
    statsWindow: number,
    readonly answersPerTurn: number,
  ) {
    this.latency = new Window(statsWindow);
    this.batchTime = new Window(statsWindow);
  }

  /**
   * A session over `source`: a Model (used where it is, not disposed by close()) or the path of
   * a weights file (restoreModel; the session owns that model). Recorded predictors are
   * prepared here.
   */
  static async create(source: Model | string, opts: SessionOptions = {}): Promise<InferenceSession> {
    const op = 'InferenceSession.create';
    if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${String(opts)}`);
    const maxBatchSize = optNumber(op, 'maxBatchSize', opts.maxBatchSize, 32, 1, true);
    const maxQueueDelayMs = optNumber(op, 'maxQueueDelayMs', opts.maxQueueDelayMs, 0, 0, false);
    const maxQueue = optNumber(op, 'maxQueue', opts.maxQueue, 1024, 1, true);
    const timeoutMs = optNumber(op, 'timeoutMs', opts.timeoutMs, 0, 0, false);
    const statsWindow = optNumber(op, 'statsWindow', opts.statsWindow, 4096, 1, true);
    const answersPerTurn = optNumber(op, 'answersPerTurn', opts.answersPerTurn, 8, 1, true);
    const sizes = preparedSizes(op, opts.batchSizes, maxBatchSize, opts.batchInvariant === true);
    const precision = opts.precision ?? 'fp32';
    if (!PREDICTOR_PRECISIONS.includes(precision))
      throw new ArgumentError(`${op}: unknown precision ${String(precision)} (expected ${PREDICTOR_PRECISIONS.join(' or ')})`);
    let model: Model;
    let owns: boolean;
    if (source instanceof Model) {
      if (opts.device !== undefined && toDevice(opts.device) !== source.device)
        throw new ArgumentError(
          `${op}: the model is on ${source.device.name} but 'device' says ${toDevice(opts.device).name}; move it with model.to() first`,
        );
      model = source;
      owns = false;
    } else if (typeof source === 'string' && source !== '') {
      // restoreModel reads the weights file; until weights-only restores land (issue: weights
      // files alone restorable) it also wants the .optim twin beside it.
      try {
        ({ model } = await restoreModel(source, { device: opts.device }));
      } catch (e) {
        const err = e as Error & { code?: string };
        if (typeof err?.code === 'string' && err.code.startsWith('ND_')) throw e;
        // fs errors (ENOENT, EACCES) become coded ones naming the file.
        throw new ConvkitError(
          err?.code === 'ENOENT' ? 'ND_ARG' : 'ND_FORMAT',
          `${op}: cannot load the weights file '${source}': ${err?.message ?? String(e)}`,
          { cause: e },
        );
      }
      owns = true;
    } else {
      throw new ArgumentError(`${op}: 'source' must be a Model or the path of a weights file, got ${String(source)}`);
    }
    if (precision === 'bf16' && model.device.kind !== 'cpu') {
      if (owns) model.dispose();
      throw new ArgumentError(`${op}: precision 'bf16' runs on CPU streams only; the model is on ${model.device.name}`);
    }
    const runner = new BatchRunner(model, model.device, sizes, precision);
    try {
      runner.prepare();
      const s = new InferenceSession(model, runner, owns, maxBatchSize, maxQueueDelayMs, maxQueue, timeoutMs, statsWindow, answersPerTurn);
      if (opts.calibrate) s.calibration = await runner.calibrate();
      else if (opts.warmup)
        for (const b of runner.batchSizes) await runner.run(Array.from({ length: b }, () => new Float32Array(runner.sampleSize)));
      return s;
    } catch (e) {
      runner.dispose();
      if (owns) model.dispose();
      throw e;
    }
  }

  get device(): Device {
    return this.runner.device;
  }

  get inputShape(): readonly number[] {
    return this.model.inputShape;
  }

  /** Prepared batch sizes, ascending. */
  get preparedBatchSizes(): readonly number[] {
    return this.runner.batchSizes;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** The output row (class probabilities) of one sample. */
  async run(input: SampleInput, opts: RunOptions = {}): Promise<Float32Array> {
    const op = `InferenceSession.run(${this.model.name})`;
    this.refuseIfClosed(op);
    const x = input instanceof Tensor ? await this.fromTensor(op, input) : this.fromArray(op, input, opts?.borrowInput === true);
    return this.enqueue(op, x, opts);
  }

  /**
   * The output row of one image given as its decoded pixels (imageToPixels for this model's
   * input shape, e.g. from a decode worker): 256*256*3 RGB bytes for a [3, S, S] model, H*W grey
   * bytes for a [1, H, W] one. They are normalised into the batch when it is assembled, so the
   * float sample is never made on its own: a third of the memory per queued AlexNet request, no
   * copy and no finite check (bytes cannot be NaN). The session reads `pixels` until the promise
   * settles: do not write to them before (a decoder's fresh array is never reused).
   */
  async runPixels(pixels: Uint8Array, opts: RunOptions = {}): Promise<Float32Array> {
    const op = `InferenceSession.runPixels(${this.model.name})`;
    this.refuseIfClosed(op);
    if (!(pixels instanceof Uint8Array))
      throw new ArgumentError(`${op}: 'pixels' must be a Uint8Array (imageToPixels), got ${typeof pixels}`);
    const want = pixelLength(this.model.inputShape);
    if (pixels.length !== want)
      throw new ShapeError(`${op}: a ${fmtShape(this.model.inputShape)} input is made from ${want} pixel bytes, got ${pixels.length}`);
    return this.enqueue(op, pixels, opts);
  }

  private refuseIfClosed(op: string): void {
    if (this.closing) {
      this.counts.closed++;
      throw new ClosedError(`${op}: the session is closed`);
    }
  }

  private enqueue(op: string, x: BatchInput, opts: RunOptions): Promise<Float32Array> {
    const timeoutMs = optNumber(op, 'timeoutMs', opts?.timeoutMs, this.timeoutMs, 0, false);
    const signal = opts?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ArgumentError(`${op}: 'signal' must be an AbortSignal`);
    // Checked again: the read of a Tensor (or a decode) before this may have let close() happen.
    this.refuseIfClosed(op);
    if (signal?.aborted) {
      this.counts.aborted++;
      throw new AbortedError(`${op}: aborted before it was queued`, signal.reason);
    }
    if (this.queue.length >= this.maxQueue) {
      this.counts.busy++;
      throw new BusyError(`${op}: the queue is full (${this.queue.length} waiting, maxQueue ${this.maxQueue})`);
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const p: Pending = {
        input: x,
        start: performance.now(),
        resolve,
        reject,
        settled: false,
        timer: null,
        signal,
        onAbort: null,
        queued: true,
      };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.counts.timeout++;
          this.settle(
            p,
            new TimeoutError(`${op}: no answer within ${timeoutMs} ms (${p.queued ? 'still queued' : 'its batch was running'})`),
          );
        }, timeoutMs);
      }
      if (signal) {
        p.onAbort = () => {
          this.counts.aborted++;
          this.settle(p, new AbortedError(`${op}: aborted`, signal.reason));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.kick();
    });
  }

  /**
   * The output row of one encoded image (JPEG/PNG bytes or a file path), decoded with sharp to
   * the model's input (image-input.ts). Undecodable images reject with ND_FORMAT.
   */
  async runImage(image: string | Uint8Array, opts: RunOptions = {}): Promise<Float32Array> {
    const op = `InferenceSession.runImage(${this.model.name})`;
    this.refuseIfClosed(op);
    return this.enqueue(op, await imageToPixels(image, this.model.inputShape), opts);
  }

  private fromArray(op: string, input: ArrayLike<number>, borrow: boolean): Float32Array {
    const per = this.runner.sampleSize;
    if (input === null || typeof input !== 'object' || typeof (input as ArrayLike<number>).length !== 'number')
      throw new ArgumentError(
        `${op}: the input must be a Float32Array, an array of numbers or a Tensor, got ${input === null ? 'null' : typeof input}`,
      );
    if (input.length !== per)
      throw new ShapeError(`${op}: one sample of ${fmtShape(this.model.inputShape)} is ${per} values, got ${input.length}`);
    // A copy: the caller may reuse its buffer while the request waits. slice() of a Float32Array
    // is one memcpy; Float32Array.from walks it through the iterator protocol.
    const x = input instanceof Float32Array ? (borrow ? input : input.slice()) : Float32Array.from(input as ArrayLike<number>);
    // Native and vectorised: a JS loop over AlexNet's 155k values took 0.25 ms of the event loop
    // per request, tens of milliseconds when a batch's worth of requests arrived together.
    const bad = native.firstNonFinite(x);
    if (bad >= 0) throw new ArgumentError(`${op}: input value ${bad} is ${x[bad]}, not a finite number`);
    return x;
  }

  private async fromTensor(op: string, t: Tensor): Promise<Float32Array> {
    const want = this.model.inputShape;
    const s = t.shape;
    const lead = s.length === want.length + 1 ? 1 : 0;
    if ((lead && s[0] !== 1) || s.length - lead !== want.length || want.some((d, i) => s[i + lead] !== d))
      throw new ShapeError(`${op}: a sample tensor must be ${fmtShape(want)} or [1, ${want.join(', ')}], got ${fmtShape(s)}`);
    if (t.dtype !== 'float32') throw new ArgumentError(`${op}: a sample tensor must be float32, got ${t.dtype}`);
    return (await t.data()) as Float32Array;
  }

  /** Starts the next batch when none runs and one is due; otherwise arms the delay timer. */
  private kick(): void {
    if (this.running || this.kickQueued || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0]!.start;
    const due = this.queue.length >= this.maxBatchSize || waited >= this.maxQueueDelayMs || this.closing !== null;
    if (!due) {
      this.kickTimer ??= setTimeout(() => {
        this.kickTimer = null;
        this.kick();
      }, this.maxQueueDelayMs - waited);
      return;
    }
    if (this.kickTimer) {
      clearTimeout(this.kickTimer);
      this.kickTimer = null;
    }
    // One loop turn later: requests that arrive in the same turn (a burst of run() calls, the
    // socket reads of one poll phase) join this batch.
    this.kickQueued = true;
    setImmediate(() => {
      this.kickQueued = false;
      void this.runBatch();
    });
  }

  private async runBatch(): Promise<void> {
    if (this.running) return;
    const batch = this.queue.splice(0, this.maxBatchSize);
    if (batch.length === 0) return this.checkDrained();
    for (const p of batch) p.queued = false;
    this.running = batch;
    const t0 = performance.now();
    try {
      const rows = await this.runner.run(batch.map((p) => p.input));
      this.counts.batches++;
      bump(this.batchSizes, batch.length);
      bump(this.paddedSizes, this.runner.sizeFor(batch.length));
      this.batchTime.add(performance.now() - t0);
      this.answer(batch, rows, 0);
    } catch (e) {
      for (const p of batch) {
        if (!p.settled) this.counts.failed++;
        this.settle(p, e as Error);
      }
    } finally {
      this.running = null;
      this.kick();
      this.checkDrained();
    }
  }

  /** Settles batch[from, from + answersPerTurn) now and the rest in the turns after. */
  private answer(batch: Pending[], rows: Float32Array[], from: number): void {
    const end = Math.min(batch.length, from + this.answersPerTurn);
    for (let i = from; i < end; i++) {
      const p = batch[i]!;
      if (!p.settled) {
        this.counts.completed++;
        this.latency.add(performance.now() - p.start);
      }
      this.settle(p, null, rows[i]);
    }
    if (end < batch.length) {
      this.answering++;
      setImmediate(() => {
        this.answering--;
        this.answer(batch, rows, end);
      });
    }
  }

  private settle(p: Pending, err: Error | null, row?: Float32Array): void {
    if (p.settled) return;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort);
    // A request that gives up while queued leaves the queue (and frees its place) now; one its
    // batch took is not searched for (a batch settles each of its rows here).
    if (p.queued) {
      p.queued = false;
      this.queue.splice(this.queue.indexOf(p), 1);
    }
    if (err) p.reject(err);
    else p.resolve(row!);
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.drained && this.queue.length === 0 && this.running === null && this.answering === 0) {
      const done = this.drained;
      this.drained = null;
      done();
    }
  }

  /**
   * Stops taking requests (ND_CLOSED), runs every queued one (their timeouts and signals still
   * apply), then releases the predictors, and the model when the session built it.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.drained = resolve;
      this.kick();
      this.checkDrained();
    }).then(() => {
      if (this.kickTimer) clearTimeout(this.kickTimer);
      this.runner.dispose();
      if (this.ownsModel) this.model.dispose();
    });
    return this.closing;
  }

  stats(): SessionStats {
    const c = this.counts;
    return {
      queueDepth: this.queue.length,
      inFlight: this.running?.length ?? 0,
      completed: c.completed,
      failed: c.failed,
      rejected: { busy: c.busy, timeout: c.timeout, aborted: c.aborted, closed: c.closed },
      batches: c.batches,
      batchSizes: { ...this.batchSizes },
      paddedSizes: { ...this.paddedSizes },
      latencyMs: this.latency.summary(),
      batchMs: this.batchTime.summary(),
    };
  }
}
