/**
 * DataParallel: one model replica per device (cpu:0, cpu:1, ... or cuda:0..N-1; the code path is
 * the same), used where a model is: fit(), evaluate(), checkpoints, the CLI's --devices.
 *
 * - Each replica keeps its parameters and gradients in its own flat buffers (model.flat).
 *   Replica 0's parameters are broadcast once, at construction.
 * - A batch is split into contiguous shards (lib/parallel/shards.ts, uneven splits included).
 *   Each replica's loss gradient is weighted by its share n_r / N and the gradients are summed:
 *   the gradient of the whole batch's mean loss, as one device would compute it.
 * - The gradients are all-reduced in buckets in reverse layer order (lib/parallel/buckets.ts:
 *   about 1 MB first, then up to 25 MB, as PyTorch DDP). The replicas' backward passes are
 *   queued in lockstep, one layer at a time, and a bucket's all-reduce is queued on every
 *   replica's stream right after the layers that write it, so it runs while the rest of the
 *   backward pass is still queued behind it. Everything is ordered on the streams; the JS thread
 *   never waits.
 * - Every replica applies the same SGD update (ReplicatedSGD): the reduced gradients are
 *   identical bytes everywhere, so the replicas stay identical. Checkpoints hold one copy
 *   (replica 0's), and load into a DataParallel or a single model alike.
 * - CPU replicas each get a share of the intra-op threads (Device.setThreads), so that two
 *   replicas on two cores run side by side.
 * - Dropout draws differ per replica (StochasticState.replica) and are reproducible from the seed.
 * - Beyond one process (`processGroup`, from initProcessGroup): one replica per process, the same
 *   buckets queued in the same place, each all-reduced over the ranks by the group's engine (Gloo
 *   on CPUs). Every rank must feed batches of the same size (the loaders' `shard` option does, as
 *   DistributedSampler); the loss and correct count are reduced over the ranks before they are
 *   reported, and fit() lets rank 0 alone write checkpoints, followed by a barrier.
 */
import { ArgumentError } from '../errors.js';
import { stochasticLayers, type Parameter } from '../layers/layer.js';
import { specFromConfig } from '../models/from-config.js';
import type { Model, NamedArray } from '../models/model.js';
import { buildModel } from '../models/model-spec.js';
import { native } from '../native.js';
import * as ops from '../ops/index.js';
import type { SGDOptions } from '../optim/sgd.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { DEFAULT_BUCKET_BYTES, DEFAULT_FIRST_BUCKET_BYTES, planBuckets, type GradientBucket } from './buckets.js';
import { ReplicatedSGD } from './replicated-sgd.js';
import { shapeSignature, type ProcessGroup } from './process-group.js';
import { shardBatch } from './shards.js';

export interface DataParallelOptions {
  devices: readonly (DeviceName | Device)[];
  /** The first gradient bucket's cap in bytes (default 1 MiB, as DDP). */
  firstBucketBytes?: number;
  /** Later buckets' cap in bytes (default 25 MiB, as DDP's bucket_cap_mb). */
  bucketBytes?: number;
  /** Intra-op threads of each CPU replica's stream; default: the pool's threads shared out (at least 1 each). */
  threadsPerReplica?: number;
  /**
   * A process group (initProcessGroup): this process's one replica (on `devices[0]`) joins the
   * replicas of every rank. Each rank's batches must have the same size.
   */
  processGroup?: ProcessGroup;
}

/** One batch's outcome across the replicas, read back without blocking. */
export interface ReplicatedStep {
  /** The whole batch's mean loss (the replicas' means weighted by their shard sizes). */
  loss: Promise<number>;
  /** Correct predictions over the whole batch. */
  correct: Promise<number>;
}

/** Builds the replica for `device` (replica index `replica`); every call must build the same architecture. */
export type ReplicaFactory = (device: Device, replica: number) => Model;

export class DataParallel {
  readonly devices: readonly Device[];
  readonly replicas: readonly Model[];
  /** The gradient buckets, in the order they are all-reduced. */
  readonly buckets: readonly GradientBucket[];
  readonly threadsPerReplica: number;
  /** The process group whose ranks hold the other replicas, or null within one process. */
  readonly processGroup: ProcessGroup | null;
  #checkedBatch = -1;
  #previousThreads: number[] = [];
  #disposed = false;

