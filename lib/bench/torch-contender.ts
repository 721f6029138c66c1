/**
 * PyTorch as a bench peer: peers/torch_peer.py run by /usr/bin/python3 (Debian's python3-torch;
 * CONVKIT_BENCH_PYTHON names another interpreter), with convkit's thread count, kept alive for
 * the whole bench and asked for one round at a time.
 *
 * Two of them run, labelled:
 * - 'tuned', as a user who tunes PyTorch would run it. On these machines the environment sets
 *   OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which hold OpenBLAS on AVX2 kernels, and glibc's
 *   malloc hands big blocks back to the OS on free, so every step faults its pages in again
 *   (DESIGN.md: ~8.5 GB/s against 30 GB/s for reused pages). The tuned peer's process has both
 *   variables removed and MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ set to 16 GiB.
 * - 'default', in the environment as it is: what a user who does not tune it gets.
 * A ratio against the default alone would flatter convkit; both figures are printed.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AbsentPeer, Contender } from './contender.js';
import { LineChild } from './line-child.js';
import type { BenchCase } from './options.js';
import type { Runner } from './timing.js';

export const TORCH_PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'peers', 'torch_peer.py');

/** glibc's malloc tunables for the tuned peer: keep freed blocks (and their pages) for reuse. */
const MALLOC_KEEP = '17179869184';
const UNSET_FOR_TUNED = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

export type TorchLabel = 'tuned' | 'default';

/** The peer's environment: thread counts as convkit's in both; the tuning in 'tuned' only. */
export function torchEnv(label: TorchLabel, threads: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  if (label === 'tuned') {
    for (const k of UNSET_FOR_TUNED) delete env[k];
    env.MALLOC_MMAP_THRESHOLD_ = MALLOC_KEEP;
    env.MALLOC_TRIM_THRESHOLD_ = MALLOC_KEEP;
  }
  return env;
}

/** The interpreter that runs the peer. */
export function pythonPath(): string {
  return process.env.CONVKIT_BENCH_PYTHON || '/usr/bin/python3';
}

const START_MS = 120_000; // importing torch on a loaded 2-core machine takes seconds
const CASE_MS = 600_000; // building AlexNet, or one round of it

class TorchContender implements Contender {
  readonly impl = 'pytorch';
  constructor(
    readonly label: TorchLabel,
    readonly version: string,
    readonly setup: Record<string, unknown>,
    private readonly child: LineChild,
  ) {}

  async prepare(c: BenchCase): Promise<Runner | string> {
    let a;
    try {
      a = await this.child.request({ op: 'prepare', model: c.model, variant: c.variant, pass: c.pass, batch: c.batch }, CASE_MS);
    } catch (e) {
      return `the PyTorch peer failed: ${(e as Error).message}`;
    }
    if (!a.ok) return String(a.reason ?? 'the PyTorch peer refused the case');
    const child = this.child;
    return {
      async run(iters) {
        const r = await child.request({ op: 'run', iters }, CASE_MS);
        if (!r.ok || typeof r.seconds !== 'number')
          throw new Error(`the PyTorch peer failed a round: ${String(r.reason ?? JSON.stringify(r))}`);
        return r.seconds;
      },
    };
  }

  async release(): Promise<void> {
    try {
      await this.child.request({ op: 'release' }, CASE_MS);
    } catch {
      // a dead peer holds nothing; its next prepare says why it is gone
    }
  }

  close(): Promise<void> {
    return this.child.close();
  }
}

/** What a peer on the reference BLAS carries on its lines: its times are not a tuned PyTorch's. */
export const REFERENCE_BLAS_WARNING =
  'PyTorch runs on the reference (netlib) BLAS, several times slower than OpenBLAS: ratios against it flatter convkit; ' +
  'install OpenBLAS (Debian: apt-get install -y libopenblas0-pthread) and run again';

/** Whether the peer's hello says its BLAS is the reference one (peers/torch_peer.py's blas_in_use). */
export function isReferenceBlas(blas: unknown): boolean {
  return typeof blas === 'object' && blas !== null && (blas as { kind?: unknown }).kind === 'reference';
}

/** Starts one PyTorch peer; an AbsentPeer says why it cannot run (no python, no torch). */
export async function startTorchPeer(label: TorchLabel, threads: number, python = pythonPath()): Promise<Contender | AbsentPeer> {
  const env = torchEnv(label, threads);
  const child = new LineChild(python, [TORCH_PEER_SCRIPT, String(threads)], env);
  let hello;
  try {
    hello = await child.greeting(START_MS);
  } catch (e) {
    await child.close();
    return { impl: 'pytorch', label, reason: `PyTorch peer did not start: ${(e as Error).message}` };
  }
  if (!hello.ok) {
    await child.close();
    return {
      impl: 'pytorch',
      label,
      reason: `PyTorch is not usable from ${python}: ${String(hello.reason)} (Debian: apt install python3-torch)`,
    };
  }
  const setup = {
    python,
    threads: hello.threads,
    env:
      label === 'tuned'
        ? { unset: [...UNSET_FOR_TUNED], MALLOC_MMAP_THRESHOLD_: MALLOC_KEEP, MALLOC_TRIM_THRESHOLD_: MALLOC_KEEP }
        : 'as inherited',
    seen: hello.env,
    blas: hello.blas ?? null,
    ...(isReferenceBlas(hello.blas) ? { warning: REFERENCE_BLAS_WARNING } : {}),
  };
  return new TorchContender(label, String(hello.version), setup, child);
}

/** Runs the peer once to write the torch.nn twin of a model form as ONNX; a string is why it could not. */
export async function exportTorchOnnx(model: string, variant: string, file: string, python = pythonPath()): Promise<true | string> {
  const child = new LineChild(python, [TORCH_PEER_SCRIPT, '1'], torchEnv('tuned', 1));
  try {
    const hello = await child.greeting(START_MS);
    if (!hello.ok) return `PyTorch is not usable from ${python}: ${String(hello.reason)}`;
    const a = await child.request({ op: 'export_onnx', model, variant, path: file }, CASE_MS);
    return a.ok ? true : String(a.reason);
  } catch (e) {
    return (e as Error).message;
  } finally {
    await child.close();
  }
}
