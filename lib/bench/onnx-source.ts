/**
 * Where the onnxruntime peer's ONNX file comes from: convkit's own net for the case's form (the
 * same factory and seed as the convkit line, buildBenchModel), written by model.exportOnnx. The
 * peer therefore runs exactly the graph convkit runs, for every form (LeNet-5 classic included),
 * and needs no PyTorch. Files are written once under the cache folder and reused (AlexNet's is
 * about 240 MB).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { device } from '../tensor/device.js';
import { buildBenchModel } from './convkit-contender.js';
import type { ModelName } from './options.js';

export interface OnnxSource {
  file: string;
  /** What the file holds, for the peer's line. */
  from: string;
}

export function onnxCacheDir(): string {
  return process.env.CONVKIT_BENCH_CACHE || join(os.tmpdir(), 'convkit-bench');
}

/** The ONNX file of a model form, or why there is none. */
export async function onnxFor(model: ModelName, variant: string): Promise<OnnxSource | string> {
  const dir = onnxCacheDir();
  const file = join(dir, `${model}-${variant}.convkit.onnx`);
  const from = "convkit's own net for this form, seed 0 (model.exportOnnx)";
  if (existsSync(file)) return { file, from };
  mkdirSync(dir, { recursive: true });
  // Written under a temporary name and renamed: an interrupted export leaves no half file to reuse.
  const tmp = `${file}.${process.pid}.tmp`;
  const net = buildBenchModel({ model, variant }, device('cpu'));
  try {
    await net.exportOnnx(tmp);
    renameSync(tmp, file);
    return { file, from };
  } catch (e) {
    rmSync(tmp, { force: true });
    return `no ONNX file for ${model} ${variant}: ${(e as { code?: string }).code ?? 'error'}: ${(e as Error).message}`;
  } finally {
    net.dispose();
  }
}
