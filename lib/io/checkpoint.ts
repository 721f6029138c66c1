/**
 * Training checkpoints: a pair of safetensors files.
 *
 * - `<name>.safetensors`: the weights, one tensor per parameter, named as given. Names are
 *   stable and dot-separated like PyTorch state_dict keys ("c1.weight", "f6.bias"), so a PyTorch
 *   user loads them with `safetensors.torch.load_file` and, at most, a key mapping. Its
 *   `__metadata__` holds `format: "pt"`, the checkpoint id and the caller's `meta` as JSON.
 * - `<name>.optim.safetensors`: the optimizer state (e.g. momentum buffers, named as given) and,
 *   in `__metadata__`, the training position as JSON and the checkpoint id.
 *
 * Each file is written atomically (temporary file, fsync, rename). The optimizer/position file
 * is written first and the weights last, and both carry the same random `checkpoint_id`: a
 * crash between the two renames leaves a new optimizer file beside old weights, and
 * loadCheckpoint reports that pair as mismatched (ND_FORMAT) instead of resuming from it.
 */
import { randomBytes } from 'node:crypto';
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';
import { readSafetensors, writeSafetensors, type SafetensorsEntry, type SafetensorsFile } from './safetensors.js';

export interface CheckpointTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Where training stands: enough to resume at the same batch with the same data order. */
export interface TrainingPosition {
  /** The epoch being trained (0-based). */
  epoch: number;
  /** The next batch to train within that epoch (DataLoader.epoch's startBatch). */
  batch: number;
  /** Optimizer steps taken so far. */
  step: number;
  /** The data loader's seed. */
  seed: number;
}

export interface Checkpoint {
  params: Record<string, CheckpointTensor>;
  optimizer: Record<string, CheckpointTensor>;
  position: TrainingPosition;
  /** Anything JSON can hold: architecture, hyperparameters, metrics. */
  meta?: Record<string, unknown>;
}

export interface LoadedCheckpoint extends Required<Checkpoint> {
  checkpointId: string;
}

const VERSION = '1';
const KEY_KIND = 'convkit.kind';
const KEY_ID = 'convkit.checkpoint_id';
const KEY_VERSION = 'convkit.version';
const KEY_META = 'convkit.meta';
const KEY_POSITION = 'convkit.position';

/** The optimizer/position file that goes with the weights file `path`. */
export function optimizerPath(path: string): string {
  return path.endsWith('.safetensors') ? `${path.slice(0, -'.safetensors'.length)}.optim.safetensors` : `${path}.optim.safetensors`;
}

function toEntries(op: string, what: string, tensors: Record<string, CheckpointTensor>): Record<string, SafetensorsEntry> {
  if (tensors === null || typeof tensors !== 'object') throw new ArgumentError(`${op}: '${what}' must be an object of { shape, data }`);
  const out: Record<string, SafetensorsEntry> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const dtype = t?.data instanceof Float32Array ? 'F32' : t?.data instanceof Int32Array ? 'I32' : null;
    if (!dtype) throw new ArgumentError(`${op}: ${what} "${name}" must hold a Float32Array or Int32Array`);
    if (!Array.isArray(t.shape) || t.shape.reduce((a, b) => a * b, 1) !== t.data.length)
      throw new ShapeError(`${op}: ${what} "${name}" has shape ${Array.isArray(t.shape) ? fmtShape(t.shape) : String(t.shape)} but ${t.data.length} values`);
    out[name] = { dtype, shape: t.shape, data: t.data };
  }
  return out;
}

function checkPosition(p: unknown, fail: (msg: string) => Error): TrainingPosition {
  if (p === null || typeof p !== 'object') throw fail('the position must be an object { epoch, batch, step, seed }');
  const q = p as Record<string, unknown>;
  for (const k of ['epoch', 'batch', 'step'] as const)
    if (!Number.isSafeInteger(q[k]) || (q[k] as number) < 0) throw fail(`position.${k} must be a non-negative integer, got ${JSON.stringify(q[k])}`);
  if (!Number.isSafeInteger(q.seed)) throw fail(`position.seed must be an integer, got ${JSON.stringify(q.seed)}`);
  return { epoch: q.epoch as number, batch: q.batch as number, step: q.step as number, seed: q.seed as number };
}

