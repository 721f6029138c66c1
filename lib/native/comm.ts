/**
 * The collectives and the stream facilities data parallel needs (native/napi/ops_comm.cc):
 * all-reduce and broadcast over a group of devices, the per-stream thread budget, the op trace.
 */
import type { NativeHandle as H, StreamId as S, TraceRow } from './types.js';

export interface CommBinding {
  /**
   * Queues an all-reduce of elements [offset, offset + length) of each tensor (float32, one per
   * stream) on every stream; `op` 0 sums, 1 averages. Returns at once.
   */
  allReduce(streams: S[], tensors: H[], offset: number, length: number, op: 0 | 1): void;
  /** Queues a copy of tensors[root]'s range into every other tensor's, on every stream. */
  broadcast(streams: S[], tensors: H[], offset: number, length: number, root: number): void;
  /** cpu:N only: the intra-op threads of the ops queued from now on (0: all); returns the previous request. */
  setStreamThreads(stream: S, threads: number): number;
  /** Test hook: queues an op writing y[0] = the pool size its kernels see, y[1] = threads that worked on a 64-piece job. */
  debugThreadUse(stream: S, y: H): void;
  /** The rows recorded since the previous call, oldest first; `on` switches tracing first. */
  trace(on?: boolean): TraceRow[];
  /** The engine each kind of group uses: 'shared-memory'; 'nccl 2.30.4' or 'fallback: copy+reduce (why)'. */
  collectiveEngines(): { cpu: string; cuda?: string };
  /** Opens NCCL now (dlopen only, no GPU needed); ND_NO_CUDA naming every place searched, or in the CPU build. */
  ncclLoad(): { path: string; version: number };
}