  constructor(factory: ReplicaFactory, o: DataParallelOptions) {
    const op = 'DataParallel';
    if (typeof factory !== 'function') throw new ArgumentError(`${op}: the first argument must be a function (device, replica) => Model`);
    if (!o || !Array.isArray(o.devices) || o.devices.length === 0)
      throw new ArgumentError(`${op}: 'devices' must list at least one device, e.g. ['cpu:0', 'cpu:1']`);
    // Kinds are checked from the names first, so that a CPU + GPU mix is ND_ARG on a machine
    // without a GPU too (resolving 'cuda:0' there is ND_NO_CUDA).
    const listed = o.devices.map((d) => String(d)).join(', ');
    const kinds = o.devices.map((d) => (typeof d === 'string' ? (d.startsWith('cuda') ? 'cuda' : 'cpu') : d.kind));
    if (kinds.some((k) => k !== kinds[0]))
      throw new ArgumentError(`${op}: 'devices' mixes kinds (${listed}); replicas are all CPU streams or all GPUs`);
    const devices = o.devices.map((d) => toDevice(d));
    const seen = new Set<string>();
    for (const d of devices) {
      if (seen.has(d.name)) throw new ArgumentError(`${op}: device ${d.name} is listed twice in 'devices' (${listed})`);
      seen.add(d.name);
    }
    const first = bytes(op, 'firstBucketBytes', o.firstBucketBytes ?? DEFAULT_FIRST_BUCKET_BYTES);
    const rest = bytes(op, 'bucketBytes', o.bucketBytes ?? DEFAULT_BUCKET_BYTES);
    const pg = o.processGroup ?? null;
    if (pg && devices.length !== 1)
      throw new ArgumentError(`${op}: with a process group each process runs one replica; 'devices' lists ${devices.length} (${listed})`);
    const threads = o.threadsPerReplica ?? Math.max(1, Math.floor(native.threads() / devices.length));
    if (!Number.isSafeInteger(threads) || threads < 1)
      throw new ArgumentError(`${op}: 'threadsPerReplica' must be a positive integer, got ${String(o.threadsPerReplica)}`);
    this.devices = devices;
    this.threadsPerReplica = threads;
    this.processGroup = pg;

    const replicas: Model[] = [];
    try {
      for (const [r, dev] of devices.entries()) {
        const m = factory(dev, r);
        replicas.push(m);
        if (m.device !== dev) m.to(dev);
        checkSameLayout(m, replicas[0], r);
        for (const { state } of stochasticLayers(m.net)) state.replica = r;
      }
    } catch (e) {
      for (const m of replicas) m.dispose();
      throw e;
    }
    this.replicas = replicas;
    if (devices[0].kind === 'cpu') this.#previousThreads = devices.map((d) => d.setThreads(threads));
    // One copy of the parameters: replica 0's (a factory may seed replicas differently).
    if (replicas.length > 1) ops.broadcast(this.flatValues(), { root: 0 });
    // Across processes the broadcast waits for checkRanks(): ranks holding different models must
    // not exchange buffers of different sizes.
    this.buckets = planBuckets(replicas[0].flat.layers, first, rest);
  }

  /**
   * Replicas of an existing model: replica 0 is `model` itself (moved to the first device if it is
   * elsewhere), the others are rebuilt from its config (model.config, as a checkpoint stores it)
   * and given its values by the broadcast. The model stays the caller's: dispose({ keepFirst: true }).
   */
  static of(model: Model, o: DataParallelOptions): DataParallel {
    return new DataParallel(
      (device, r) => (r === 0 ? model : buildModel(specFromConfig(model.config, `DataParallel.of(${model.name})`), device)),
      o,
    );
  }

  /** Replica 0: the model whose parameters checkpoints save and a single-device run would continue. */
  get module(): Model {
    return this.replicas[0];
  }
  get name(): string {
    return this.module.name;
  }
  get inputShape(): Shape {
    return this.module.inputShape;
  }
  get config(): Record<string, unknown> {
    return this.module.config;
  }
  /** Replica 0's device. */
  get device(): Device {
    return this.devices[0];
  }

  /** Replica 0's parameters (every replica holds the same values). */
  parameters(): Parameter[] {
    return this.module.parameters();
  }

