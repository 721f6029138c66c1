/**
 * The storages a recorded plan (Predictor, TrainPlan) names: a recording holds the very tensors
 * it read and wrote when it was made, so a model moved (model.to), given new tensors (a parameter
 * value replaced) or disposed afterwards would be left training or reading stale memory with no
 * sign of it. A plan snapshots the model's storages when it records and compares before every
 * replay: a replaced one means re-record, a disposed one is refused with ND_DISPOSED. With the
 * parameters in the model's flat store, the per-replay check is the store's version (one number)
 * plus the few layers' fixed buffers; names are built only when something changed.
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
 * The layers below `root` that had fixed buffers when a plan recorded, with those buffers: a
 * replay compares only these (LeNet-5: C3's mask and the RBF codes; AlexNet: none).
 */
function layersWithBuffers(root: Layer): { layer: Layer; buffers: Tensor[] }[] {
  const out: { layer: Layer; buffers: Tensor[] }[] = [];
  for (const l of layersBelow(root)) {
    const b = l.buffers();
    if (b.length) out.push({ layer: l, buffers: b });
  }
  return out;
}

/**
 * Parameters outside the model's flat store (hand-written Parameter objects) keep their own
 * tensors, so a replay compares those one by one, as every parameter was before flat buffers.
 */
function outsideTensors(model: Model, grads: boolean): Tensor[] {
  const out: Tensor[] = [];
  for (const p of model.flat.outside) {
    out.push(p.value);
    if (grads && p.grad) out.push(p.grad);
  }
  return out;
}

export class RecordedStorages {
  private readonly version: number;
  private readonly buffers: { layer: Layer; buffers: Tensor[] }[];
  private readonly outside: Tensor[];

  private constructor(
    private readonly grads: boolean,
    private readonly entries: Named[],
    model: Model,
  ) {
    // Every parameter value and gradient in the flat store is covered by its version, which any
    // rebuild, move, disposal or tensor assigned from outside changes: one comparison per replay
    // instead of a walk over every parameter.
    this.version = model.flat.version;
    this.buffers = layersWithBuffers(model.net);
    this.outside = outsideTensors(model, grads);
  }

  /** Snapshot after recording: with grads for a training plan (its backward writes them). */
  static of(model: Model, grads: boolean): RecordedStorages {
    return new RecordedStorages(grads, storagesOf(model, grads), model);
  }

  /**
   * Throws ND_DISPOSED naming `plan` and the storage when one of the model's storages was
   * disposed (nothing may run on it); otherwise returns what changed since the snapshot (a
   * moved or replaced tensor, by name), or null when the recording is still the model's.
   */
  check(model: Model, plan: string): string | null {
    const flat = model.flat;
    if (flat.version === this.version && !flat.disposed && this.sameBuffers() && this.sameOutside(model)) return null;
    return this.describeChange(model, plan) ?? 'the flat parameter buffers';
  }

  private sameBuffers(): boolean {
    for (const { layer, buffers } of this.buffers) {
      const now = layer.buffers();
      if (now.length !== buffers.length) return false;
      for (let i = 0; i < now.length; i++) if (now[i] !== buffers[i] || now[i].disposed) return false;
    }
    return true;
  }

  private sameOutside(model: Model): boolean {
    if (!this.outside.length && !model.flat.outside.length) return true;
    const now = outsideTensors(model, this.grads);
    return now.length === this.outside.length && now.every((t, i) => t === this.outside[i] && !t.disposed);
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
