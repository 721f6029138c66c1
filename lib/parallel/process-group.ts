/**
 * A process group from the environment, as torch.distributed.init_process_group: every process
 * (one per GPU, or per CPU replica) learns its rank from torchrun's or Slurm's variables (env.ts),
 * rank 0 serves the TCP store on MASTER_PORT (store-server.ts), every rank connects to it, all
 * wait until everyone has arrived (ND_TIMEOUT naming the ranks that never did), then the
 * collective engine joins through the store: Gloo for CPUs, NCCL for GPUs (rank 0's
 * ncclGetUniqueId carried by the store, then ncclCommInitRank on every rank's cuda:LOCAL_RANK).
 *
 *   const pg = await initProcessGroup({ backend: 'gloo' });
 *   await pg.checkSame('model', shapeSignature(shapes, batchSize));
 *   pg.allReduce(grads, { op: 'mean' });      // queued on grads' device, like any op
 *   await grads.device.synchronize();         // a dead peer surfaces here, coded, naming the op and rank
 *   await pg.destroy();
 *
 * Collectives are queued on the tensor's CPU stream, ordered with the ops before and after it;
 * the stream's executor thread blocks inside Gloo, never the JS thread. A peer that dies makes
 * the others' next wait reject with ND_CLOSED (its connection closed) or ND_TIMEOUT (it went
 * silent for timeoutMs). A group of one needs no engine: its collectives change nothing.
 */
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { ArgumentError, ConvkitError, ShapeError } from '../errors.js';
import { native, type GlooGroupHandle, type NcclRankHandle } from '../native.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { groupFromEnv, type GroupEnv } from './env.js';
import { glooStatus } from './gloo-engine.js';
import { arriveAll, checkSame } from './rendezvous.js';
import { StoreClient } from './store-client.js';
import { StoreServer } from './store-server.js';

export type Backend = 'gloo' | 'nccl';

export interface InitProcessGroupOptions {
  backend: Backend;
  /** Bound of every collective and store wait: past it a silent peer is ND_TIMEOUT (default CONVKIT_PG_TIMEOUT_MS, else 60 s). */
  timeoutMs?: number;
  /**
   * Bound of joining: connecting to rank 0's store, every rank arriving (ND_TIMEOUT naming the
   * ranks that did not), Gloo's mesh (default: timeoutMs). Start-up can take longer than a step.
   */
  initTimeoutMs?: number;
  /** The device whose stream barrier() queues on (default 'cpu'). */
  device?: DeviceName | Device;
  /** The address this rank's Gloo transport listens on (default 127.0.0.1 for a loopback MASTER_ADDR, else the host name). */
  hostname?: string;
  /** The variables to read (default process.env; tests pass their own). */
  env?: Record<string, string | undefined>;
}

export interface AllReduceOptions {
  /** 'sum' (default) or 'mean' over the ranks. */
  op?: 'sum' | 'mean';
  /** A range of the tensor, in elements (a bucket of a flat gradient buffer); default all of it. */
  offset?: number;
  length?: number;
  /**
   * The CPU stream that runs the collective (default the tensor's device). CPU streams share host
   * memory, so a dedicated communication stream lets an all-reduce overlap the compute stream's
   * next kernels; ordering the two streams (the gradients written before the all-reduce reads
   * them) is then the caller's (DataParallel's).
   */
  on?: DeviceName | Device;
}

