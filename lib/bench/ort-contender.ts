/**
 * onnxruntime-node as a bench peer, in this process: the model form's ONNX file (onnx-source.ts)
 * run by onnxruntime's CPU provider with convkit's thread count, inference only (it does not
 * train). A benchmark-only peer, not a dependency of convkit: it is looked up from this package
 * (a devDependency here), then in CONVKIT_ORT_DIR (a folder whose node_modules holds it). Install:
 *   npm install --save-dev --ignore-scripts onnxruntime-node
 * (--ignore-scripts: its install script only fetches GPU providers, from hosts CI cannot reach).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AbsentPeer, Contender } from './contender.js';
import { onnxFor } from './onnx-source.js';
import type { BenchCase } from './options.js';
import type { Runner } from './timing.js';

/** The part of onnxruntime-node's API the peer uses. */
interface OrtSession {
  readonly inputNames?: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
  release?(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(file: string, o: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  env?: { versions?: { node?: string; common?: string } };
}

const INPUT: Record<string, readonly number[]> = {
  'lenet5:modern': [1, 28, 28],
  'lenet5:classic': [1, 32, 32],
  'alexnet:paper': [3, 227, 227],
  'alexnet:owt': [3, 224, 224],
};

/** Where to look for onnxruntime-node: this package, then CONVKIT_ORT_DIR. */
export function ortSearchPaths(): string[] {
  const paths = [join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json')];
  if (process.env.CONVKIT_ORT_DIR) paths.push(join(process.env.CONVKIT_ORT_DIR, 'package.json'));
  return paths;
}

export function loadOrt(bases: readonly string[] = ortSearchPaths()): Ort | null {
  for (const base of bases) {
    try {
      return createRequire(base)('onnxruntime-node') as Ort;
    } catch {
      // not installed there: the next place
    }
  }
  return null;
}

class OrtContender implements Contender {
  readonly impl = 'onnxruntime-node';
  readonly version: string;
  readonly setup: Record<string, unknown>;
  private session: { form: string; s: OrtSession } | null = null;

  constructor(
    private readonly ort: Ort,
    private readonly threads: number,
  ) {
    this.version = ort.env?.versions?.node ?? ort.env?.versions?.common ?? 'unknown';
    this.setup = { threads, provider: 'cpu', intraOpNumThreads: threads, interOpNumThreads: 1 };
  }

  async prepare(c: BenchCase): Promise<Runner | string> {
    if (c.pass !== 'inference') return 'onnxruntime-node runs inference only';
    const form = `${c.model}:${c.variant}`;
    const dims = INPUT[form];
    if (!dims) return `no ONNX export of ${c.model} ${c.variant}`;
    if (this.session?.form !== form) {
      await this.session?.s.release?.();
      this.session = null;
      const src = await onnxFor(c.model, c.variant);
      if (typeof src === 'string') return src;
      const s = await this.ort.InferenceSession.create(src.file, {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      this.session = { form, s };
    }
    const session = this.session.s;
    const input = session.inputNames?.[0] ?? 'input';
    const shape = [c.batch, ...dims];
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 0.5; // any values: timing does not depend on them
    const x = new this.ort.Tensor('float32', data, shape);
    return {
      async run(iters) {
        const t0 = performance.now();
        for (let i = 0; i < iters; i++) await session.run({ [input]: x });
        return (performance.now() - t0) / 1000;
      },
    };
  }

  async release(): Promise<void> {
    // The session is kept while the form stays the same (loading AlexNet's takes seconds).
  }

  async close(): Promise<void> {
    await this.session?.s.release?.();
    this.session = null;
  }
}

/** The onnxruntime-node peer, or why it is absent. */
export function startOrtPeer(threads: number, bases?: readonly string[]): Contender | AbsentPeer {
  const ort = loadOrt(bases);
  if (!ort)
    return {
      impl: 'onnxruntime-node',
      reason: 'onnxruntime-node is not installed (npm install --save-dev --ignore-scripts onnxruntime-node, or set CONVKIT_ORT_DIR)',
    };
  return new OrtContender(ort, threads);
}
