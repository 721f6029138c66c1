/**
 * A model's parameters in one flat buffer per device and their gradients in another, with a view
 * per parameter (as llm.c does): the optimizer updates them in one fused pass, and data
 * parallelism all-reduces a few contiguous ranges of `grads` instead of many small tensors.
 *
 * Layout: the parameters in root.parameters() order, each starting at a multiple of ALIGN
 * elements (64 bytes, so SIMD kernels see aligned rows); the padding between them is zero in both
 * buffers and belongs to no parameter (SGD skips it, backward never writes it).
 *
 *   model.flat.values / .grads      the two buffers, [size] each, on model.flat.device
 *   model.flat.entries              { name, offset, size, shape, noDecay, layerPath } (elements)
 *   model.flat.layers               per top-level layer with parameters: its range [offset, end)
 *                                   of the buffers, the range its backward writes
 *   model.flat.version              bumped on every rebuild, move or replaced tensor
 *
 * Each parameter's `value` is its view into `values` and its `gradView` its view into `grads`;
 * backward overwrites gradView and sets `grad` to it. Loading weights copies into the views
 * (Model.loadStateDict); a tensor assigned to a parameter from outside (p.value = t) is taken in
 * by rebuilding the buffers before the store's next use (t is copied and disposed), and a plan
 * that recorded the old buffers sees the new version and records again.
 */
import { ArgumentError } from '../errors.js';
import * as ops from '../ops/index.js';
import type { Device } from '../tensor/device.js';
import { Tensor, sizeOf, type Shape } from '../tensor/tensor.js';
import type { Layer } from './layer.js';
import { TrainableParameter, type Parameter, type ParameterOwner } from './parameter.js';

/** One parameter's place in the flat buffers (offsets and sizes in elements). */
export interface FlatEntry {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly shape: Shape;
  readonly noDecay: boolean;
  /** The top-level layer of the model that holds it (its name in model.net). */
  readonly layerPath: string;
}

/** The range of the flat buffers that one top-level layer's parameters occupy. */
export interface FlatLayerRange {
  readonly layerPath: string;
  readonly layer: Layer;
  /** Its index in the root's children (what a backward hook reports). */
  readonly index: number;
  readonly offset: number;
  /** One past its last element (padding after it excluded). */
  readonly end: number;
}

/** Every parameter starts at a multiple of this many elements. */
export const FLAT_ALIGN = 16;

const alignUp = (n: number) => Math.ceil(n / FLAT_ALIGN) * FLAT_ALIGN;

let versions = 0;

export class FlatParameters implements ParameterOwner {
  /** Changes whenever the buffers or any parameter's tensors are not what they were (unique across stores). */
  version = ++versions;
  /**
   * Bumped by the library's in-place writers of the values (SGD.step, a compiled train step,
   * Model.loadStateDict, DataParallel's broadcast): a bf16 predictor re-packs its weights when
   * it changed. Writes through other ops on a parameter's tensor are not counted
   * (Predictor.refresh()).
   */
  writes = 0;
  #device!: Device;
  #values!: Tensor;
  #grads!: Tensor;
  #entries: readonly FlatEntry[] = [];
  #layers: readonly FlatLayerRange[] = [];
  #size = 0;
  #stale = false;
  #disposed = false;
  /** The parameters the store holds, in layout order. */
  readonly params: readonly TrainableParameter[];
  /**
   * Parameters of layers that do not create TrainableParameters (a hand-written Parameter
   * object): they keep their own tensors and are updated one by one.
   */
  readonly outside: readonly Parameter[];

  constructor(readonly root: Layer) {
    const all = root.parameters();
    this.params = all.filter((p): p is TrainableParameter => p instanceof TrainableParameter);
    this.outside = all.filter((p) => !(p instanceof TrainableParameter));
    this.rebuild();
  }

  get device(): Device {
    return this.current().#device;
  }
  get values(): Tensor {
    return this.current().#values;
  }
  get grads(): Tensor {
    return this.current().#grads;
  }
  get entries(): readonly FlatEntry[] {
    return this.current().#entries;
  }
  get layers(): readonly FlatLayerRange[] {
    return this.current().#layers;
  }
  /** Elements in each buffer, padding included. */
  get size(): number {
    return this.current().#size;
  }
  get disposed(): boolean {
    return this.#disposed;
  }
  /** Whether a tensor was assigned from outside since the last build (the next use rebuilds). */
  get stale(): boolean {
    return this.#stale;
  }

