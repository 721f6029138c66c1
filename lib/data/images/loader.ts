/**
 * The image loader for AlexNet: a folder of class folders (or a list file) in, batches of
 * float32 NCHW crops out, prepared ahead on worker threads.
 *
 *   const loader = await imageFolderLoader('train/', { batchSize: 128, train: true, seed: 1 });
 *   for (let e = 0; e < epochs; e++) for await (const b of loader.epoch(e)) step(b.x, b.labels);
 *   await loader.close();
 *
 * An epoch's order depends only on (seed, epoch) and an image's crop, flip and lighting only on
 * (seed, epoch, image index), so `epoch(e, { startBatch })` resumes a run exactly. Each batch is
 * assigned to the least busy worker; at most `prefetch` batches are prepared beyond the one the
 * caller waits for. Decoded 256x256 images are kept in a byte-capped LRU cache on this thread
 * (SharedArrayBuffers, handed to workers without copying), so later epochs skip decoding.
 */
import os from 'node:os';
import { threadId, Worker } from 'node:worker_threads';
import { ArgumentError, ConvkitError, DisposedError, type ErrorCode } from '../../errors.js';
import { checkShard, shardLength, shardOrder, type ShardOptions } from '../shard.js';
import { epochOrder } from '../shuffle.js';
import { prepareBatch, type BatchJob } from './batch.js';
import { ByteLru } from './cache.js';
import { loadSharp } from './decode.js';
import type { FromImageWorker, ImageWorkerInit, ToImageWorker } from './loader-worker.js';
import { imageSource, type ImageSource } from './sources.js';
import { transformSpec, type TransformOptions, type TransformSpec } from './transform.js';
import { optInt, siblingWorkerUrl } from '../loader-util.js';

export interface ImageLoaderOptions extends TransformOptions {
  batchSize: number;
  /** Random crops, flips and lighting (default false: the centre crop). */
  train?: boolean;
  /** 227 (default) or 224. */
  crop?: number;
  /** Any safe integer (default 0). */
  seed?: number;
  /** Shuffle each epoch (default: the value of train). */
  shuffle?: boolean;
  /** Use only the first N images in source order (before shuffling). */
  limit?: number;
  /** A list file whose relative paths start from the loader's folder argument. */
  list?: string;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** This process's share of every epoch in a process group (../shard.ts, as DataLoaderOptions.shard). */
  shard?: ShardOptions;
  /** Worker threads (default min(2, os.availableParallelism())); 0 prepares on the calling thread. */
  workers?: number;
  /** Batches prepared beyond the one awaited (default 2 per worker, at most 64). */
  prefetch?: number;
  /** Bytes of decoded images to keep (default 1 GiB; 0: no cache). */
  cacheBytes?: number;
  /** Check at start that every listed file exists (default true). */
  checkFiles?: boolean;
}

export interface ImageBatch {
  /** n * 3 * crop * crop values, NCHW. */
  readonly x: Float32Array;
  readonly labels: Int32Array;
  /** The images' positions in the source (0-based, in source order). */
  readonly ids: Int32Array;
  readonly batchSize: number;
  readonly shape: [number, number, number, number];
  readonly epoch: number;
  /** The batch's position in its epoch, 0-based. */
  readonly index: number;
  /** The thread that prepared it (the main thread's is 0). */
  readonly threadId: number;
}

const MAX_PREFETCH = 64;
const DEFAULT_CACHE = 1024 ** 3;

type Reply = (FromImageWorker & { type: 'batch' }) | { type: 'failed'; error: Error };

interface EpochState {
  id: number;
  epoch: number;
  ready: Map<number, Reply>;
  error: Error | null;
  wake: (() => void) | null;
}

interface Slot {
  worker: Worker;
  /** "epochId:batch" of the batches assigned and not yet answered. */
  pending: Set<string>;
}

