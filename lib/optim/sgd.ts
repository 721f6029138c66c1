/**
 * SGD with momentum and weight decay over a model's parameters. Parameters that live in a
 * model's flat buffers (lib/layers/flat-parameters.ts) are updated by one fused native pass per
 * model (ops.sgdFlat) over a segment table: each parameter's range with the weight decay, or none
 * for noDecay ones (biases, LeNet's subsampling coefficients); the alignment padding between them
 * is left alone. Their velocity is one flat buffer of the same layout. Any other parameter (a
 * layer outside a model, or a gradient assigned from outside) takes one ops.sgdStep of its own.
 * Velocities are still named per parameter (state(), views of the flat velocity), so optimizer
 * checkpoints keep their names and files.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { FlatParameters, type FlatEntry } from '../layers/flat-parameters.js';
import { TrainableParameter, type Parameter } from '../layers/parameter.js';
import * as ops from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** 'pytorch' (torch.optim.SGD) or 'paper' (AlexNet's v = mu v - wd lr w - lr g; w += v). */
  form?: 'pytorch' | 'paper';
  nesterov?: boolean;
  /** Apply weight decay to noDecay parameters too (AlexNet's paper decays every weight). */
  decayAll?: boolean;
}

/** A store's velocity buffer, made for one layout of it. */
interface FlatVelocity {
  buffer: Tensor;
  entries: readonly FlatEntry[];
}

/** The segment table of one step, reused while nothing it was made from changed. */
interface SegmentCache {
  version: number;
  present: number;
  segments: ops.SgdSegments;
}

export class SGD {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly form: 'pytorch' | 'paper';
  readonly nesterov: boolean;
  readonly decayAll: boolean;
  readonly params: Parameter[];
  /** By parameter name: views of a flat velocity buffer, or a tensor of its own. */
  private readonly velocity = new Map<string, Tensor>();
  private readonly flatVelocity = new Map<FlatParameters, FlatVelocity>();
  private readonly segmentCache = new Map<FlatParameters, SegmentCache>();

  constructor(params: Parameter[], o: SGDOptions) {
    if (!(o.lr > 0)) throw new ArgumentError(`SGD: 'lr' must be > 0, got ${o.lr}`);
    this.params = params;
    this.lr = o.lr;
    this.momentum = o.momentum ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.form = o.form ?? 'pytorch';
    this.nesterov = o.nesterov ?? false;
    this.decayAll = o.decayAll ?? false;
  }

  private decays(p: Parameter): boolean {
    return !p.noDecay || this.decayAll;
  }

  /** The flat store p's views belong to, or null when p is updated on its own. */
  private static storeOf(p: Parameter): FlatParameters | null {
    const owner = p instanceof TrainableParameter ? p.owner : null;
    return owner instanceof FlatParameters && !owner.disposed ? owner : null;
  }

  /** Queues one update of every parameter that has a gradient: one op per flat store, one per other parameter. */
  step(): void {
    const opts = { lr: this.lr, momentum: this.momentum, form: this.form, nesterov: this.nesterov };
    const stores = new Set<FlatParameters>();
    for (const p of this.params) {
      const store = SGD.storeOf(p);
      if (store) stores.add(store.current()); // a replaced tensor is taken in first (grads restart)
    }
    for (const p of this.params) {
      if (!p.grad) continue;
      const store = SGD.storeOf(p);
      if (store && p.grad === p.gradView) continue; // in its store's fused pass
      let v = this.velocity.get(p.name) ?? null;
      if (!v && this.momentum > 0) {
        v = Tensor.zeros(p.value.shape, { device: p.value.device });
        this.velocity.set(p.name, v);
      }
      ops.sgdStep(p.value, p.grad, v, { ...opts, weightDecay: this.decays(p) ? this.weightDecay : 0 });
    }
    for (const store of stores) {
      const segments = this.segmentsOf(store);
      if (!segments.count) continue;
      const v = this.momentum > 0 ? this.flatVelocityOf(store) : (this.currentFlatVelocity(store) ?? null);
      ops.sgdFlat(store.values, store.grads, v, segments, { ...opts, weightDecay: this.weightDecay });
      store.noteWrite();
    }
  }

