/**
 * Runs a test body once per backend this machine has, in the manner of tfjs's describeWithFlags
 * and ggml's test-backend-ops: once per CPU instruction-set path (setIsa: avx512, avx2,
 * portable) and, for kernels with a CUDA twin, once per cuda:N. A path the machine lacks is an
 * explicit skip with the reason, never left out silently. The tolerances every kernel test shares
 * live here too (the same classes as native/cuda/check/harness.h).
 *
 * Paths that run the same code are not run twice: for the families a suite names, the ISA
 * levels that select the same paths as a level already run are skipped with that reason (LRN
 * under avx2 runs its portable loops, as under portable). A suite with no ISA-specific code
 * (families: []) runs once on the CPU, at the best level, and reports the others as skips.
 */
import type { Test } from 'tap';
import {
  Device,
  ISA_LEVELS,
  backends,
  cpuIsa,
  device,
  isa,
  isaFamilies,
  setIsa,
  supportedIsas,
  type IsaFamilies,
  type IsaLevel,
} from '../../lib/index.js';
import type { Tolerance } from './compare.js';

export type Family = keyof IsaFamilies;

export interface Backend {
  /** 'cpu/avx512', 'cpu/avx2', 'cpu/portable' or 'cuda:N'. */
  name: string;
  kind: 'cpu' | 'cuda';
  device: Device;
  /** The ISA level in force while the body runs (CPU backends). */
  isa?: IsaLevel;
}

/** Tolerance classes (native/cuda/check/harness.h), for a backend compared with the CPU twin. */
export const TOL = {
  exact: { rtol: 0, atol: 0 },
  elementwise: { rtol: 1e-5, atol: 1e-6 },
  reduction: { rtol: 1e-4, atol: 1e-5 },
  gemm: { rtol: 1e-3, atol: 1e-4 },
} as const satisfies Record<string, Tolerance>;
export type TolClass = keyof typeof TOL;

/**
 * The tolerance a check uses on `b`: `cpu` (the suite's own, against its float64 reference) on
 * a CPU backend; on CUDA, the wider of it and the class's (a cuBLAS product sums in another
 * order, so `exact` CPU checks of copies stay exact but products get the gemm class).
 */
export function tolFor(b: Backend, cpu: Tolerance, cls: TolClass): Tolerance {
  if (b.kind === 'cpu') return cpu;
  const c = TOL[cls];
  return { rtol: Math.max(cpu.rtol ?? 1e-5, c.rtol), atol: Math.max(cpu.atol ?? 1e-6, c.atol) };
}

export interface EachOptions {
  /** The CPU kernel families the body exercises; their paths decide which ISA levels differ. */
  families: Family[];
  /** Also run on every cuda:N (the body must put its tensors on b.device). Default false. */
  cuda?: boolean;
}

/** The paths `families` take under `level` (switches to it and back to the level in force). */
function pathsUnder(level: IsaLevel, families: Family[]): string {
  const before = setIsa(level);
  try {
    const f = isaFamilies();
    return families.map((k) => `${k}=${f[k]}`).join(' ');
  } finally {
    setIsa(before);
  }
}

/** Waits until every CPU stream this thread made is idle (setIsa refuses otherwise). */
async function idleCpu(): Promise<void> {
  for (let i = 0; i < 64; i++) if (Device.isKnown('cpu', i)) await device(`cpu:${i}`).synchronize();
}

interface CudaDevice {
  index: number;
  name: string;
}

function cudaDevices(): { devices: CudaDevice[]; reason: string } {
  const cuda = backends().find((b) => b.name === 'cuda');
  const devices = cuda?.available ? ((cuda.details?.devices as CudaDevice[] | undefined) ?? []) : [];
  const reason = !cuda?.compiled
    ? `${cuda?.reason ?? 'this is the CPU build'}: CUDA twin not run`
    : `no usable GPU (${cuda.reason ?? 'no device'}): compiled, not run`;
  return { devices, reason };
}

/** The CPU backends a suite over `families` runs on, and the skips with their reasons. */
export function isaPlan(families: Family[]): { run: IsaLevel[]; skip: Array<[IsaLevel, string]> } {
  const have = supportedIsas();
  const run: IsaLevel[] = [];
  const skip: Array<[IsaLevel, string]> = [];
  const seen = new Map<string, IsaLevel>();
  if (!families.length) {
    // Nothing here depends on the level: run once, at the best level this CPU has.
    for (const level of ISA_LEVELS)
      if (level === cpuIsa()) run.push(level);
      else if (!have.includes(level)) skip.push([level, `this CPU lacks ${level} (it runs up to ${cpuIsa()})`]);
      else skip.push([level, `no ISA-specific code in this suite: it runs once, on cpu/${cpuIsa()}`]);
    return { run, skip };
  }
  // Portable first, so a level that adds nothing for these families is the one skipped (avx2
  // for LRN: 'same paths as cpu/portable'), then reported in ISA_LEVELS order.
  for (const level of [...ISA_LEVELS].reverse()) {
    if (!have.includes(level)) {
      skip.push([level, `this CPU lacks ${level} (it runs up to ${cpuIsa()})`]);
      continue;
    }
    const paths = pathsUnder(level, families);
    const same = seen.get(paths);
    if (same) {
      skip.push([level, `same paths as cpu/${same} (${paths})`]);
      continue;
    }
    seen.set(paths, level);
    run.push(level);
  }
  const order = (l: IsaLevel) => ISA_LEVELS.indexOf(l);
  run.sort((a, b) => order(a) - order(b));
  skip.sort((a, b) => order(a[0]) - order(b[0]));
  return { run, skip };
}

/**
 * Adds a subtest `title` to `parent` with one child per backend: `cpu/avx512`, `cpu/avx2`,
 * `cpu/portable`, `cuda:N`. The plan (which levels differ, which are skipped) is made when the
 * subtest starts, once the CPU stream is idle; the level is switched while the stream is idle
 * and restored after the body, pass or fail.
 */
export function eachBackend(parent: Test, title: string, opts: EachOptions, body: (t: Test, b: Backend) => Promise<void> | void): void {
  parent.test(title, async (t) => {
    await idleCpu();
    const plan = isaPlan(opts.families);
    for (const level of ISA_LEVELS) {
      const skipped = plan.skip.find(([l]) => l === level);
      if (skipped) {
        t.test(`cpu/${level}`, { skip: skipped[1] }, async () => {});
        continue;
      }
      t.test(`cpu/${level}`, async (t) => {
        await idleCpu();
        const before = setIsa(level);
        t.equal(isa(), level, `the CPU kernels run at ${level}`);
        try {
          await body(t, { name: `cpu/${level}`, kind: 'cpu', device: device('cpu'), isa: level });
        } finally {
          await idleCpu();
          setIsa(before);
        }
      });
    }
    if (!opts.cuda) return;
    const { devices, reason } = cudaDevices();
    if (!devices.length) {
      t.test('cuda', { skip: reason }, async () => {});
      return;
    }
    for (const d of devices)
      t.test(`cuda:${d.index} (${d.name})`, async (t) => {
        await body(t, { name: `cuda:${d.index}`, kind: 'cuda', device: device(`cuda:${d.index}`) });
      });
  });
}