  /** This store with its buffers rebuilt first if a parameter was given a tensor from outside. */
  current(): this {
    if (this.#stale && !this.#disposed) this.rebuild();
    return this;
  }

  /** Records that the values were written in place (see `writes`). */
  noteWrite(): void {
    this.writes++;
  }

  /** @internal From TrainableParameter: a tensor was assigned from outside. */
  replaced(p: TrainableParameter, what: 'value' | 'grad'): void {
    void p;
    if (what === 'value') this.#stale = true;
    this.version = ++versions;
  }

  /**
   * Moves both buffers to `device` with one copy of the values (gradients start again at zero,
   * and every parameter's grad is null until the next backward), and rebinds every view.
   */
  moveTo(device: Device): void {
    this.current();
    if (this.#disposed || device === this.#device) return;
    const values = this.#values.to(device);
    this.bindAll(values, Tensor.zeros([this.#size], { device }), this.#entries, null);
  }

  /** Lays out the parameters' current tensors anew: new buffers, each value copied into its view. */
  private rebuild(): void {
    const dev: Device | undefined = this.params[0]?.value.device ?? this.#device;
    for (const p of this.params)
      if (p.value.device !== dev)
        throw new ArgumentError(
          `flat parameters: '${p.name}' is on ${p.value.device.name} but '${this.params[0].name}' is on ${dev.name}; a model's parameters share one device`,
        );
    const entries = this.layout();
    const size = entries.length ? entries[entries.length - 1].offset + entries[entries.length - 1].size : 0;
    this.#size = alignUp(size);
    const values = Tensor.zeros([this.#size], { device: dev });
    const grads = Tensor.zeros([this.#size], { device: dev });
    const sources = this.params.map((p) => p.value);
    const sameEntries = this.#entries.length === entries.length && this.#entries.every((e, i) => sameEntry(e, entries[i]));
    this.bindAll(values, grads, sameEntries ? this.#entries : entries, sources);
  }

  /** Points every parameter at its views of (values, grads), copying `sources` in when given. */
  private bindAll(values: Tensor, grads: Tensor, entries: readonly FlatEntry[], sources: Tensor[] | null): void {
    const old: Tensor[] = this.#values ? [this.#values, this.#grads] : [];
    for (const [i, p] of this.params.entries()) {
      const e = entries[i];
      const value = ops.viewOf(values, e.offset, e.shape);
      if (sources) ops.copyInto(sources[i], value);
      old.push(p.value);
      if (p.grad) old.push(p.grad);
      if (p.gradView) old.push(p.gradView);
      p.bind(this, value, ops.viewOf(grads, e.offset, e.shape));
    }
    // Queued ops (the copies above included) hold their own references: disposing is safe.
    for (const t of new Set(old)) t.dispose();
    this.#values = values;
    this.#grads = grads;
    this.#device = values.device;
    this.#entries = entries;
    this.#layers = this.layerRanges(entries);
    this.#stale = false;
    this.version = ++versions;
  }

  private layout(): FlatEntry[] {
    const owner = new Map<Parameter, string>();
    for (const l of this.root.children()) for (const p of l.parameters()) owner.set(p, l.name);
    const out: FlatEntry[] = [];
    let offset = 0;
    for (const p of this.params) {
      const size = sizeOf(p.value.shape);
      out.push(Object.freeze({ name: p.name, offset, size, shape: p.value.shape, noDecay: p.noDecay, layerPath: owner.get(p) ?? '' }));
      offset = alignUp(offset + size);
    }
    return out;
  }

  private layerRanges(entries: readonly FlatEntry[]): FlatLayerRange[] {
    const out: FlatLayerRange[] = [];
    for (const [index, layer] of this.root.children().entries()) {
      const mine = entries.filter((e) => e.layerPath === layer.name);
      if (!mine.length) continue;
      const last = mine[mine.length - 1];
      out.push(Object.freeze({ layerPath: layer.name, layer, index, offset: mine[0].offset, end: last.offset + last.size }));
    }
    return out;
  }

  /** Frees both buffers and every view (the parameters are unusable afterwards, as after Layer.dispose). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const p of this.params) {
      p.value.dispose();
      p.gradView?.dispose();
      p.grad?.dispose();
    }
    this.#values?.dispose();
    this.#grads?.dispose();
    this.version = ++versions;
  }
}

function sameEntry(a: FlatEntry, b: FlatEntry): boolean {
  return (
    a.name === b.name &&
    a.offset === b.offset &&
    a.size === b.size &&
    a.noDecay === b.noDecay &&
    a.layerPath === b.layerPath &&
    a.shape.every((d, i) => d === b.shape[i]) &&
    a.shape.length === b.shape.length
  );
}