/**
 * Saves a checkpoint: `path` (the weights, ending in .safetensors) and the optimizer/position
 * file beside it. Returns both paths and the pair's id.
 */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<{ weightsPath: string; optimizerPath: string; checkpointId: string }> {
  const op = 'saveCheckpoint';
  if (typeof path !== 'string' || path.length === 0) throw new ArgumentError(`${op}: 'path' must be a non-empty string`);
  const params = toEntries(op, 'params', ckpt?.params);
  const optimizer = toEntries(op, 'optimizer', ckpt.optimizer ?? {});
  const position = checkPosition(ckpt.position, (m) => new ArgumentError(`${op}: ${m}`));
  let meta: string;
  try {
    meta = JSON.stringify(ckpt.meta ?? {});
  } catch (e) {
    throw new ArgumentError(`${op}: 'meta' must be JSON-serializable: ${(e as Error).message}`);
  }
  const id = randomBytes(16).toString('hex');
  const optPath = optimizerPath(path);
  await writeSafetensors(optPath, optimizer, { [KEY_KIND]: 'optimizer', [KEY_VERSION]: VERSION, [KEY_ID]: id, [KEY_POSITION]: JSON.stringify(position) });
  await writeSafetensors(path, params, { format: 'pt', [KEY_KIND]: 'weights', [KEY_VERSION]: VERSION, [KEY_ID]: id, [KEY_META]: meta });
  return { weightsPath: path, optimizerPath: optPath, checkpointId: id };
}

function fromFile(file: string, kind: string, f: SafetensorsFile): Record<string, CheckpointTensor> {
  const m = f.metadata;
  if (m[KEY_KIND] !== kind)
    throw new ConvkitError('ND_FORMAT', `${file}: not a convkit checkpoint ${kind} file ("${KEY_KIND}" in __metadata__ at byte 8 is ${JSON.stringify(m[KEY_KIND])})`);
  if (m[KEY_VERSION] !== VERSION)
    throw new ConvkitError('ND_FORMAT', `${file}: checkpoint version ${JSON.stringify(m[KEY_VERSION])} (in __metadata__ at byte 8) is not supported; expected "${VERSION}"`);
  if (typeof m[KEY_ID] !== 'string' || m[KEY_ID].length === 0) throw new ConvkitError('ND_FORMAT', `${file}: "${KEY_ID}" is missing from __metadata__ (header at byte 8)`);
  const out: Record<string, CheckpointTensor> = {};
  for (const [name, t] of Object.entries(f.tensors)) {
    if (t.dtype !== 'F32' && t.dtype !== 'I32')
      throw new ConvkitError('ND_FORMAT', `${file}: tensor "${name}" is ${t.dtype}; convkit checkpoints hold F32 and I32 only`);
    out[name] = { shape: t.shape, data: t.data as Float32Array | Int32Array };
  }
  return out;
}

function parseJson(file: string, key: string, text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch (e) {
    throw new ConvkitError('ND_FORMAT', `${file}: "${key}" in __metadata__ (header at byte 8) is not valid JSON: ${(e as Error).message}`);
  }
}

/** Loads and cross-checks a checkpoint pair saved by saveCheckpoint. */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const optPath = optimizerPath(path);
  const [weightsFile, optFile] = await Promise.all([
    readSafetensors(path),
    readSafetensors(optPath).catch((e: NodeJS.ErrnoException) => {
      if (e?.code !== 'ENOENT') throw e;
      throw new ConvkitError('ND_FORMAT', `loadCheckpoint: ${path} has no optimizer/position file beside it (${optPath} does not exist)`, { cause: e });
    }),
  ]);
  const params = fromFile(path, 'weights', weightsFile);
  const optimizer = fromFile(optPath, 'optimizer', optFile);
  const id = weightsFile.metadata[KEY_ID]!;
  const optId = optFile.metadata[KEY_ID]!;
  if (id !== optId)
    throw new ConvkitError(
      'ND_FORMAT',
      `loadCheckpoint: ${path} (checkpoint_id ${id}) and ${optPath} (checkpoint_id ${optId}) come from different saves; ` +
        'a save was probably interrupted between its two files (header at byte 8 of each)',
    );
  const position = checkPosition(parseJson(optPath, KEY_POSITION, optFile.metadata[KEY_POSITION]), (m) => new ConvkitError('ND_FORMAT', `${optPath}: ${m} (in __metadata__ at byte 8)`));
  const meta = parseJson(path, KEY_META, weightsFile.metadata[KEY_META]);
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    throw new ConvkitError('ND_FORMAT', `${path}: "${KEY_META}" in __metadata__ (header at byte 8) must be a JSON object`);
  return { params, optimizer, position, meta: meta as Record<string, unknown>, checkpointId: id };
}

/** A weights file read on its own: what rebuilds and runs a model (no optimizer state, no position). */
export interface LoadedWeights {
  params: Record<string, CheckpointTensor>;
  meta: Record<string, unknown>;
  checkpointId: string;
}

/**
 * Loads the weights file of a checkpoint pair without its optimizer/position twin: enough to
 * rebuild and run the model (predict, evaluate, export); the twin is needed only to resume.
 */
export async function loadWeights(path: string): Promise<LoadedWeights> {
  const f = await readSafetensors(path);
  const params = fromFile(path, 'weights', f);
  const meta = parseJson(path, KEY_META, f.metadata[KEY_META]);
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    throw new ConvkitError('ND_FORMAT', `${path}: "${KEY_META}" in __metadata__ (header at byte 8) must be a JSON object`);
  return { params, meta: meta as Record<string, unknown>, checkpointId: f.metadata[KEY_ID]! };
}
