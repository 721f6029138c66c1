/**
 * What only the CUDA build adds (native/napi/ops_cuda.cc). Optional: the CPU build lacks them,
 * so a caller must check that a function is there (or that `build.cuda` is true) first.
 */
import type { CudaStatus, StreamId as S } from './types.js';

export interface CudaBinding {
  cudaStatus?(): CudaStatus;
  /** Loads cuBLAS now (it is otherwise loaded on first use); throws ND_NO_CUDA with the search list. */
  cudaLoadCublas?(): { path: string };
  /** cuda:N only: TF32 tensor cores for SGEMM; with `on`, sets it and returns the previous setting. */
  cudaTf32?(stream: S, on?: boolean): boolean;
}
