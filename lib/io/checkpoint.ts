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
 * Both carry the same random `checkpoint_id`, and a save is a protocol whose commit point is
 * one rename, so that a process killed at any moment leaves the newest pair that was reported
 * saved (or a later one) loadable:
 *
 *   0. finish or clean up after a killed save: if `<name>.optim.safetensors.pending-<id>` holds
 *      the optimizer file of the weights now at `<name>.safetensors`, rename it into place;
 *      remove every other pending file and every temporary file a killed writer left;
 *   1. write the new optimizer file under `<name>.optim.safetensors.pending-<new id>`, fsync it
 *      and the directory (nothing refers to that name yet, so a partial file is harmless);
 *   2. write the weights to a temporary file, fsync, rename it over `<name>.safetensors`
 *      (the commit: from here the new id is the checkpoint) and fsync the directory;
 *   3. rename the pending optimizer file over `<name>.optim.safetensors`, fsync the directory.
 *
 * Killed before step 2's rename, the old pair is untouched; killed after it, the weights name
 * the new id and loadCheckpoint finds the optimizer file under its pending name. A pair left by
 * older convkit versions (no pending files) loads as before. One process saves to a path at a
 * time; loading never writes, and is safe while another process saves.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';
import { clip, describeValue } from './describe.js';
import { syncDir, tempPrefix, writeFileAtomic, writeFileDurable } from './durable-write.js';
import { encodeSafetensors, readSafetensors, readSafetensorsHeader, type SafetensorsEntry, type SafetensorsFile } from './safetensors.js';

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

const PENDING = '.pending-';

/** Where save `id` keeps its optimizer file until its weights are committed and it is renamed into place. */
export function pendingOptimizerPath(path: string, id: string): string {
  return `${optimizerPath(path)}${PENDING}${id}`;
}

/** Called at each step of a save with the save's id; see setCheckpointStepHook. */
export type CheckpointStepHook = (step: string, id: string) => void;
let stepHook: CheckpointStepHook | null = null;

/**
 * @internal For the kill-safety tests: `hook` runs synchronously at every step of every save
 * (a test kills the process from it). Not exported from the package.
 */
export function setCheckpointStepHook(hook: CheckpointStepHook | null): void {
  stepHook = hook;
}

function toEntries(op: string, what: string, tensors: Record<string, CheckpointTensor>): Record<string, SafetensorsEntry> {
  if (tensors === null || typeof tensors !== 'object') throw new ArgumentError(`${op}: '${what}' must be an object of { shape, data }`);
  const out: Record<string, SafetensorsEntry> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const dtype = t?.data instanceof Float32Array ? 'F32' : t?.data instanceof Int32Array ? 'I32' : null;
    if (!dtype) throw new ArgumentError(`${op}: ${what} "${name}" must hold a Float32Array or Int32Array`);
    if (!Array.isArray(t.shape) || t.shape.reduce((a, b) => a * b, 1) !== t.data.length)
      throw new ShapeError(
        `${op}: ${what} "${name}" has shape ${Array.isArray(t.shape) ? fmtShape(t.shape) : String(t.shape)} but ${t.data.length} values`,
      );
    out[name] = { dtype, shape: t.shape, data: t.data };
  }
  return out;
}

function checkPosition(p: unknown, fail: (msg: string) => Error): TrainingPosition {
  if (p === null || typeof p !== 'object') throw fail('the position must be an object { epoch, batch, step, seed }');
  const q = p as Record<string, unknown>;
  for (const k of ['epoch', 'batch', 'step'] as const)
    if (!Number.isSafeInteger(q[k]) || (q[k] as number) < 0)
      throw fail(`position.${k} must be a non-negative integer, got ${describeValue(q[k])}`);
  if (!Number.isSafeInteger(q.seed)) throw fail(`position.seed must be an integer, got ${describeValue(q.seed)}`);
  return { epoch: q.epoch as number, batch: q.batch as number, step: q.step as number, seed: q.seed as number };
}

/**
 * Saves a checkpoint: `path` (the weights, ending in .safetensors) and the optimizer/position
 * file beside it. Returns both paths and the pair's id.
 */
export async function saveCheckpoint(
  path: string,
  ckpt: Checkpoint,
): Promise<{ weightsPath: string; optimizerPath: string; checkpointId: string }> {
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
  const pending = pendingOptimizerPath(path, id);
  // Both files are encoded before anything is written, so a bad argument writes nothing.
  const optChunks = encodeSafetensors(
    optimizer,
    { [KEY_KIND]: 'optimizer', [KEY_VERSION]: VERSION, [KEY_ID]: id, [KEY_POSITION]: JSON.stringify(position) },
    op,
  );
  const weightChunks = encodeSafetensors(
    params,
    { format: 'pt', [KEY_KIND]: 'weights', [KEY_VERSION]: VERSION, [KEY_ID]: id, [KEY_META]: meta },
    op,
  );
  const hook = stepHook;
  const step = (name: string): void => hook?.(name, id);

  step('begin');
  await recover(path, step);
  step('recovered');
  await writeFileDurable(pending, optChunks, (s) => step(`optim-${s}`));
  await syncDir(dirname(path));
  step('optim-synced');
  // The commit point: once this rename lands, `id` is the checkpoint.
  await writeFileAtomic(path, weightChunks, (s) => step(`weights-${s}`));
  step('committed');
  await rename(pending, optPath);
  step('optim-renamed');
  await syncDir(dirname(path));
  step('done');
  return { weightsPath: path, optimizerPath: optPath, checkpointId: id };
}

