// The onnxruntime-node peer of bench/models/alexnet.mjs's inference lines (a helper module beside
// lib.mjs, so bench/run.mjs does not run it as a benchmark): the same paper-form
// AlexNet exported from torch.nn (alexnet_onnx.py) and run by onnxruntime's CPU provider with the
// same thread count. A benchmark-only peer, not a dependency: it is looked up in this package's
// node_modules, then in CONVKIT_ORT_DIR (a folder whose node_modules holds it). Install it with
//   npm install --no-save --ignore-scripts onnxruntime-node
// (--ignore-scripts: its install script only fetches GPU providers, from hosts CI cannot reach).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function findOrt() {
  const bases = [join(here, '..', 'package.json')];
  if (process.env.CONVKIT_ORT_DIR) bases.push(join(process.env.CONVKIT_ORT_DIR, 'package.json'));
  for (const base of bases) {
    try {
      return createRequire(base)('onnxruntime-node');
    } catch {}
  }
  return null;
}

/**
 * { run(x: Float32Array, shape) -> Promise<Float32Array>, impl } or { skipped: why }.
 * The ONNX file (about 240 MB) is written once under the OS temp folder and reused.
 */
export async function ortAlexNet(threads) {
  const ort = findOrt();
  if (!ort) return { skipped: 'onnxruntime-node not installed (npm install --no-save --ignore-scripts onnxruntime-node)' };
  const dir = join(os.tmpdir(), 'convkit-bench');
  const file = join(dir, 'alexnet_paper.onnx');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const py = spawnSync('/usr/bin/python3', [join(here, 'models', 'alexnet_onnx.py'), file], { encoding: 'utf8' });
    if (py.status !== 0) return { skipped: `ONNX export failed: ${(py.stderr || String(py.error)).trim().split('\n').pop()}` };
  }
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return {
    impl: `onnxruntime-node ${ort.env?.versions?.node ?? ''}`.trim(),
    async run(x, shape) {
      const out = await session.run({ x: new ort.Tensor('float32', x, shape) });
      return out.logits.data;
    },
  };
}
