/**
 * DataLoader: seeded shuffling, batching and normalization of an InMemoryDataset, with the
 * batches prepared ahead on a worker thread so that preparing them overlaps training.
 *
 *   const loader = new DataLoader(ds, { batchSize: 64, seed: 1, normalize: { form: 'classic' } });
 *   for (let e = 0; e < epochs; e++) for await (const b of loader.epoch(e)) train(b.x, b.labels);
 *   await loader.close();
 *
 * An epoch's order depends only on (seed, epoch), so `loader.epoch(e, { startBatch })` resumes a
 * run from a checkpoint at the same batch with the same order. Batches are plain typed arrays
 * (not Tensors), each in its own buffer that the caller owns.
 */
import { threadId, Worker } from 'node:worker_threads';
import { ArgumentError, ConvkitError, DisposedError, type ErrorCode } from '../errors.js';
import { batchGeometry, fillBatch, type BatchGeometry, type Normalize } from './batch.js';
import type { InMemoryDataset } from './dataset.js';
import type { FromWorker, ToWorker, WorkerInit } from './loader-worker.js';
import { checkShard, shardLength, shardOrder, type ShardOptions } from './shard.js';
import { epochOrder } from './shuffle.js';
import { optInt, siblingWorkerUrl } from './loader-util.js';

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true); false keeps the dataset order. */
  shuffle?: boolean;
  /** Any safe integer (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /**
   * This process's share of every epoch in a process group (shard.ts, as PyTorch's
   * DistributedSampler): the same seeded order on every rank, every worldSize-th sample from
   * `rank` on, the uneven tail dropped or padded. Absent: the whole dataset.
   */
  shard?: ShardOptions;
  /** Default { form: 'modern' }: x / 255, no padding. */
  normalize?: Normalize;
  /** Batches prepared ahead on a worker thread (default 3, at most 64); 0 prepares each batch on the calling thread when asked for. */
  prefetch?: number;
  /** @internal test hooks, passed to the worker. */
  debug?: WorkerInit['debug'];
}

export interface Batch {
  /** n * c * h * w normalized values, NCHW. */
  readonly x: Float32Array;
  readonly labels: Int32Array;
  /** n, the number of samples in this batch (the last one may be short). */
  readonly batchSize: number;
  readonly shape: [number, number, number, number];
  readonly epoch: number;
  /** The batch's position in its epoch, 0-based. */
  readonly index: number;
  /** The thread that prepared the batch (the main thread's is 0). */
  readonly threadId: number;
}

const MAX_PREFETCH = 64;

/** Per-epoch state on the main thread: batches received and not yet taken, and who waits. */
interface EpochState {
  id: number;
  epoch: number;
  ready: Map<number, FromWorker & { type: 'batch' }>;
  error: Error | null;
  wake: (() => void) | null;
}

export class DataLoader {
  readonly dataset: InMemoryDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  /** This rank's share of each epoch, or null for the whole dataset. */
  readonly shard: Required<ShardOptions> | null;
  /** Samples in each epoch on this rank (the dataset's count unless sharded). */
  readonly samplesPerEpoch: number;
  /** Batches in each epoch (the same for every epoch). */
  readonly batchesPerEpoch: number;
  /** [c, h, w] of one prepared sample (after padding). */
  readonly sampleShape: [number, number, number];
  readonly #geometry: BatchGeometry;
  readonly #debug: WorkerInit['debug'];
  #worker: Worker | null = null;
  #active: EpochState | null = null;
  #nextId = 1;
  /** Iterations waiting for the worker; the worker keeps the process alive only while > 0. */
  #waiters = 0;
  #closed = false;

