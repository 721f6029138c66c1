/**
 * The storages a recorded plan (Predictor, TrainPlan) names: a recording holds the very tensors
 * it read and wrote when it was made, so a model moved (model.to), given new tensors (a parameter
 * value replaced) or disposed afterwards would be left training or reading stale memory with no
 * sign of it. A plan snapshots the model's storages when it records and compares before every
 * replay: a replaced one means re-record, a disposed one is refused with ND_DISPOSED.
 */
import { DisposedError } from '../errors.js';
import { layersBelow, layerTree, type Layer } from '../layers/layer.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from './model.js';

interface Named {
  name: string;
  tensor: Tensor;
}

/** Parameter values (and, for a training plan, gradients) and every layer's fixed buffers, by name. */
function storagesOf(model: Model, grads: boolean): Named[] {
  const out: Named[] = [];
  for (const p of model.parameters()) {
    out.push({ name: p.name, tensor: p.value });
    if (grads && p.grad) out.push({ name: `${p.name}.grad`, tensor: p.grad });
  }
  for (const { path, layer } of layerTree(model.net))
    for (const [i, b] of layer.buffers().entries()) out.push({ name: `${path} buffer ${i}`, tensor: b });
  return out;
}

/**
 * The same storages as storagesOf, as bare tensors in the same order: what every replay compares
 * (no names, paths or objects built per call, which cost a few microseconds on LeNet-5's batch-1
 * path); storagesOf names them only when something changed.
 */
function tensorsOf(layer: Layer, grads: boolean, out: Tensor[]): Tensor[] {
  for (const p of layer.parameters()) {
    out.push(p.value);
    if (grads && p.grad) out.push(p.grad);
  }
  return out;
}

function buffersOf(layer: Layer, out: Tensor[]): Tensor[] {
  for (const l of layersBelow(layer)) for (const b of l.buffers()) out.push(b);
  return out;
}

export class RecordedStorages {
  private readonly tensors: Tensor[];

  private constructor(
    private readonly grads: boolean,
    private readonly entries: Named[],
  ) {
    this.tensors = entries.map((e) => e.tensor);
  }

  /** Snapshot after recording: with grads for a training plan (its backward writes them). */
  static of(model: Model, grads: boolean): RecordedStorages {
    return new RecordedStorages(grads, storagesOf(model, grads));
  }

  /**
   * Throws ND_DISPOSED naming `plan` and the storage when one of the model's storages was
   * disposed (nothing may run on it); otherwise returns what changed since the snapshot (a
   * moved or replaced tensor, by name), or null when the recording is still the model's.
   */
  check(model: Model, plan: string): string | null {
    const now = buffersOf(model.net, tensorsOf(model.net, this.grads, []));
    if (now.length === this.tensors.length && now.every((t, i) => t === this.tensors[i] && !t.disposed)) return null;
    return this.describeChange(model, plan);
  }

  private describeChange(model: Model, plan: string): string | null {
    const now = storagesOf(model, this.grads);
    for (const s of now)
      if (s.tensor.disposed)
        throw new DisposedError(`${plan}: '${s.name}' of ${model.name} was disposed; the recorded plan cannot run (dispose the plan too)`);
    if (now.length !== this.entries.length) return `${now.length - this.entries.length} storages added or removed`;
    for (const [i, s] of now.entries()) if (s.tensor !== this.entries[i].tensor || s.name !== this.entries[i].name) return s.name;
    return null;
  }
}