  /** The ranges of this optimizer's parameters in `store` that have their gradient in the store's buffer. */
  private segmentsOf(store: FlatParameters): ops.SgdSegments {
    let present = 0;
    for (const p of store.params) if (p.grad !== null && p.grad === p.gradView) present++;
    const cached = this.segmentCache.get(store);
    if (cached && cached.version === store.version && cached.present === present) return cached.segments;
    const mine = new Set(this.params);
    const list: ops.SgdSegment[] = [];
    for (const [i, p] of store.params.entries())
      if (mine.has(p) && p.grad !== null && p.grad === p.gradView)
        list.push({ offset: store.entries[i].offset, size: store.entries[i].size, decay: this.decays(p) });
    const segments = ops.sgdSegments(list, store.size);
    this.segmentCache.set(store, { version: store.version, present, segments });
    return segments;
  }

  /** The store's velocity buffer if it has one for the store's current layout. */
  private currentFlatVelocity(store: FlatParameters): Tensor | undefined {
    const f = this.flatVelocity.get(store);
    return f && f.entries === store.entries ? f.buffer : undefined;
  }

  /** The store's velocity buffer (zeros, where the store is, when new), with a named view per parameter. */
  private flatVelocityOf(store: FlatParameters): Tensor {
    const have = this.currentFlatVelocity(store);
    if (have) return have;
    const old = this.flatVelocity.get(store);
    if (old) {
      // The store was laid out anew (other shapes): start its velocities again.
      for (const e of old.entries) this.velocity.get(e.name)?.dispose();
      old.buffer.dispose();
    }
    const buffer = Tensor.zeros([store.size], { device: store.device });
    const mine = new Set(this.params);
    for (const [i, p] of store.params.entries()) {
      if (!mine.has(p)) continue;
      const e = store.entries[i];
      this.velocity.get(p.name)?.dispose();
      this.velocity.set(p.name, ops.viewOf(buffer, e.offset, e.shape));
    }
    this.flatVelocity.set(store, { buffer, entries: store.entries });
    return buffer;
  }

  /**
   * Creates the velocity buffers now (zeros, which is what the first step would create), so
   * that a recorded training step (Model.compileTrainStep) does not record their creation.
   */
  ensureState(): void {
    if (!(this.momentum > 0)) return;
    for (const p of this.params) {
      const store = SGD.storeOf(p);
      if (store) this.flatVelocityOf(store.current());
      else if (!this.velocity.has(p.name)) this.velocity.set(p.name, Tensor.zeros(p.value.shape, { device: p.value.device }));
    }
  }

  /**
   * The flat velocity buffer for `store` (a model's `flat`), laid out as its values and grads,
   * or null before the first step or ensureState() (or without momentum).
   */
  velocityBuffer(store: FlatParameters): Tensor | null {
    return this.currentFlatVelocity(store.current()) ?? null;
  }

  /** Velocity buffers by parameter name (for checkpoints): views of the flat velocity where there is one. */
  state(): Map<string, Tensor> {
    return this.velocity;
  }

  /**
   * Sets the velocities from a checkpoint's optimizer state, by parameter name: copied into the
   * flat velocity's views (so a recorded step keeps reading the same buffer), or uploaded for a
   * parameter outside a model. A shape that does not match the parameter is ND_SHAPE.
   */
  loadState(state: Record<string, { shape: readonly number[]; data: Float32Array }>): void {
    for (const p of this.params) {
      const s = state[p.name];
      if (!s) continue;
      if (s.shape.length !== p.value.shape.length || s.shape.some((d, i) => d !== p.value.shape[i]) || s.data.length !== p.value.size)
        throw new ShapeError(
          `SGD.loadState: the velocity of '${p.name}' is ${fmtShape(s.shape)} (${s.data.length} values) but the parameter is ${fmtShape(p.value.shape)}`,
        );
      const src = Tensor.fromArray(s.data, s.shape, { device: p.value.device });
      const store = SGD.storeOf(p);
      if (store) {
        this.flatVelocityOf(store.current());
        ops.copyInto(src, this.velocity.get(p.name)!);
        src.dispose();
      } else {
        this.velocity.get(p.name)?.dispose();
        this.velocity.set(p.name, src);
      }
    }
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
    for (const f of this.flatVelocity.values()) f.buffer.dispose();
    this.velocity.clear();
    this.flatVelocity.clear();
    this.segmentCache.clear();
  }
}