  constructor(dataset: InMemoryDataset, opts: DataLoaderOptions) {
    if (dataset == null || !(dataset.images instanceof Uint8Array) || !(dataset.labels instanceof Int32Array))
      throw new ArgumentError(`DataLoader: 'dataset' must be an InMemoryDataset, got ${String(dataset)}`);
    this.dataset = dataset;
    if (opts?.batchSize === undefined) throw new ArgumentError(`DataLoader: 'batchSize' is required`);
    this.batchSize = optInt('DataLoader', 'batchSize', opts.batchSize, 1, 1);
    this.seed = optInt('DataLoader', 'seed', opts.seed, 0, Number.MIN_SAFE_INTEGER);
    this.prefetch = optInt('DataLoader', 'prefetch', opts.prefetch, 3, 0, MAX_PREFETCH);
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.#geometry = batchGeometry(opts.normalize ?? { form: 'modern' }, dataset.channels, dataset.height, dataset.width);
    this.sampleShape = [dataset.channels, this.#geometry.outHeight, this.#geometry.outWidth];
    this.shard = checkShard('DataLoader', opts.shard);
    this.samplesPerEpoch = this.shard ? shardLength(dataset.count, this.shard) : dataset.count;
    const per = this.samplesPerEpoch;
    this.batchesPerEpoch = this.dropLast ? Math.floor(per / this.batchSize) : Math.ceil(per / this.batchSize);
    this.#debug = opts.debug;
  }

  /** The sample indices of `epoch` in the order its batches take them. */
  order(epoch: number): Uint32Array {
    optInt('DataLoader', 'epoch', epoch, 0, 0);
    const order = epochOrder(this.dataset.count, this.seed, epoch, this.shuffle);
    return this.shard ? shardOrder(order, this.shard) : order;
  }

  /**
   * The batches of `epoch` (a non-negative integer), from `startBatch` (default 0) to the end.
   * Starting another epoch ends this one's iteration with an error; so does close().
   */
  epoch(epoch: number, opts: { startBatch?: number } = {}): AsyncGenerator<Batch, void, undefined> {
    if (this.#closed) throw new DisposedError('DataLoader.epoch: the loader is closed');
    optInt('DataLoader', 'epoch', epoch, 0, 0);
    const start = optInt('DataLoader', 'startBatch', opts.startBatch, 0, 0, this.batchesPerEpoch);
    return this.prefetch === 0 ? this.#iterateHere(epoch, start) : this.#iterateWorker(epoch, start);
  }

  /** Terminates the worker; pending iterations reject. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#active) this.#fail(this.#active, new DisposedError('DataLoader: closed during iteration'));
    const w = this.#worker;
    this.#worker = null;
    if (w) {
      w.removeAllListeners();
      w.on('error', () => {}); // nothing can be reported any more
      await w.terminate();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #batch(epoch: number, index: number, x: Float32Array, labels: Int32Array, n: number, tid: number): Batch {
    return { x, labels, batchSize: n, shape: [n, ...this.sampleShape], epoch, index, threadId: tid };
  }

  async *#iterateHere(epoch: number, start: number): AsyncGenerator<Batch, void, undefined> {
    const order = this.order(epoch);
    const per = this.sampleShape[0] * this.sampleShape[1] * this.sampleShape[2];
    for (let b = start; b < this.batchesPerEpoch; b++) {
      if (this.#closed) throw new DisposedError('DataLoader: closed during iteration');
      const begin = b * this.batchSize;
      const n = Math.min(this.batchSize, order.length - begin);
      const x = new Float32Array(n * per);
      const labels = new Int32Array(n);
      fillBatch(this.#geometry, this.dataset.images, this.dataset.labels, order, begin, begin + n, x, labels);
      yield this.#batch(epoch, b, x, labels, n, threadId);
    }
  }

  async *#iterateWorker(epoch: number, start: number): AsyncGenerator<Batch, void, undefined> {
    if (this.#closed) throw new DisposedError('DataLoader.epoch: the loader is closed');
    const end = this.batchesPerEpoch;
    if (start >= end) return;
    if (this.#active)
      this.#fail(
        this.#active,
        new ArgumentError(`DataLoader: epoch ${this.#active.epoch} was still being iterated when epoch ${epoch} started`),
      );
    const worker = this.#ensureWorker();
    const state: EpochState = { id: this.#nextId++, epoch, ready: new Map(), error: null, wake: null };
    this.#active = state;
    const order = this.order(epoch);
    const credits = Math.min(this.prefetch, end - start);
    const msg: ToWorker = { type: 'epoch', id: state.id, order, batchSize: this.batchSize, start, end, credits };
    worker.postMessage(msg, [order.buffer as ArrayBuffer]);
    let finished = false;
    try {
      for (let b = start; b < end; b++) {
        const m = await this.#take(state, b);
        this.#post({ type: 'ack', id: state.id });
        yield this.#batch(epoch, b, m.x, m.labels, m.n, m.threadId);
      }
      finished = true;
    } finally {
      if (this.#active === state) {
        this.#active = null;
        if (!finished) this.#post({ type: 'cancel', id: state.id });
      }
    }
  }

  /** Waits for batch `index` of `state`, keeping the process alive only while waiting. */
  async #take(state: EpochState, index: number): Promise<FromWorker & { type: 'batch' }> {
    for (;;) {
      if (state.error) throw state.error;
      const m = state.ready.get(index);
      if (m) {
        state.ready.delete(index);
        return m;
      }
      // Counted: a superseded epoch's waiter must not unref the worker another epoch waits on.
      if (this.#waiters++ === 0) this.#worker?.ref();
      try {
        await new Promise<void>((resolve) => (state.wake = resolve));
      } finally {
        if (--this.#waiters === 0) this.#worker?.unref();
      }
    }
  }

  #post(msg: ToWorker): void {
    this.#worker?.postMessage(msg);
  }

  #fail(state: EpochState, err: Error): void {
    state.error ??= err;
    if (this.#active === state) this.#active = null;
    state.wake?.();
    state.wake = null;
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const init: WorkerInit = { images: this.dataset.images, labels: this.dataset.labels, geometry: this.#geometry, debug: this.#debug };
    const w = new Worker(siblingWorkerUrl(import.meta.url, 'loader-worker'), { workerData: init });
    if (this.#waiters === 0) w.unref(); // an idle loader never keeps the process alive
    w.on('message', (m: FromWorker) => {
      const s = this.#active;
      if (!s || m.id !== s.id) return; // a cancelled epoch's leftovers
      if (m.type === 'batch') s.ready.set(m.index, m);
      else {
        const cause = Object.assign(new Error(m.message), { name: m.name, stack: m.stack, code: m.code });
        const code: ErrorCode = m.code?.startsWith('ND_') ? (m.code as ErrorCode) : 'ND_INTERNAL';
        this.#fail(
          s,
          new ConvkitError(code, `DataLoader: preparing batch ${m.index} of epoch ${s.epoch} failed in the prefetch worker: ${m.message}`, {
            cause,
          }),
        );
      }
      s.wake?.();
      s.wake = null;
    });
    const lost = (err: Error): void => {
      if (this.#worker !== w) return; // already replaced: its 'exit' follows its 'error'
      this.#worker = null; // the next epoch starts a fresh worker
      if (this.#active) this.#fail(this.#active, err);
    };
    w.on('error', (e) => lost(new ConvkitError('ND_INTERNAL', `DataLoader: the prefetch worker crashed: ${e.message}`, { cause: e })));
    w.on('exit', (code) => lost(new ConvkitError('ND_INTERNAL', `DataLoader: the prefetch worker exited with code ${code}`)));
    this.#worker = w;
    return w;
  }
}