/**
 * Step 0 of a save: rolls forward a save that was killed after its commit (its optimizer file
 * still under the pending name) and removes what killed saves left: temporary files of either
 * file and pending optimizer files of saves that never committed.
 */
async function recover(path: string, step: (name: string) => void): Promise<void> {
  const dir = dirname(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no folder yet: the write below reports it
  }
  // null: no weights file; undefined: one we cannot read, so its pending file is kept.
  let committed: string | null | undefined;
  try {
    committed = (await readSafetensorsHeader(path)).metadata[KEY_ID] ?? null;
  } catch (e) {
    committed = (e as NodeJS.ErrnoException)?.code === 'ENOENT' ? null : undefined;
  }
  const keep = committed ? basename(pendingOptimizerPath(path, committed)) : null;
  if (keep && names.includes(keep)) {
    await rename(join(dir, keep), optimizerPath(path));
    step('rolled-forward');
    await syncDir(dir);
  }
  const temps = [basename(tempPrefix(path)), basename(tempPrefix(optimizerPath(path)))];
  const pendings = basename(optimizerPath(path)) + PENDING;
  for (const name of names) {
    const stale = temps.some((p) => name.startsWith(p)) || (committed !== undefined && name !== keep && name.startsWith(pendings));
    if (stale) await unlink(join(dir, name)).catch(() => {});
  }
}

function fromFile(file: string, kind: string, f: SafetensorsFile): Record<string, CheckpointTensor> {
  const m = f.metadata;
  if (m[KEY_KIND] !== kind)
    throw new ConvkitError(
      'ND_FORMAT',
      `${file}: not a convkit checkpoint ${kind} file ("${KEY_KIND}" in __metadata__ at byte 8 is ${describeValue(m[KEY_KIND])})`,
    );
  if (m[KEY_VERSION] !== VERSION)
    throw new ConvkitError(
      'ND_FORMAT',
      `${file}: checkpoint version ${describeValue(m[KEY_VERSION])} (in __metadata__ at byte 8) is not supported; expected "${VERSION}"`,
    );
  if (typeof m[KEY_ID] !== 'string' || m[KEY_ID].length === 0)
    throw new ConvkitError('ND_FORMAT', `${file}: "${KEY_ID}" is missing from __metadata__ (header at byte 8)`);
  const out: Record<string, CheckpointTensor> = {};
  for (const [name, t] of Object.entries(f.tensors)) {
    if (t.dtype !== 'F32' && t.dtype !== 'I32')
      throw new ConvkitError(
        'ND_FORMAT',
        `${file}: tensor ${describeValue(name)} is ${t.dtype}; convkit checkpoints hold F32 and I32 only`,
      );
    out[name] = { shape: t.shape, data: t.data as Float32Array | Int32Array };
  }
  return out;
}

function parseJson(file: string, key: string, text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch (e) {
    throw new ConvkitError(
      'ND_FORMAT',
      `${file}: "${key}" in __metadata__ (header at byte 8) is not valid JSON: ${describeValue((e as Error).message, 200)}`,
    );
  }
}

/** The optimizer file at `file`, or null when there is none. */
async function readOptional(file: string): Promise<SafetensorsFile | null> {
  try {
    return await readSafetensors(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Loads and cross-checks a checkpoint pair saved by saveCheckpoint: the weights, and the
 * optimizer file with the same id, beside them or (after a save killed past its commit) under
 * its pending name. Never writes. A save by another process that commits while this reads is
 * detected (the weights' id changed) and the read is retried.
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const optPath = optimizerPath(path);
  for (let attempt = 0; ; attempt++) {
    const weightsFile = await readSafetensors(path);
    const params = fromFile(path, 'weights', weightsFile);
    const id = weightsFile.metadata[KEY_ID]!;
    let optFile = await readOptional(optPath);
    let optName = optPath;
    if (optFile) fromFile(optPath, 'optimizer', optFile);
    if (optFile?.metadata[KEY_ID] !== id) {
      const pending = await readOptional(pendingOptimizerPath(path, id));
      // Gone from its pending name: a save may just have renamed it into place.
      const again = pending ? null : await readOptional(optPath);
      if (pending && pending.metadata[KEY_ID] === id) {
        optFile = pending;
        optName = pendingOptimizerPath(path, id);
      } else if (again && again.metadata[KEY_ID] === id) {
        optFile = again;
      } else if (attempt < 5 && (await readSafetensorsHeader(path)).metadata[KEY_ID] !== id) {
        continue; // a save committed while we read: read the new pair
      } else if (!optFile) {
        throw new ConvkitError('ND_FORMAT', `loadCheckpoint: ${path} has no optimizer/position file beside it (${optPath} does not exist)`);
      } else {
        throw new ConvkitError(
          'ND_FORMAT',
          `loadCheckpoint: ${path} (checkpoint_id ${clip(id)}) and ${optPath} (checkpoint_id ${clip(String(optFile.metadata[KEY_ID]))}) come from different saves; ` +
            'a save was probably interrupted between its two files (header at byte 8 of each)',
        );
      }
    }
    const optimizer = fromFile(optName, 'optimizer', optFile);
    const position = checkPosition(
      parseJson(optName, KEY_POSITION, optFile.metadata[KEY_POSITION]),
      (m) => new ConvkitError('ND_FORMAT', `${optName}: ${m} (in __metadata__ at byte 8)`),
    );
    const meta = parseJson(path, KEY_META, weightsFile.metadata[KEY_META]);
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
      throw new ConvkitError('ND_FORMAT', `${path}: "${KEY_META}" in __metadata__ (header at byte 8) must be a JSON object`);
    return { params, optimizer, position, meta: meta as Record<string, unknown>, checkpointId: id };
  }
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
