/**
 * A trainable parameter: its stable name, its value and its gradient. Inside a Model the value and
 * the gradient are views into the model's flat buffers (lib/layers/flat-parameters.ts), so an
 * optimizer updates every parameter in one pass and data parallelism all-reduces a few large
 * ranges. Assigning a new tensor to `value` or `grad` is still allowed (a layer outside a model
 * does it on every backward): the owning store hears of it, counts a new version (what a recorded
 * plan compares) and rebuilds its buffers before its next use.
 */
import type { Tensor } from '../tensor/tensor.js';

export interface Parameter {
  /** Stable dot-separated name, e.g. "c1.weight" (the checkpoint key). */
  name: string;
  value: Tensor;
  /**
   * Set by backward(), overwritten (not accumulated) by each one; owned by the layer. Inside a
   * model it is `gradView` once a backward has run, and null before.
   */
  grad: Tensor | null;
  /** Excluded from weight decay (biases and LeNet's subsampling coefficients by convention). */
  noDecay?: boolean;
  /**
   * Where backward writes this parameter's gradient: its view into the flat gradient buffer of
   * the model that holds it, or null outside a model (backward then allocates one).
   */
  readonly gradView?: Tensor | null;
}

/** What a parameter tells the store that holds its views when a tensor is assigned from outside. */
export interface ParameterOwner {
  replaced(p: TrainableParameter, what: 'value' | 'grad'): void;
}

/** The Parameter that layers create: plain fields as seen from outside, with the store told of replacements. */
export class TrainableParameter implements Parameter {
  readonly name: string;
  readonly noDecay: boolean;
  #value: Tensor;
  #grad: Tensor | null = null;
  #gradView: Tensor | null = null;
  #owner: ParameterOwner | null = null;

  constructor(name: string, value: Tensor, opts: { noDecay?: boolean } = {}) {
    this.name = name;
    this.#value = value;
    this.noDecay = opts.noDecay ?? false;
  }

  get value(): Tensor {
    return this.#value;
  }

  set value(t: Tensor) {
    if (t === this.#value) return;
    this.#value = t;
    this.#owner?.replaced(this, 'value');
  }

  get grad(): Tensor | null {
    return this.#grad;
  }

  /** Null or the gradient view are bookkeeping; any other tensor is a replacement the owner hears of. */
  set grad(t: Tensor | null) {
    if (t === this.#grad) return;
    this.#grad = t;
    if (t !== null && t !== this.#gradView) this.#owner?.replaced(this, 'grad');
  }

  get gradView(): Tensor | null {
    return this.#gradView;
  }

  /** @internal The store (re)binds the parameter to its views without counting a replacement. */
  bind(owner: ParameterOwner | null, value: Tensor, gradView: Tensor | null): void {
    this.#owner = owner;
    this.#value = value;
    this.#gradView = gradView;
    this.#grad = null;
  }

  /** @internal The store this parameter's views belong to (null outside a model). */
  get owner(): ParameterOwner | null {
    return this.#owner;
  }
}

/** A new parameter holding `value` (the layer owns it until a model's store takes it over). */
export function parameter(name: string, value: Tensor, opts: { noDecay?: boolean } = {}): TrainableParameter {
  return new TrainableParameter(name, value, opts);
}
