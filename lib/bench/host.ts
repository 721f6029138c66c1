/**
 * What every bench line says about where it ran: the device (CPU model from /proc/cpuinfo, the
 * intra-op threads, the SIMD level the GEMM picked, from backends()) and convkit's version.
 * Figures from two machines are not comparable; a line that says which is which can be.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends } from '../backends.js';
import type { Device } from '../tensor/device.js';

export interface DeviceInfo {
  /** 'cpu:0', 'cuda:0'. */
  name: string;
  /** The CPU's model name; the GPU's name on cuda:N. */
  model: string;
  /** Intra-op threads convkit uses (CONVKIT_NUM_THREADS, else every core). */
  threads: number;
  /** The instruction set of the GEMM micro-kernel: avx512, avx2, portable. */
  isa: string;
  /** Logical CPUs of the machine, to read `threads` against. */
  cpus: number;
}

let cpuModelCache: string | undefined;

/** The "model name" of /proc/cpuinfo, or what Node reports where there is none. */
export function cpuModel(): string {
  if (cpuModelCache === undefined) {
    let name: string | undefined;
    try {
      name = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim();
    } catch {
      // not Linux: os.cpus() below
    }
    cpuModelCache = name || os.cpus()[0]?.model?.trim() || 'unknown CPU';
  }
  return cpuModelCache;
}

export function deviceInfo(dev: Device): DeviceInfo {
  const [cpu, cuda] = backends();
  const threads = Number(cpu.details?.threads ?? os.availableParallelism());
  const isa = String(cpu.details?.simd ?? 'unknown');
  if (dev.kind === 'cuda') {
    const gpus = (cuda.details?.devices ?? []) as Array<{ index: number; name: string }>;
    const gpu = gpus.find((g) => g.index === dev.index);
    return { name: dev.name, model: gpu?.name ?? 'CUDA device', threads, isa: 'cuda', cpus: os.availableParallelism() };
  }
  return { name: dev.name, model: cpuModel(), threads, isa, cpus: os.availableParallelism() };
}

let versionCache: string | undefined;

/** convkit's version, from the package.json two folders up (from lib/bench and dist/bench alike). */
export function convkitVersion(): string {
  if (versionCache === undefined) {
    const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
    try {
      versionCache = String((JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown');
    } catch {
      versionCache = 'unknown';
    }
  }
  return versionCache;
}
