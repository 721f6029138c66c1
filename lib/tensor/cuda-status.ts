/**
 * What the CUDA addon says about this machine's GPUs, asked once per process (the device count
 * does not change while it runs), and why a `cuda:N` device cannot be used when it cannot.
 */
import { ConvkitError } from '../errors.js';
import { cpuOnlyReason, native, type CudaStatus } from '../native.js';

export type { CudaStatus } from '../native.js';

let cached: CudaStatus | Error | undefined;

/** The CUDA status, null in the CPU build; throws what the binding threw (cached too). */
export function cudaStatus(): CudaStatus | null {
  if (!native.build.cuda) return null;
  if (cached === undefined) {
    try {
      if (!native.cudaStatus) throw new Error('the addon has no cudaStatus binding');
      cached = native.cudaStatus();
    } catch (err) {
      cached = err as Error;
    }
  }
  if (cached instanceof Error) throw cached;
  return cached;
}

/** Why this build was loaded without CUDA (from what the loader found), for messages. */
export function cpuBuildReason(): string {
  return cpuOnlyReason();
}

/** Throws a coded error naming the reason when `cuda:index` cannot run ops here. */
export function checkCudaDevice(spec: string, index: number): void {
  let status: CudaStatus | null;
  try {
    status = cudaStatus();
  } catch (err) {
    throw new ConvkitError('ND_NO_CUDA', `device: '${spec}': CUDA status unknown: ${(err as Error).message}`);
  }
  if (!status)
    throw new ConvkitError('ND_NO_CUDA', `device: '${spec}' needs the CUDA build of convkit, which is not loaded (${cpuBuildReason()})`);
  if (!status.available) throw new ConvkitError('ND_NO_CUDA', `device: '${spec}' is unavailable: ${status.reason ?? 'no CUDA device'}`);
  if (index >= status.devices.length)
    throw new ConvkitError(
      'ND_ARG',
      `device: '${spec}' does not exist: this machine has ${status.devices.length} CUDA device(s) (cuda:0..cuda:${status.devices.length - 1})`,
    );
}
