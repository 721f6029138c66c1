/**
 * Bridges a model + optimizer and lib/io's checkpoint pair: weights by stable parameter name,
 * momentum buffers by the same names, the training position, and the model's config so that
 * `restoreModel` can rebuild the architecture from the file alone.
 */
import { ConvkitError } from '../errors.js';
import { Dropout } from '../layers/dropout.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointTensor, type LoadedCheckpoint } from '../io/checkpoint.js';
import { alexnet } from '../models/alexnet.js';
import { lenet5 } from '../models/lenet5.js';
import type { Model, NamedArray } from '../models/model.js';
import type { SGD } from '../optim/sgd.js';
import type { Device, DeviceName } from '../tensor/device.js';

export interface Position {
  epoch: number;
  batch: number;
  step: number;
  /** The data loader's seed (defaults to the model's seed). */
  seed?: number;
}

export async function saveTrainingCheckpoint(path: string, model: Model, opt: SGD | null, position: Position, extraMeta: Record<string, unknown> = {}): Promise<void> {
  const params: Record<string, CheckpointTensor> = {};
  for (const [name, v] of Object.entries(await model.stateDict())) params[name] = { shape: [...v.shape], data: v.data };
  const optimizer: Record<string, CheckpointTensor> = {};
  if (opt) for (const [name, v] of opt.state()) optimizer[name] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
  await saveCheckpoint(path, {
    params,
    optimizer,
    position: { epoch: position.epoch, batch: position.batch, step: position.step, seed: position.seed ?? Number(model.config.seed ?? 0) },
    meta: {
      model: model.config,
      // Where each dropout layer's Philox stream stands, so a resumed run draws the next masks.
      dropoutOffsets: dropoutOffsets(model),
      optimizer: opt ? { lr: opt.lr, momentum: opt.momentum, weightDecay: opt.weightDecay, form: opt.form, nesterov: opt.nesterov, decayAll: opt.decayAll } : null,
      ...extraMeta,
    },
  });
}

function dropoutOffsets(model: Model): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of model.net.layers) if (l instanceof Dropout) out[l.name] = l.offset;
  return out;
}

/** Rebuilds a model from a checkpoint's meta.model config and loads its weights. */
export async function restoreModel(path: string, opts: { device?: DeviceName | Device } = {}): Promise<{ model: Model; checkpoint: LoadedCheckpoint }> {
  const ckpt = await loadCheckpoint(path);
  const cfg = (ckpt.meta.model ?? {}) as Record<string, unknown>;
  let model: Model;
  if (cfg.model === 'lenet5') {
    model = lenet5({ ...(cfg as object), device: opts.device } as Parameters<typeof lenet5>[0]);
  } else if (cfg.model === 'alexnet') {
    model = alexnet({ ...(cfg as object), device: opts.device } as Parameters<typeof alexnet>[0]);
  } else {
    throw new ConvkitError('ND_FORMAT', `${path}: meta.model ${JSON.stringify(cfg)} names no model this version can build`);
  }
  try {
    model.loadStateDict(ckpt.params as Record<string, NamedArray>);
    const offsets = (ckpt.meta.dropoutOffsets ?? {}) as Record<string, number>;
    for (const l of model.net.layers) if (l instanceof Dropout && Number.isSafeInteger(offsets[l.name])) l.offset = offsets[l.name];
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, checkpoint: ckpt };
}
