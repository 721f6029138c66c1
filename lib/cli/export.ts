/**
 * `convkit export --onnx OUT --model FILE [--probabilities]`: rebuilds the model from its weights
 * file alone (restoreModel) and writes it as ONNX (Model.exportOnnx: opset 13, dynamic batch).
 */
import { stat } from 'node:fs/promises';
import { restoreModel } from '../train/checkpointing.js';
import { UsageError, type CommandSpec, type Values } from './args.js';
import { screenFor } from './output.js';

export const EXPORT: CommandSpec = {
  name: 'export',
  summary: 'Write a saved model (its weights file alone) as ONNX: opset 13, a dynamic batch axis.',
  options: {
    onnx: { type: 'string', arg: 'OUT', desc: 'the .onnx file to write; required' },
    model: { type: 'string', arg: 'FILE', desc: 'the weights file (X.safetensors) written by convkit train; required' },
    probabilities: { type: 'boolean', desc: 'end the graph with a softmax (class probabilities) instead of the raw net output' },
  },
};

export async function exportCmd(v: Values): Promise<void> {
  const out = screenFor(v);
  const onnx = v.onnx;
  const file = v.model;
  if (typeof onnx !== 'string' || !onnx || typeof file !== 'string' || !file)
    throw new UsageError('export: --onnx OUT and --model FILE are required (FILE: a weights .safetensors file written by convkit)');
  const { model } = await restoreModel(file);
  try {
    const probabilities = Boolean(v.probabilities);
    await model.exportOnnx(onnx, { probabilities });
    const bytes = (await stat(onnx)).size;
    out.info(
      { type: 'export', format: 'onnx', model: file, path: onnx, name: model.name, output: probabilities ? 'probabilities' : 'raw', bytes },
      `${onnx}: ${model.name} as ONNX (opset 13, batch axis N, output ${probabilities ? 'class probabilities' : 'the raw net output'}), ${bytes.toLocaleString('en-US')} bytes`,
    );
  } finally {
    model.dispose();
  }
}
