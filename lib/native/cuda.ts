/**
 * What only the CUDA build adds (native/napi/ops_cuda.cc). Optional: the CPU build lacks them,
 * so a caller must check that a function is there (or that `build.cuda` is true) first.
 */
import type { CudaStatus, NativeHandle as H, StreamId as S } from './types.js';

/** An opaque, type-tagged handle to this process's rank in a multi-process NCCL group. */
export type NcclRankHandle = { readonly __ncclRank: unique symbol };

export interface CudaBinding {
  cudaStatus?(): CudaStatus;
  /** Loads cuBLAS now (it is otherwise loaded on first use); throws ND_NO_CUDA with the search list. */
  cudaLoadCublas?(): { path: string };
  /** cuda:N only: TF32 tensor cores for SGEMM; with `on`, sets it and returns the previous setting. */
  cudaTf32?(stream: S, on?: boolean): boolean;
  // A multi-process NCCL group (native/napi/ops_nccl_cuda.cc; lib/parallel/process-group.ts).
  /** A new 128-byte ncclUniqueId (rank 0 makes it; the store carries it to the others). */
  ncclUniqueId?(): Uint8Array;
  /** Joins with ncclCommInitRank on the GPU of `stream`, off the JS thread. */
  ncclJoin?(stream: S, id: Uint8Array, worldSize: number, rank: number): Promise<NcclRankHandle>;
  /** x[offset, offset + n) summed (or averaged) over the ranks, queued on the GPU stream. */
  ncclRankAllReduce?(stream: S, group: NcclRankHandle, x: H, offset: number, n: number, mean: boolean): void;
  ncclRankBroadcast?(stream: S, group: NcclRankHandle, x: H, offset: number, n: number, root: number): void;
  ncclRankDestroy?(group: NcclRankHandle): void;
}