  train(mode = true): this {
    for (const m of this.replicas) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** An SGD that updates every replica alike (state saved and loaded as replica 0's). */
  createOptimizer(o: SGDOptions): ReplicatedSGD {
    return new ReplicatedSGD(
      this.replicas.map((m) => m.parameters()),
      o,
    );
  }

  /**
   * Queues forward, loss and backward of one batch (host arrays, [N, ...inputShape] and N labels)
   * over the replicas, and the bucketed all-reduce of the gradients; the caller then steps the
   * optimizer. Returns at once; the loss and correct count resolve when the devices have run.
   */
  trainBatch(x: Float32Array, shape: readonly number[], labels: Int32Array): ReplicatedStep {
    this.checkLive('trainBatch');
    const n = shape[0];
    if (this.processGroup && this.processGroup.worldSize > 1 && this.#checkedBatch !== n)
      throw new ArgumentError(
        `${this.name} DataParallel.trainBatch: across processes, await checkRanks(${n}) before a batch of ${n} (fit() does): every rank must hold the same model and batch size`,
      );
    const shards = shardBatch(n, this.replicas.length, `${this.name} DataParallel.trainBatch`);
    const inputs = this.upload(x, shape, labels, shards);
    const walks: ReturnType<Model['beginTrainStep']>[] = [];
    // Across ranks, every rank's batch is the same size: each holds 1/worldSize of the whole.
    const ranks = this.processGroup?.worldSize ?? 1;
    try {
      for (const [r, m] of this.replicas.entries())
        walks.push(m.beginTrainStep(inputs[r].x, inputs[r].labels, { gradScale: shards[r].size / n / ranks }));
      const grads = this.replicas.map((m) => m.flat.grads);
      let next = 0;
      for (;;) {
        let index = -1;
        for (const w of walks) index = w.step();
        if (index < 0) break;
        // Every replica has now queued this layer's backward: its buckets can go.
        while (next < this.buckets.length && this.buckets[next].closesAt === index) this.reduceBucket(grads, this.buckets[next++]);
      }
      for (; next < this.buckets.length; next++) this.reduceBucket(grads, this.buckets[next]);
    } catch (e) {
      for (const w of walks) {
        w.abort();
        w.loss.dispose();
        w.correct.dispose();
      }
      throw e;
    } finally {
      disposeInputs(inputs);
    }
    return this.outcome(walks, shards, n);
  }

  /**
   * With a process group: resolves once every rank has built the same model (parameter shapes)
   * and feeds the same batch size, ND_ARG naming the ranks otherwise. fit() calls it before the
   * first batch of each size (trainBatch refuses a size it has not checked). The first check also
   * broadcasts rank 0's parameters.
   */
  async checkRanks(batchSize: number): Promise<void> {
    const pg = this.processGroup;
    if (!pg || pg.worldSize === 1 || this.#checkedBatch === batchSize) return;
    const first = this.#checkedBatch < 0;
    await pg.checkSame(
      `${this.name} parameter shapes and batch size`,
      shapeSignature(
        this.module.flat.entries.map((e) => e.shape),
        batchSize,
      ),
    );
    // The first check also starts every rank from rank 0's parameters.
    if (first) {
      pg.broadcast(this.module.flat.values, 0);
      this.module.flat.noteWrite();
    }
    this.#checkedBatch = batchSize;
  }

  /** One bucket of the gradients: summed over this process's replicas, then over the ranks. */
  private reduceBucket(grads: Tensor[], b: GradientBucket): void {
    if (grads.length > 1) ops.allReduce(grads, { op: 'sum', offset: b.offset, length: b.length });
    const pg = this.processGroup;
    if (pg && pg.worldSize > 1) pg.allReduce(grads[0], { op: 'sum', offset: b.offset, length: b.length });
  }

  /** The batch's loss and correct count from the replicas' results (shards weighted by size), over every rank. */
  private outcome(parts: { loss: Tensor; correct: Tensor }[], shards: readonly { size: number }[], n: number): ReplicatedStep {
    return this.overRanks(
      combine(
        parts,
        shards.map((s) => s.size / n),
      ),
      n,
    );
  }

  /**
   * A step's loss and correct count over every rank: this process's figures are summed with the
   * others' by one more collective, queued once they are known (every rank queues it at the same
   * point of its stream: after the next batch it queued, since fit() reads a step back then).
   */
  private overRanks(local: ReplicatedStep, n: number): ReplicatedStep {
    const pg = this.processGroup;
    if (!pg || pg.worldSize === 1) return local;
    const both = Promise.all([local.loss, local.correct]).then(async ([loss, correct]) => {
      const t = Tensor.fromArray(Float32Array.of(loss * n, correct, n), [3], { device: this.devices[0] });
      try {
        pg.allReduce(t);
        const [lossSum, correctSum, count] = await t.data();
        return [lossSum / count, correctSum] as const;
      } finally {
        t.dispose();
      }
    });
    return { loss: both.then(([l]) => l), correct: both.then(([, c]) => c) };
  }

  /** Loss and correct count of one batch in eval mode, each replica scoring its shard. */
  evaluateBatch(x: Float32Array, shape: readonly number[], labels: Int32Array): ReplicatedStep {
    this.checkLive('evaluateBatch');
    const n = shape[0];
    // A short last batch smaller than the replica count is scored by fewer replicas.
    const used = Math.min(n, this.replicas.length);
    const shards = shardBatch(n, used, `${this.name} DataParallel.evaluateBatch`);
    const inputs = this.upload(x, shape, labels, shards);
    const results = [];
    try {
      for (let r = 0; r < used; r++) results.push(this.replicas[r].evaluateBatch(inputs[r].x, inputs[r].labels));
    } finally {
      disposeInputs(inputs);
    }
    return this.outcome(results, shards, n);
  }

  /** Replica 0's parameters by name (the single copy). */
  stateDict(): Promise<Record<string, NamedArray>> {
    return this.module.stateDict();
  }

  /** Loads values into every replica (so they stay identical). */
  loadStateDict(state: Record<string, NamedArray>, opts: { strict?: boolean } = {}): void {
    for (const m of this.replicas) m.loadStateDict(state, opts);
  }

  /**
   * Frees every replica (but replica 0 with keepFirst: a model the caller built and still owns)
   * and gives the CPU streams their previous thread settings back.
   */
  dispose(opts: { keepFirst?: boolean } = {}): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const [i, p] of this.#previousThreads.entries()) this.devices[i].setThreads(p);
    for (const [i, m] of this.replicas.entries()) if (i > 0 || !opts.keepFirst) m.dispose();
  }

  private flatValues(): Tensor[] {
    return this.replicas.map((m) => m.flat.values);
  }

  private checkLive(op: string): void {
    if (this.#disposed) throw new ArgumentError(`DataParallel.${op}: this DataParallel was disposed`);
  }

  private upload(x: Float32Array, shape: readonly number[], labels: Int32Array, shards: ReturnType<typeof shardBatch>) {
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    if (x.length !== shape[0] * per || labels.length !== shape[0])
      throw new ArgumentError(
        `${this.name} DataParallel: a batch of shape [${shape.join(', ')}] needs ${shape[0] * per} values and ${shape[0]} labels, got ${x.length} and ${labels.length}`,
      );
    const out: { x: Tensor; labels: Tensor }[] = [];
    try {
      for (const [r, s] of shards.entries()) {
        const device = this.devices[r];
        out.push({
          x: Tensor.fromArray(x.subarray(s.start * per, (s.start + s.size) * per), [s.size, ...shape.slice(1)], { device }),
          labels: Tensor.fromArray(labels.subarray(s.start, s.start + s.size), [s.size], { dtype: 'int32', device }),
        });
      }
    } catch (e) {
      disposeInputs(out);
      throw e;
    }
    return out;
  }
}

function disposeInputs(inputs: readonly { x: Tensor; labels: Tensor }[]): void {
  for (const i of inputs) {
    i.x.dispose();
    i.labels.dispose();
  }
}

function bytes(op: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 4)
    throw new ArgumentError(`${op}: '${name}' must be an integer number of bytes >= 4, got ${String(v)}`);
  return v;
}

/** The replicas must hold the same parameters (names, shapes) in the same flat layout. */
function checkSameLayout(m: Model, first: Model, r: number): void {
  if (m.flat.outside.length)
    throw new ArgumentError(
      `DataParallel: replica ${r} has parameters outside its flat buffers (${m.flat.outside.map((p) => p.name).join(', ')}); data parallelism needs every parameter in model.flat`,
    );
  const a = first.flat.entries;
  const b = m.flat.entries;
  const same =
    a.length === b.length &&
    a.every((e, i) => e.name === b[i].name && e.offset === b[i].offset && e.shape.join('x') === b[i].shape.join('x'));
  if (!same)
    throw new ArgumentError(
      `DataParallel: replica ${r} (${m.name}) does not have replica 0's parameters: ${b.map((e) => `${e.name} [${e.shape.join(', ')}]`).join(', ')} vs ${a.map((e) => `${e.name} [${e.shape.join(', ')}]`).join(', ')}`,
    );
}

/** The whole batch's mean loss and correct count from per-replica results (each disposed once read). */
function combine(parts: { loss: Tensor; correct: Tensor }[], shares: number[]): ReplicatedStep {
  const read = parts.map((p) => {
    const both = Promise.all([p.loss.data(), p.correct.data()]);
    return both.finally(() => {
      p.loss.dispose();
      p.correct.dispose();
    });
  });
  const all = Promise.all(read);
  return {
    loss: all.then((rs) => rs.reduce((s, [l], i) => s + l[0] * shares[i], 0)),
    correct: all.then((rs) => rs.reduce((s, [, c]) => s + c[0], 0)),
  };
}
