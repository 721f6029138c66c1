// The load tests' model files: seeded weights written once by examples/server/make-weights.mjs,
// and for the onnxruntime-node peer the same net and weights exported with convkit's own
// model.exportOnnx, so both servers answer with the same model.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restoreModel } from 'convkit';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `${dir}/${name}.safetensors`, written on first use. */
export function weightsFor(dir, name) {
  const file = join(dir, `${name}.safetensors`);
  if (!existsSync(file)) {
    const r = spawnSync(process.execPath, [join(root, 'examples', 'server', 'make-weights.mjs'), dir, name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`make-weights ${name}: ${r.stderr}`);
  }
  return file;
}

/** The ONNX twin of weightsFor(dir, name) and its input shape, or { skipped } with the reason. */
export async function onnxFor(dir, name) {
  const file = join(dir, `${name}.onnx`);
  const { model } = await restoreModel(weightsFor(dir, name));
  try {
    const inputShape = [...model.inputShape];
    if (!existsSync(file)) {
      // Written under a temporary name: an interrupted export leaves no half file to reuse.
      const tmp = `${file}.${process.pid}.tmp`;
      await model.exportOnnx(tmp);
      renameSync(tmp, file);
    }
    return { file, inputShape };
  } catch (e) {
    return { skipped: `ONNX export failed: ${e.code ?? ''} ${e.message}` };
  } finally {
    model.dispose();
  }
}
