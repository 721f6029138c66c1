/**
 * Bridges a model + optimizer and lib/io's checkpoint pair: weights by stable parameter name,
 * momentum buffers by the same names, the training position, and the model's config so that
 * `restoreModel` can rebuild the architecture from the file alone.
 */
import { stat } from 'node:fs/promises';
import { ConvkitError } from '../errors.js';
import { stochasticLayers } from '../layers/layer.js';
import {
  loadCheckpoint,
  loadWeights,
  optimizerPath,
  saveCheckpoint,
  type CheckpointTensor,
  type LoadedCheckpoint,
  type LoadedWeights,
} from '../io/checkpoint.js';
import { specFromConfig } from '../models/from-config.js';
import { specParameterShapes } from '../models/layer-registry.js';
import { buildModel, describeModel, type ModelSpec } from '../models/model-spec.js';
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

export async function saveTrainingCheckpoint(
  path: string,
  model: Model,
  opt: SGD | null,
  position: Position,
  extraMeta: Record<string, unknown> = {},
): Promise<void> {
  const params: Record<string, CheckpointTensor> = {};
  for (const [name, v] of Object.entries(await model.stateDict())) params[name] = { shape: [...v.shape], data: v.data };
  const optimizer: Record<string, CheckpointTensor> = {};
  if (opt) for (const [name, v] of opt.state()) optimizer[name] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
  await saveCheckpoint(path, {
    params,
    optimizer,
    position: { epoch: position.epoch, batch: position.batch, step: position.step, seed: position.seed ?? Number(model.config.seed ?? 0) },
    meta: {
      model: await describeModel(model),
      // Where each dropout layer's Philox stream stands, so a resumed run draws the next masks.
      dropoutOffsets: dropoutOffsets(model),
      optimizer: opt
        ? {
            lr: opt.lr,
            momentum: opt.momentum,
            weightDecay: opt.weightDecay,
            form: opt.form,
            nesterov: opt.nesterov,
            decayAll: opt.decayAll,
          }
        : null,
      ...extraMeta,
    },
  });
}

/**
 * Where each stochastic layer's random stream stands, by its path in the layer tree: a top-level
 * dropout's key is its name (as files written before nesting was walked), a nested one's
 * "container.name".
 */
export function dropoutOffsets(model: Model): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { path, state } of stochasticLayers(model.net)) out[path] = state.offset;
  return out;
}

/** Sets the streams' positions from a checkpoint's meta.dropoutOffsets (bad or missing entries are left alone). */
export function applyDropoutOffsets(model: Model, offsets: Record<string, unknown>): void {
  for (const { path, state } of stochasticLayers(model.net)) {
    const v = offsets[path];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) state.offset = v;
  }
}

export interface RestoredModel {
  model: Model;
  /** The weights file's metadata (meta.model, classes, input, ...). */
  meta: Record<string, unknown>;
  /** Whether the optimizer/position twin was found and matches: what resuming needs. */
  resumable: boolean;
  /**
   * The pair as loadCheckpoint returns it. With the weights file alone, params, meta and
   * checkpointId are there and reading `position` or `optimizer` throws ND_FORMAT saying why
   * (the twin is missing or from another save): only a resume needs them.
   */
  checkpoint: LoadedCheckpoint;
}

function missingTwin(path: string, why: Error | null): LoadedCheckpoint['position'] {
  throw new ConvkitError(
    'ND_FORMAT',
    `${path}: cannot resume from this weights file: ${why ? why.message : `its optimizer/position file ${optimizerPath(path)} does not exist`} (it is needed only to resume training)`,
    { cause: why ?? undefined },
  );
}

/**
 * Checks a file's tensors against the shapes its metadata implies, before any model is built: a
 * small file whose metadata claims a huge model fails here, having allocated nothing.
 */
export function checkWeightsAgainstSpec(path: string, spec: ModelSpec, params: Record<string, CheckpointTensor>): void {
  const want = specParameterShapes(spec.layers, `${path}: meta.model`);
  const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
  for (const [name, shape] of want) {
    const got = params[name];
    if (!got)
      throw new ConvkitError(
        'ND_FORMAT',
        `${path}: parameter '${name}' ${fmt(shape)}, which meta.model (${spec.name}) implies, is not in the file`,
      );
    if (!(got.data instanceof Float32Array)) throw new ConvkitError('ND_FORMAT', `${path}: parameter '${name}' must be F32`);
    if (got.shape.length !== shape.length || got.shape.some((d, i) => d !== shape[i]))
      throw new ConvkitError(
        'ND_FORMAT',
        `${path}: parameter '${name}' is ${fmt(got.shape)} in the file but meta.model (${spec.name}) implies ${fmt(shape)}`,
      );
  }
  for (const name of Object.keys(params))
    if (!want.has(name))
      throw new ConvkitError('ND_FORMAT', `${path}: tensor '${name}' is not a parameter of the model meta.model describes (${spec.name})`);
}

/**
 * Rebuilds a model from a weights file alone (its meta.model config) and loads its weights; the
 * optimizer/position twin is read when present, for resuming. The metadata and every tensor's
 * shape are checked before anything is allocated, and whatever was allocated is freed if a later
 * step fails.
 */
export async function restoreModel(path: string, opts: { device?: DeviceName | Device } = {}): Promise<RestoredModel> {
  let pair: LoadedCheckpoint | null = null;
  let pairError: Error | null = null;
  if (await exists(optimizerPath(path))) {
    try {
      pair = await loadCheckpoint(path);
    } catch (e) {
      pairError = e as Error;
    }
  }
  const weights: LoadedWeights = pair ?? (await loadWeights(path));
  const spec = specFromConfig(weights.meta.model, path);
  checkWeightsAgainstSpec(path, spec, weights.params);
  const model = buildModel(spec, opts.device, (m) => new ConvkitError('ND_FORMAT', `${path}: meta.model: ${m}`));
  try {
    model.loadStateDict(weights.params as Record<string, NamedArray>);
    const offsets = weights.meta.dropoutOffsets;
    if (offsets !== null && typeof offsets === 'object') applyDropoutOffsets(model, offsets as Record<string, unknown>);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const checkpoint: LoadedCheckpoint =
    pair ??
    ({
      params: weights.params,
      meta: weights.meta,
      checkpointId: weights.checkpointId,
      get position() {
        return missingTwin(path, pairError);
      },
      get optimizer() {
        return missingTwin(path, pairError) as never;
      },
    } as LoadedCheckpoint);
  return { model, meta: weights.meta, resumable: pair !== null, checkpoint };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