const DEFAULT_TIMEOUT_MS = 60000;
/** How long rank 0 keeps the store up for ranks still connected when it leaves or fails. */
const STORE_GRACE_MS = 5000;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** A hash of parameter shapes and the batch size: equal on every rank that built the same model. */
export function shapeSignature(shapes: readonly (readonly number[])[], batchSize: number): string {
  const text = JSON.stringify({ shapes, batchSize });
  return `${shapes.length} tensors, batch ${batchSize}, sha256 ${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly backend: Backend;
  readonly timeoutMs: number;
  readonly device: Device;
  readonly #store: StoreClient;
  readonly #server: StoreServer | null;
  #gloo: GlooGroupHandle | null;
  #nccl: NcclRankHandle | null;
  #step = 0;
  #destroyed = false;

  /** @internal Use initProcessGroup(). */
  constructor(
    env: GroupEnv,
    backend: Backend,
    timeoutMs: number,
    dev: Device,
    store: StoreClient,
    server: StoreServer | null,
    gloo: GlooGroupHandle | null,
    nccl: NcclRankHandle | null = null,
  ) {
    this.rank = env.rank;
    this.worldSize = env.worldSize;
    this.localRank = env.localRank;
    this.localWorldSize = env.localWorldSize;
    this.backend = backend;
    this.timeoutMs = timeoutMs;
    this.device = dev;
    this.#store = store;
    this.#server = server;
    this.#gloo = gloo;
    this.#nccl = nccl;
  }

  /** The store every rank shares (for keys of the caller's own; prefix them to avoid 'convkit/'). */
  get store(): StoreClient {
    return this.#store;
  }

  #live(op: string): void {
    if (this.#destroyed) throw new ConvkitError('ND_CLOSED', `ProcessGroup.${op}: the group was destroyed`);
  }

  #stream(op: string, t: Tensor, on: DeviceName | Device | undefined): number {
    const d = on === undefined ? t.device : toDevice(on);
    if (this.backend === 'nccl') {
      if (d !== this.device)
        throw new ArgumentError(`ProcessGroup.${op}: the nccl backend runs on this rank's ${this.device.name}, not ${d.name}`);
      return d.stream;
    }
    if (d.kind !== 'cpu') throw new ArgumentError(`ProcessGroup.${op}: 'on' must be a CPU device, got ${d.name}`);
    return d.stream;
  }

  #range(op: string, t: Tensor, offset = 0, length?: number): { offset: number; length: number } {
    if (t.dtype !== 'float32') throw new ArgumentError(`ProcessGroup.${op}: the tensor must be float32, got ${t.dtype}`);
    if (this.backend === 'gloo' && t.device.kind !== 'cpu')
      throw new ArgumentError(`ProcessGroup.${op}: the gloo backend takes CPU tensors; this one is on ${t.device.name}`);
    if (this.backend === 'nccl' && t.device !== this.device)
      throw new ArgumentError(
        `ProcessGroup.${op}: the nccl backend takes tensors on this rank's ${this.device.name}; this one is on ${t.device.name}`,
      );
    const len = length ?? t.size - offset;
    if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0 || offset + len > t.size)
      throw new ShapeError(`ProcessGroup.${op}: the range [${offset}, ${offset}+${len}) is not inside the tensor's ${t.size} elements`);
    return { offset, length: len };
  }

  /** Sums (or averages) the tensor, or a range of it, over the ranks, in place. Queued on its device. */
  allReduce(t: Tensor, opts: AllReduceOptions = {}): void {
    this.#live('allReduce');
    const op = opts.op ?? 'sum';
    if (op !== 'sum' && op !== 'mean') throw new ArgumentError(`ProcessGroup.allReduce: op must be 'sum' or 'mean', got ${String(op)}`);
    const { offset, length } = this.#range('allReduce', t, opts.offset, opts.length);
    const stream = this.#stream('allReduce', t, opts.on);
    if (this.#nccl) return native.ncclRankAllReduce!(stream, this.#nccl, t.handle('allReduce'), offset, length, op === 'mean');
    if (!this.#gloo) return; // one rank: the sum and the mean of one value are that value
    native.glooAllReduce(stream, this.#gloo, t.handle('allReduce'), offset, length, op === 'mean');
  }

  /** Copies the tensor (or a range) from rank `root` to every rank, in place. Queued on its device. */
  broadcast(t: Tensor, root = 0, opts: Omit<AllReduceOptions, 'op'> = {}): void {
    this.#live('broadcast');
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize)
      throw new ArgumentError(`ProcessGroup.broadcast: root must be a rank in [0, ${this.worldSize}), got ${String(root)}`);
    const { offset, length } = this.#range('broadcast', t, opts.offset, opts.length);
    const stream = this.#stream('broadcast', t, opts.on);
    if (this.#nccl) return native.ncclRankBroadcast!(stream, this.#nccl, t.handle('broadcast'), offset, length, root);
    if (!this.#gloo) return;
    native.glooBroadcast(stream, this.#gloo, t.handle('broadcast'), offset, length, root);
  }

  /** Resolves once every rank got here (and every op queued before it on the group's device has run). */
  async barrier(): Promise<void> {
    this.#live('barrier');
    if (this.#gloo) native.glooBarrier(this.device.stream, this.#gloo);
    await this.device.synchronize();
    // NCCL has no barrier call: the ranks meet in the store once their GPU work is done.
    if (this.#nccl) await arriveAll(this.#store, `convkit/barrier/${this.#step++}`, this, this.timeoutMs);
  }

  /**
   * Resolves once every rank passed the same `value` for `label` (say, shapeSignature() of its
   * model and batch size); ND_ARG naming the ranks and their values when they differ.
   */
  async checkSame(label: string, value: string): Promise<void> {
    this.#live('checkSame');
    if (this.worldSize === 1) return;
    await checkSame(this.#store, `convkit/check/${this.#step++}`, label, this, value, this.timeoutMs);
  }

  /**
   * Leaves the group: waits (up to `timeoutMs`, default the group's) for every rank to leave so
   * that rank 0 keeps the store up while others still use it, then closes everything. Rejects
   * with ND_TIMEOUT naming the ranks that did not leave, after closing anyway. Idempotent.
   */
  async destroy(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    let failure: unknown = null;
    try {
      if (this.worldSize > 1) await arriveAll(this.#store, 'convkit/destroy', this, opts.timeoutMs ?? this.timeoutMs);
    } catch (err) {
      failure = err;
    }
    if (this.#gloo) native.glooDestroy(this.#gloo);
    this.#gloo = null;
    if (this.#nccl) {
      await this.device.synchronize().catch(() => {}); // its collectives are done before the communicator goes
      native.ncclRankDestroy!(this.#nccl);
    }
    this.#nccl = null;
    this.#store.close();
    await this.#server?.close({ graceMs: STORE_GRACE_MS });
    if (failure) throw failure;
  }
}

/** Joins the process group described by the environment (env.ts). */
export async function initProcessGroup(opts: InitProcessGroupOptions): Promise<ProcessGroup> {
  const backend = opts?.backend;
  if (backend !== 'gloo' && backend !== 'nccl')
    throw new ArgumentError(`initProcessGroup: backend must be 'gloo' or 'nccl', got ${JSON.stringify(backend)}`);
  // CONVKIT_PG_TIMEOUT_MS sets the default for programs that do not pass one (the CLI).
  const fromEnv = (opts.env ?? process.env).CONVKIT_PG_TIMEOUT_MS;
  const timeoutMs = opts.timeoutMs ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : DEFAULT_TIMEOUT_MS);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1)
    throw new ArgumentError(`initProcessGroup: timeoutMs must be an integer in [1, 2^31), got ${String(timeoutMs)}`);
  const initTimeoutMs = opts.initTimeoutMs ?? timeoutMs;
  if (!Number.isInteger(initTimeoutMs) || initTimeoutMs < 1 || initTimeoutMs > 2 ** 31 - 1)
    throw new ArgumentError(`initProcessGroup: initTimeoutMs must be an integer in [1, 2^31), got ${String(initTimeoutMs)}`);
  const env = groupFromEnv(opts.env ?? process.env);
  if (backend === 'nccl' && !native.ncclJoin)
    throw new ConvkitError('ND_NO_CUDA', "initProcessGroup: backend 'nccl' needs the CUDA build of convkit (this is the CPU build)");
  // nccl: this rank's GPU is cuda:LOCAL_RANK unless told (ND_NO_CUDA here when it is not there).
  const dev = toDevice(opts.device ?? (backend === 'nccl' ? `cuda:${env.localRank}` : 'cpu'));
  if (backend === 'gloo' && dev.kind !== 'cpu')
    throw new ArgumentError(`initProcessGroup: the gloo backend runs on CPU devices, got ${dev.name}`);
  if (backend === 'nccl' && dev.kind !== 'cuda')
    throw new ArgumentError(`initProcessGroup: the nccl backend runs on GPUs, got ${dev.name}`);
  if (backend === 'gloo' && env.worldSize > 1) {
    const g = glooStatus();
    if (!g.available) throw new ConvkitError('ND_ARG', `initProcessGroup: Gloo is unusable: ${g.reason}`);
  }
  // The store listens where its clients will look: loopback only when the group is local.
  const server =
    env.rank === 0 ? await StoreServer.listen({ host: isLoopback(env.masterAddr) ? '127.0.0.1' : '0.0.0.0', port: env.masterPort }) : null;
  let store: StoreClient | null = null;
  try {
    store = await StoreClient.connect({
      host: env.masterAddr,
      port: server?.port ?? env.masterPort,
      connectTimeoutMs: initTimeoutMs,
      timeoutMs,
    });
    await arriveAll(store, 'convkit/init', env, initTimeoutMs);
    let gloo: GlooGroupHandle | null = null;
    let nccl: NcclRankHandle | null = null;
    // A group of one joins too: a one-rank NCCL communicator is what the GPU check exercises.
    if (backend === 'nccl') {
      const id = await exchangeNcclId(store, env.rank, () => native.ncclUniqueId!(), initTimeoutMs);
      nccl = await native.ncclJoin!(dev.stream, id, env.worldSize, env.rank);
    } else if (env.worldSize > 1) {
      const hostname = opts.hostname ?? (isLoopback(env.masterAddr) ? '127.0.0.1' : osHostname());
      gloo = await native.glooCreate(
        env.rank,
        env.worldSize,
        env.masterAddr,
        server?.port ?? env.masterPort,
        'convkit/gloo/0',
        initTimeoutMs,
        hostname,
        timeoutMs,
      );
    }
    return new ProcessGroup(env, backend, timeoutMs, dev, store, server, gloo, nccl);
  } catch (err) {
    store?.close();
    await server?.close({ graceMs: STORE_GRACE_MS });
    throw err;
  }
}

/**
 * NCCL's rendezvous: rank 0 makes the 128-byte unique id (`make`: ncclGetUniqueId) and sets it in
 * the store; every other rank waits for it (ND_TIMEOUT after `timeoutMs`). Every rank returns the
 * same bytes.
 */
export async function exchangeNcclId(store: StoreClient, rank: number, make: () => Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const key = 'convkit/nccl/unique-id';
  if (rank === 0) {
    const id = make();
    if (id.length !== 128) throw new ConvkitError('ND_INTERNAL', `initProcessGroup: ncclGetUniqueId gave ${id.length} bytes, not 128`);
    await store.set(key, id);
    return id;
  }
  const got = await store.get(key, timeoutMs);
  if (got.length !== 128)
    throw new ConvkitError('ND_FORMAT', `initProcessGroup: the store's NCCL unique id is ${got.length} bytes, not 128`);
  return new Uint8Array(got);
}
