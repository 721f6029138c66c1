/** backends(): what this build of convkit has compiled in and what is usable on this machine. */
import { native } from './native.js';

export interface BackendInfo {
  name: 'cpu' | 'cuda';
  compiled: boolean;
  available: boolean;
  /** Why an unavailable backend cannot be used. */
  reason?: string;
  /** Extra facts: intra-op threads and SIMD level on the CPU. */
  details?: Record<string, unknown>;
}

export function backends(): BackendInfo[] {
  const cpu: BackendInfo = {
    name: 'cpu',
    compiled: true,
    available: true,
    details: { threads: native.threads(), simd: native.build.simd ?? 'unknown' },
  };
  const cuda: BackendInfo = native.build.cuda
    ? { name: 'cuda', compiled: true, available: false, reason: 'CUDA backend is compiled but not yet wired in this build' }
    : { name: 'cuda', compiled: false, available: false, reason: 'this is the CPU build (build-cuda/ not found: nvcc was not available at install time)' };
  return [cpu, cuda];
}
