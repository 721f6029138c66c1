/**
 * The one instruction-set switch of the CPU kernels (native/cpu/isa.h). At load the level is the
 * best this CPU runs, or CONVKIT_ISA=avx512|avx2|portable (CONVKIT_GEMM_KERNEL, its old name, is
 * read when CONVKIT_ISA is unset). setIsa() changes it for every family at once (gemm, the direct
 * convolution, im2col rows and panels, LRN, pooling): tests use it to run each path in one
 * process, and a user may pin a level to compare speeds. Kernels read the level when an op
 * starts, so setIsa refuses while a CPU stream still has ops queued: no op runs half on one path.
 */
import { ArgumentError, ConvkitError } from './errors.js';
import { native, type IsaFamilies, type IsaLevel } from './native.js';
import { Device } from './tensor/device.js';

export type { IsaFamilies, IsaLevel } from './native.js';

/** Every level, best first. */
export const ISA_LEVELS: readonly IsaLevel[] = ['avx512', 'avx2', 'portable'];
const MAX_CPU_STREAMS = 64;

/** The level the CPU kernels use now. */
export function isa(): IsaLevel {
  return native.isa();
}

/** The best level this CPU (and this build) runs. */
export function cpuIsa(): IsaLevel {
  return native.cpuIsa();
}

/** The levels this CPU runs, best first (always ends with 'portable'). */
export function supportedIsas(): IsaLevel[] {
  const best = ISA_LEVELS.indexOf(cpuIsa());
  return ISA_LEVELS.slice(best);
}

/** The path each kernel family takes under the active level. */
export function isaFamilies(): IsaFamilies {
  return native.isaFamilies();
}

/**
 * Makes `name` ('auto' = cpuIsa()) the level of every CPU kernel family and returns it. Throws
 * ND_ARG for an unknown name or a level this CPU lacks, and ND_BUSY while a CPU stream of this
 * thread has ops queued or running (await device.synchronize() first).
 */
export function setIsa(name: IsaLevel | 'auto'): IsaLevel {
  if (typeof name !== 'string') throw new ArgumentError(`setIsa: 'name' must be a string, got ${typeof name}`);
  if (name !== 'auto' && !ISA_LEVELS.includes(name))
    throw new ArgumentError(`setIsa: unknown ISA '${name}' (expected ${ISA_LEVELS.join(', ')} or auto)`);
  for (let i = 0; i < MAX_CPU_STREAMS; i++) {
    if (!Device.isKnown('cpu', i)) continue;
    const queued = native.pending(i);
    if (queued > 0)
      throw new ConvkitError('ND_BUSY', `setIsa: cpu:${i} has ${queued} op(s) queued or running; await its synchronize() before switching`);
  }
  try {
    return native.isa(name);
  } catch (err) {
    throw new ArgumentError(`setIsa: ${(err as Error).message.replace(/^isa: /, '')}`);
  }
}
