/**
 * Where the onnxruntime peer's ONNX file comes from. Today: the torch.nn twin of the model form,
 * exported by the PyTorch peer script (so it needs python3-torch). When convkit's own
 * `model.exportOnnx` lands, this one function switches to it (then the file is convkit's own
 * net, weights included) and the ORT peer no longer needs PyTorch.
 * Files are written once under the OS temp folder and reused (AlexNet's is about 240 MB).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { exportTorchOnnx } from './torch-contender.js';

export interface OnnxSource {
  file: string;
  /** What the file holds, for the peer's line. */
  from: string;
}

export function onnxCacheDir(): string {
  return process.env.CONVKIT_BENCH_CACHE || join(os.tmpdir(), 'convkit-bench');
}

/** The ONNX file of a model form, or why there is none. */
export async function onnxFor(model: string, variant: string): Promise<OnnxSource | string> {
  const dir = onnxCacheDir();
  const file = join(dir, `${model}-${variant}.onnx`);
  const from = 'the torch.nn twin exported by peers/torch_peer.py';
  if (existsSync(file)) return { file, from };
  mkdirSync(dir, { recursive: true });
  // Written under a temporary name and renamed: an interrupted export leaves no half file to reuse.
  const tmp = `${file}.${process.pid}.tmp`;
  const r = await exportTorchOnnx(model, variant, tmp);
  if (r !== true) {
    rmSync(tmp, { force: true });
    return `no ONNX file for ${model} ${variant}: ${r}`;
  }
  renameSync(tmp, file);
  return { file, from };
}
