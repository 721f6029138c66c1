/** Value types that cross the Node-API boundary (lib/native.ts re-exports them). */

/** An opaque, type-tagged native handle to a tensor's bytes. */
export type NativeHandle = { readonly __nativeHandle: unique symbol };
/** A stream id: N for `cpu:N`, 256 + N for `cuda:N` (lib/tensor/device.ts, native/napi/device_of.h). */
export type StreamId = number;

export interface MemoryStats {
  storages: number;
  bytes: number;
  hostPool: { liveBlocks: number; liveBytes: number; cachedBytes: number; peakBytes: number; osAllocs: number };
  /**
   * Bytes tensor handles have reported as V8 external memory (all devices, this process); V8 is
   * told their net rises in batches of 16 MiB or more (native/napi/handle.cc).
   */
  reportedToV8: number;
}

/** The addon's self-description (native/napi/addon.cc, ops_cuda.cc). */
export interface BuildInfo {
  backend: string;
  cuda: boolean;
  /** The GEMM micro-kernel in force when the addon loaded (CONVKIT_ISA). */
  simd?: string;
  cudaRuntime?: number;
}

/** One row of the per-op profile (native/core/stream.h OpProfile). */
export interface OpProfileRow {
  op: string;
  calls: number;
  ms: number;
}

/**
 * One op a CPU stream's executor ran (native/core/op_trace.h): steady-clock nanoseconds.
 * Collectives appear as 'allReduce' / 'broadcast' (the whole op, waits included) and
 * 'allReduce.reduce' / 'broadcast.copy' (this stream's share of the work).
 */
export interface TraceRow {
  stream: number;
  op: string;
  startNs: number;
  endNs: number;
}

/** What the CUDA addon's cudaStatus() binding returns. */
export interface CudaStatus {
  available: boolean;
  reason?: string;
  runtimeVersion: number;
  driverVersion: number;
  devices: Array<{ index: number; name: string; computeCapability: string; memoryBytes: number; multiprocessors: number }>;
}

/** The CPU instruction-set levels of native/cpu/isa.h, best first. */
export type IsaLevel = 'avx512' | 'avx2' | 'portable';

/** The path each CPU kernel family takes under the active ISA level (isaFamilies()). */
export interface IsaFamilies {
  gemm: IsaLevel;
  /** The small stride-1 convolution's direct path; 'off' when switched off (convFastPath). */
  convDirect: 'avx512' | 'portable' | 'off';
  im2col: 'avx512' | 'portable';
  im2colPanels: 'avx512' | 'portable';
  /** Windows of at most 16 channels; the avx512 build serves beta = 0.75 only. */
  lrn: 'avx512' | 'portable';
  maxPool: 'avx512' | 'portable';
  /** ops.linearBf16 (bf16 weights widened in registers). */
  linearBf16: 'avx512' | 'portable';
  /** The small-batch linear kernels that stream the weight (native/cpu/linear_stream.h): AVX-512 only. */
  linearStream: 'avx512' | 'off';
}
