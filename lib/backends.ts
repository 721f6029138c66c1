/** backends(): what this build of convkit has compiled in and what is usable on this machine. */
import { loadNotes, native } from './native.js';

export interface BackendInfo {
  name: 'cpu' | 'cuda';
  compiled: boolean;
  available: boolean;
  /** Why an unavailable backend cannot be used. */
  reason?: string;
  /** Extra facts: intra-op threads and SIMD level on the CPU; runtime, driver and devices on CUDA. */
  details?: Record<string, unknown>;
}

/** What the CUDA addon's cudaStatus() binding returns. */
export interface CudaStatus {
  available: boolean;
  reason?: string;
  runtimeVersion: number;
  driverVersion: number;
  devices: Array<{ index: number; name: string; computeCapability: string; memoryBytes: number; multiprocessors: number }>;
}

interface CudaBinding {
  cudaStatus?: () => CudaStatus;
}

/**
 * The CUDA kernels are compiled and checked against their CPU twins (native/cuda/check), but ops
 * do not yet dispatch `cuda:N` tensors; until they do, CUDA is reported unavailable even on a GPU.
 */
const CUDA_OPS_WIRED = false;

function cudaBackend(): BackendInfo {
  if (!native.build.cuda) {
    const why = loadNotes.length ? loadNotes.join('; ') : 'build-cuda/ not found: nvcc was not available at install time';
    return { name: 'cuda', compiled: false, available: false, reason: `this is the CPU build (${why})` };
  }
  const nb = native as unknown as CudaBinding;
  let status: CudaStatus;
  try {
    if (!nb.cudaStatus) throw new Error('the addon has no cudaStatus binding');
    status = nb.cudaStatus();
  } catch (err) {
    return { name: 'cuda', compiled: true, available: false, reason: `CUDA status unknown: ${(err as Error).message}` };
  }
  const details = {
    runtimeVersion: status.runtimeVersion,
    driverVersion: status.driverVersion,
    devices: status.devices,
  };
  if (!status.available)
    return { name: 'cuda', compiled: true, available: false, reason: status.reason ?? 'no CUDA device', details };
  if (!CUDA_OPS_WIRED)
    return {
      name: 'cuda',
      compiled: true,
      available: false,
      reason: `${status.devices.length} CUDA device(s) found, but ops do not dispatch cuda:N tensors in this version`,
      details,
    };
  return { name: 'cuda', compiled: true, available: true, details };
}

export function backends(): BackendInfo[] {
  const cpu: BackendInfo = {
    name: 'cpu',
    compiled: true,
    available: true,
    details: { threads: native.threads(), simd: native.build.simd ?? 'unknown' },
  };
  return [cpu, cudaBackend()];
}