export class ImageFolderLoader {
  /** Images in the loader (after `limit`). */
  readonly count: number;
  /** classes[label] is the class name. */
  readonly classes: string[];
  readonly paths: readonly string[];
  readonly labels: Int32Array;
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  /** This rank's share of each epoch, or null for every image. */
  readonly shard: Required<ShardOptions> | null;
  /** Images in each epoch on this rank (`count` unless sharded). */
  readonly samplesPerEpoch: number;
  readonly crop: number;
  readonly train: boolean;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly workers: number;
  readonly prefetch: number;
  readonly #spec: TransformSpec;
  readonly #cache: ByteLru<number, Uint8Array>;
  #slots: Slot[] = [];
  #active: EpochState | null = null;
  #nextId = 1;
  #waiters = 0;
  #closed = false;

  constructor(source: ImageSource, opts: ImageLoaderOptions) {
    if (opts?.batchSize === undefined) throw new ArgumentError(`imageFolderLoader: 'batchSize' is required`);
    this.batchSize = optInt('imageFolderLoader', 'batchSize', opts.batchSize, 1, 1);
    this.seed = optInt('imageFolderLoader', 'seed', opts.seed, 0, Number.MIN_SAFE_INTEGER);
    this.train = opts.train ?? false;
    this.shuffle = opts.shuffle ?? this.train;
    this.workers = optInt('imageFolderLoader', 'workers', opts.workers, Math.min(2, os.availableParallelism()), 0, 256);
    this.prefetch = optInt(
      'imageFolderLoader',
      'prefetch',
      opts.prefetch,
      Math.min(MAX_PREFETCH, Math.max(2, 2 * this.workers)),
      0,
      MAX_PREFETCH,
    );
    this.#spec = transformSpec('imageFolderLoader', opts, this.train, this.seed);
    this.crop = this.#spec.crop;
    const limit = optInt('imageFolderLoader', 'limit', opts.limit, source.paths.length, 1);
    this.count = Math.min(limit, source.paths.length);
    this.paths = source.paths.slice(0, this.count);
    this.labels = source.labels.slice(0, this.count);
    this.classes = source.classes;
    this.shard = checkShard('imageFolderLoader', opts.shard);
    this.samplesPerEpoch = this.shard ? shardLength(this.count, this.shard) : this.count;
    const per = this.samplesPerEpoch;
    this.batchesPerEpoch = opts.dropLast ? Math.floor(per / this.batchSize) : Math.ceil(per / this.batchSize);
    this.#cache = new ByteLru(optInt('imageFolderLoader', 'cacheBytes', opts.cacheBytes, DEFAULT_CACHE, 0));
  }

  /** The image indices of `epoch` in the order its batches take them. */
  order(epoch: number): Uint32Array {
    optInt('imageFolderLoader', 'epoch', epoch, 0, 0);
    const order = epochOrder(this.count, this.seed, epoch, this.shuffle);
    return this.shard ? shardOrder(order, this.shard) : order;
  }

