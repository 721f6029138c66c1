/**
 * memory(): what is alive, per device. `tensors` counts Tensor objects not yet disposed;
 * `storages`/`bytes` count native buffers still referenced (by tensors or by queued ops).
 */
import { native } from './native.js';
import { liveTensorCounts } from './tensor/tensor.js';

export interface DeviceMemory {
  tensors: number;
  storages: number;
  bytes: number;
}

export interface MemoryInfo {
  devices: Record<string, DeviceMemory>;
  /** The CPU caching allocator: bytes in use, cached for reuse, and the peak since resetPeakMemory(). */
  hostPool: { liveBytes: number; cachedBytes: number; peakBytes: number; osAllocs: number };
}

export function memory(): MemoryInfo {
  const devices: Record<string, DeviceMemory> = {};
  const names = new Set<string>(['cpu:0', ...liveTensorCounts().keys()]);
  let hostPool: MemoryInfo['hostPool'] | undefined;
  for (const name of names) {
    const [kind, idx] = name.split(':');
    const s = native.memoryStats(kind === 'cuda' ? 1 : 0, Number(idx));
    hostPool ??= {
      liveBytes: s.hostPool.liveBytes,
      cachedBytes: s.hostPool.cachedBytes,
      peakBytes: s.hostPool.peakBytes,
      osAllocs: s.hostPool.osAllocs,
    };
    devices[name] = { tensors: liveTensorCounts().get(name) ?? 0, storages: s.storages, bytes: s.bytes };
  }
  return { devices, hostPool: hostPool! };
}

export function resetPeakMemory(): void {
  native.resetPeak();
}

/** Returns cached host blocks to the OS. */
export function emptyCache(): void {
  native.emptyCache();
}
