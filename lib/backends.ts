/** backends(): what this build of convkit has compiled in and what is usable on this machine. */
import { cpuIsa, isa, isaFamilies } from './isa.js';
import { addonInfo, native } from './native.js';
import { glooStatus } from './parallel/gloo-engine.js';
import { cpuBuildReason, cudaStatus, type CudaStatus } from './tensor/cuda-status.js';

export type { CudaStatus } from './tensor/cuda-status.js';

export interface BackendInfo {
  name: 'cpu' | 'cuda' | 'gloo';
  compiled: boolean;
  available: boolean;
  /** Why an unavailable backend cannot be used. */
  reason?: string;
  /**
   * Extra facts. CPU: intra-op threads; `isa`, the instruction-set level in force (setIsa,
   * CONVKIT_ISA), `cpuIsa`, the best this CPU runs, and `families`, the path each kernel family
   * takes under it; `simd` is the GEMM micro-kernel in use. CUDA: runtime, driver and devices.
   * Both: `collective`, the engine of a group of such devices (lib/ops/collective.ts).
   * Gloo (process groups on CPUs): the shim's path and Gloo's version, or the paths searched.
   */
  details?: Record<string, unknown>;
}

/** The collective engine of each kind of group ('shared-memory'; 'nccl 2.30.4' or 'fallback: copy+reduce (why)'). */
function collectiveEngines(): { cpu: string; cuda?: string } {
  try {
    return native.collectiveEngines();
  } catch (err) {
    return { cpu: `unknown: ${(err as Error).message}` };
  }
}

function cudaBackend(collective: string | undefined): BackendInfo {
  let status: CudaStatus | null;
  try {
    status = cudaStatus();
  } catch (err) {
    return { name: 'cuda', compiled: true, available: false, reason: `CUDA status unknown: ${(err as Error).message}` };
  }
  if (!status) return { name: 'cuda', compiled: false, available: false, reason: `this is the CPU build: ${cpuBuildReason()}` };
  const details = {
    collective,
    runtimeVersion: status.runtimeVersion,
    driverVersion: status.driverVersion,
    deviceCount: status.devices.length,
    devices: status.devices,
  };
  if (!status.available || status.devices.length === 0)
    return { name: 'cuda', compiled: true, available: false, reason: status.reason ?? 'no CUDA device', details };
  return { name: 'cuda', compiled: true, available: true, details };
}

/** Gloo, the engine of process groups on CPUs: loaded at run time, so compiled means "the shim was built". */
function glooBackend(): BackendInfo {
  const g = glooStatus();
  if (g.available) return { name: 'gloo', compiled: true, available: true, details: { path: g.path, version: g.version } };
  return { name: 'gloo', compiled: g.path !== undefined, available: false, reason: g.reason, details: { searched: g.searched } };
}

export function backends(): BackendInfo[] {
  const collective = collectiveEngines();
  const cpu: BackendInfo = {
    name: 'cpu',
    compiled: true,
    available: true,
    // addon/addonKind: which .node file is in use (prebuilt or compiled here), so a CPU fallback is never silent.
    details: {
      threads: native.threads(),
      simd: isaFamilies().gemm,
      isa: isa(),
      cpuIsa: cpuIsa(),
      families: isaFamilies(),
      addon: addonInfo.path,
      addonKind: addonInfo.kind,
      collective: collective.cpu,
    },
  };
  return [cpu, cudaBackend(collective.cuda), glooBackend()];
}