  /** What the decoded-image cache holds, and how often it served. */
  cacheStats(): { images: number; bytes: number; capacity: number; hits: number; misses: number } {
    return { images: this.#cache.size, bytes: this.#cache.bytes, capacity: this.#cache.capacity, ...this.#cache.stats };
  }

  /**
   * The batches of `epoch` from `startBatch` (default 0). A bad image fails its batch's
   * iteration with an ND_FORMAT error naming the file; starting another epoch ends this one's
   * iteration with an error; so does close().
   */
  epoch(epoch: number, opts: { startBatch?: number } = {}): AsyncGenerator<ImageBatch, void, undefined> {
    if (this.#closed) throw new DisposedError('imageFolderLoader.epoch: the loader is closed');
    optInt('imageFolderLoader', 'epoch', epoch, 0, 0);
    const start = optInt('imageFolderLoader', 'startBatch', opts.startBatch, 0, 0, this.batchesPerEpoch);
    return this.workers === 0 ? this.#iterateHere(epoch, start) : this.#iterateWorkers(epoch, start);
  }

  /** Terminates the workers; pending iterations reject. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#active) this.#fail(this.#active, new DisposedError('imageFolderLoader: closed during iteration'));
    const slots = this.#slots;
    this.#slots = [];
    this.#cache.clear();
    await Promise.all(
      slots.map(({ worker }) => {
        worker.removeAllListeners();
        worker.on('error', () => {}); // nothing can be reported any more
        return worker.terminate();
      }),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #job(epoch: number, order: Uint32Array, b: number): BatchJob {
    const begin = b * this.batchSize;
    const ids = Int32Array.from(order.subarray(begin, Math.min(begin + this.batchSize, order.length)));
    return {
      epoch,
      ids,
      paths: Array.from(ids, (i) => this.paths[i]!),
      labels: ids.map((i) => this.labels[i]!),
      cached: Array.from(ids, (i) => this.#cache.get(i) ?? null),
      share: this.#cache.capacity > 0 && this.workers > 0,
    };
  }

  #keep(decoded: [number, Uint8Array][]): void {
    if (this.#cache.capacity > 0) for (const [i, img] of decoded) this.#cache.set(i, img);
  }

  #batch(epoch: number, index: number, x: Float32Array, labels: Int32Array, ids: Int32Array, tid: number): ImageBatch {
    const n = labels.length;
    return { x, labels, ids, batchSize: n, shape: [n, 3, this.crop, this.crop], epoch, index, threadId: tid };
  }

  #error(epoch: number, index: number, e: unknown): ConvkitError {
    const err = e as Error & { code?: string };
    const code: ErrorCode = err?.code?.startsWith('ND_') ? (err.code as ErrorCode) : 'ND_INTERNAL';
    return new ConvkitError(code, `imageFolderLoader: batch ${index} of epoch ${epoch}: ${err?.message ?? String(e)}`, { cause: e });
  }

  async *#iterateHere(epoch: number, start: number): AsyncGenerator<ImageBatch, void, undefined> {
    const order = this.order(epoch);
    for (let b = start; b < this.batchesPerEpoch; b++) {
      if (this.#closed) throw new DisposedError('imageFolderLoader: closed during iteration');
      const job = this.#job(epoch, order, b);
      let out;
      try {
        out = await prepareBatch(this.#spec, job);
      } catch (e) {
        throw this.#error(epoch, b, e);
      }
      this.#keep(out.decoded);
      yield this.#batch(epoch, b, out.x, out.labels, job.ids, threadId);
    }
  }

  async *#iterateWorkers(epoch: number, start: number): AsyncGenerator<ImageBatch, void, undefined> {
    const end = this.batchesPerEpoch;
    if (start >= end) return;
    await loadSharp(); // on this thread before any worker loads it
    if (this.#closed) throw new DisposedError('imageFolderLoader.epoch: the loader is closed');
    if (this.#active)
      this.#fail(
        this.#active,
        new ArgumentError(`imageFolderLoader: epoch ${this.#active.epoch} was still being iterated when epoch ${epoch} started`),
      );
    this.#ensureWorkers();
    const state: EpochState = { id: this.#nextId++, epoch, ready: new Map(), error: null, wake: null };
    this.#active = state;
    const order = this.order(epoch);
    let dispatched = start;
    let finished = false;
    try {
      for (let b = start; b < end; b++) {
        if (state.error) throw state.error;
        for (; dispatched < end && dispatched <= b + this.prefetch; dispatched++) this.#dispatch(state, order, dispatched);
        const m = await this.#take(state, b);
        if (state.error) throw state.error; // closed or superseded while this batch arrived
        if (m.type === 'failed') throw m.error;
        yield this.#batch(epoch, b, m.x, m.labels, m.ids, m.threadId);
      }
      finished = true;
    } finally {
      if (this.#active === state) this.#active = null;
      if (!finished) this.#cancel(state.id);
    }
  }

  #dispatch(state: EpochState, order: Uint32Array, b: number): void {
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    slot.pending.add(`${state.id}:${b}`);
    const msg: ToImageWorker = { type: 'batch', id: state.id, index: b, job: this.#job(state.epoch, order, b) };
    slot.worker.postMessage(msg);
  }

  #cancel(id: number): void {
    const msg: ToImageWorker = { type: 'cancel', id };
    for (const s of this.#slots) {
      for (const k of s.pending) if (k.startsWith(`${id}:`)) s.pending.delete(k);
      s.worker.postMessage(msg);
    }
  }

  /** Waits for batch `index` of `state`, keeping the process alive only while waiting. */
  async #take(state: EpochState, index: number): Promise<Reply> {
    for (;;) {
      if (state.error) throw state.error;
      const m = state.ready.get(index);
      if (m) {
        state.ready.delete(index);
        return m;
      }
      if (this.#waiters++ === 0) for (const s of this.#slots) s.worker.ref();
      try {
        await new Promise<void>((resolve) => (state.wake = resolve));
      } finally {
        if (--this.#waiters === 0) for (const s of this.#slots) s.worker.unref();
      }
    }
  }

  #fail(state: EpochState, err: Error): void {
    state.error ??= err;
    if (this.#active === state) this.#active = null;
    state.wake?.();
    state.wake = null;
  }

  #ensureWorkers(): void {
    const init: ImageWorkerInit = { spec: this.#spec };
    while (this.#slots.length < this.workers) {
      const w = new Worker(siblingWorkerUrl(import.meta.url, 'loader-worker'), { workerData: init });
      const slot: Slot = { worker: w, pending: new Set() };
      if (this.#waiters === 0) w.unref(); // an idle loader never keeps the process alive
      w.on('message', (m: FromImageWorker) => this.#onMessage(slot, m));
      const lost = (err: Error): void => {
        const i = this.#slots.indexOf(slot);
        if (i < 0) return; // already replaced: its 'exit' follows its 'error'
        this.#slots.splice(i, 1); // the next epoch starts a fresh one
        if (this.#active) this.#fail(this.#active, err);
      };
      w.on('error', (e) => lost(new ConvkitError('ND_INTERNAL', `imageFolderLoader: a worker crashed: ${e.message}`, { cause: e })));
      w.on('exit', (code) => lost(new ConvkitError('ND_INTERNAL', `imageFolderLoader: a worker exited with code ${code}`)));
      this.#slots.push(slot);
    }
  }

  #onMessage(slot: Slot, m: FromImageWorker): void {
    slot.pending.delete(`${m.id}:${m.index}`);
    if (m.type === 'batch') this.#keep(m.decoded); // cached even when its epoch was abandoned
    const s = this.#active;
    if (!s || m.id !== s.id) return;
    if (m.type === 'batch') s.ready.set(m.index, m);
    else {
      const cause = Object.assign(new Error(m.message), { name: m.name, stack: m.stack, code: m.code });
      s.ready.set(m.index, { type: 'failed', error: this.#error(s.epoch, m.index, cause) });
    }
    s.wake?.();
    s.wake = null;
  }
}

/**
 * A loader over `path`: a class-per-folder tree, or a list file (or, with `opts.list`, the
 * folder that list's relative paths start from). Lists and checks the files before resolving.
 */
export async function imageFolderLoader(path: string, opts: ImageLoaderOptions): Promise<ImageFolderLoader> {
  if (typeof path !== 'string' || path === '')
    throw new ArgumentError(`imageFolderLoader: 'path' must be a folder or a list file, got ${String(path)}`);
  if (opts == null || typeof opts !== 'object') throw new ArgumentError(`imageFolderLoader: 'opts' with batchSize is required`);
  // Validate the options before touching the file system.
  const probe: ImageSource = { paths: ['-'], labels: new Int32Array(1), classes: ['-'] };
  void new ImageFolderLoader(probe, opts);
  const source = await imageSource(path, { list: opts.list, checkFiles: opts.checkFiles, limit: opts.limit });
  return new ImageFolderLoader(source, opts);
}
