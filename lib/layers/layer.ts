/**
 * A layer: forward(x) / backward(dy) / parameters(), with train/eval mode. Layers hold what their
 * backward needs (saved tensors they own); inputs they read stay owned by the caller (Sequential
 * keeps activations alive until backward is done). A layer never touches the native binding:
 * it calls lib/ops only.
 */
import { ArgumentError } from '../errors.js';
import type { Pool2dOptions } from '../ops/pool.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import type { Parameter } from './parameter.js';

export { parameter, TrainableParameter, type Parameter, type ParameterOwner } from './parameter.js';

/** One row of model.summary(), per sample. */
export interface LayerGeometry {
  /** Side of the window this layer applies (1 for elementwise layers). */
  kernel: number;
  stride: number;
  /** Trainable parameters. */
  params: number;
  /** Multiply-adds counted as in LeNet-5's table: each trainable weight use (incl. bias) per output. */
  connections: number;
  kernelText?: string;
}

/** An activation that a producing layer can apply in its own kernel's epilogue (eval mode only). */
export type FusableActivation = 'relu';

/**
 * The state of a layer that draws random numbers from a counter-based stream (dropout): a
 * recorded step would repeat its draws, and checkpoints save where the stream stands.
 */
export interface StochasticState {
  /** Draws so far (the Philox offset of the next one). */
  offset: number;
  /**
   * Which data-parallel replica draws (0 alone): replica r > 0 draws from its own stream derived
   * from the layer's seed and r, so replicas mask different samples differently and a run is
   * still reproducible from the seed. Set by DataParallel.
   */
  replica: number;
}

/** One layer of a layer tree with its dotted path from the root ("block.drop"). */
export interface LayerEntry {
  path: string;
  layer: Layer;
}

export abstract class Layer {
  name: string;
  training = true;
  /** False for the first layer: its input gradient is never needed. */
  needInputGrad = true;
  /** Whether summary() gives this layer a row (elementwise layers fold into the previous row). */
  inSummary = true;

  constructor(name: string) {
    this.name = name;
  }

  // Capabilities. Containers and trainers ask these instead of testing classes, so a new layer
  // (or one nested inside a container) is handled by declaring what it can do.

  /** Set by activations that a previous layer may fuse into its epilogue (Sequential, eval mode). */
  readonly fusableActivation: FusableActivation | null = null;

  /**
   * forward(x) followed by `activation`, in one kernel, for eval mode; null when this layer
   * cannot fuse it (the default), in which case the caller runs the two layers separately.
   */
  forwardFused(x: Tensor, activation: FusableActivation): Tensor | null {
    void x;
    void activation;
    return null;
  }

  /**
   * forward(x), then `activation`, then a max pool with `pool`'s options (maxPoolOptions of the
   * layer after the activation), in one op: eval mode only (no argmax is kept for a backward);
   * null when this layer cannot (the default, or a pool it does not take), and the caller runs
   * the three layers separately.
   */
  forwardFusedPool(x: Tensor, activation: FusableActivation, pool: Pool2dOptions): Tensor | null {
    void x;
    void activation;
    void pool;
    return null;
  }

  /**
   * Whether backward() reads this layer's output (an activation's saved y does; false where the
   * layer keeps what it needs otherwise). With backwardReadsInput false on the next layer,
   * Sequential frees the output while training as soon as the next layer has read it.
   */
  readonly backwardReadsOutput: boolean = true;

  /** Whether backward() reads this layer's input (a max pool's does not: its argmax says where). */
  readonly backwardReadsInput: boolean = true;

  /**
   * Set by a max pool layer to its options: a layer before it may take the pool into its own op
   * in eval mode (forwardThenMaxPool, or forwardFusedPool across an activation).
   */
  readonly maxPoolOptions: Pool2dOptions | null = null;

  /**
   * forward(x), then a max pool with `pool`'s options, in one op; null when this layer cannot
   * (the default), and the caller runs the two layers. In training mode the layer keeps what the
   * pool's backward needs, and backwardThroughMaxPool is then its backward.
   */
  forwardThenMaxPool(x: Tensor, pool: Pool2dOptions): Tensor | null {
    void x;
    void pool;
    return null;
  }

  /**
   * Training with a fused epilogue: the activation layer whose work the previous layer's
   * forwardFused did is handed that output, as if its own forward had made it, so that its
   * backward finds what it saves. Only activations (fusableActivation set) accept it.
   */
  adoptFusedOutput(y: Tensor): void {
    void y;
    throw new ArgumentError(`${this.name}: only an activation layer can adopt a fused output`);
  }

  /**
   * Set by layers whose backward can also take the backward of the ReLU before them (whose
   * output is this layer's input) in the same pass: Sequential then calls backwardThroughRelu
   * and skips the ReLU's own pass over the tensor.
   */
  readonly fusesReluBackward: boolean = false;

  /** backward(dy), then the preceding ReLU's backward, in one pass; only where fusesReluBackward. */
  backwardThroughRelu(dy: Tensor): Tensor | undefined {
    void dy;
    throw new ArgumentError(`${this.name}: cannot take a ReLU's backward into its own`);
  }

  /**
   * After a training-mode forwardThenMaxPool: the pool's backward of dy (the gradient of the
   * pool's output), then this layer's, and with throughRelu (only where fusesReluBackward) the
   * preceding ReLU's too, in one op.
   */
  backwardThroughMaxPool(dy: Tensor, throughRelu: boolean): Tensor | undefined {
    void dy;
    void throughRelu;
    throw new ArgumentError(`${this.name}: cannot take a max pool's backward into its own`);
  }

  /** Non-null for layers with random-stream state (dropout); see StochasticState. */
  get stochastic(): StochasticState | null {
    return null;
  }

  /** The layers this one contains (a container's children); none for a plain layer. */
  children(): readonly Layer[] {
    return [];
  }

  /** Fixed tensors besides the parameters that forward reads (a connection mask, RBF codes). */
  buffers(): Tensor[] {
    return [];
  }

  abstract forward(x: Tensor): Tensor;
  /** Returns dx (owned by the caller), or undefined when needInputGrad is false. Sets parameter grads. */
  abstract backward(dy: Tensor): Tensor | undefined;
  /** Output shape for an input shape, both without the batch dimension. */
  abstract outputShape(input: Shape): Shape;

  parameters(): Parameter[] {
    return [];
  }

  geometry(input: Shape): LayerGeometry {
    void input;
    return { kernel: 1, stride: 1, params: 0, connections: 0 };
  }

  train(mode = true): this {
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Moves the parameters (and fixed tensors such as a connection mask) to `device`, in place:
   * each parameter's value is replaced by a copy there and its gradient is dropped. Crossing
   * devices waits for the source device (Tensor.to). Move a model before creating its optimizer,
   * whose state is made where the parameters are. Inside a model use model.to(), which moves the
   * flat buffers in one copy; a layer moved on its own makes the model rebuild them around it.
   */
  to(device: DeviceName | Device): this {
    const dev = toDevice(device);
    this.releaseSaved();
    for (const p of this.parameters()) moveParameter(p, dev);
    this.moveBuffers(dev);
    return this;
  }

  /** Layers that hold fixed tensors besides their parameters move them here. */
  protected moveBuffers(device: Device): void {
    void device;
  }

  /** Frees saved tensors (the layer stays usable). */
  releaseSaved(): void {}

  /** Frees the parameters' tensors (in a model, its views; Model.dispose frees the flat buffers). */
  dispose(): void {
    this.releaseSaved();
    for (const p of this.parameters()) {
      p.value.dispose();
      p.grad?.dispose();
      p.grad = null;
    }
  }

  protected extraRepr(): string {
    return '';
  }

  toString(): string {
    return `${this.constructor.name}(${this.extraRepr()})`;
  }
}

/** Replaces a parameter's value by its copy on `device` (no-op when it is there) and drops its gradient. */
export function moveParameter(p: Parameter, device: Device): void {
  if (p.value.device === device) return;
  const moved = p.value.to(device);
  p.value.dispose();
  p.value = moved;
  setGrad(p, undefined);
}

/** A fixed tensor's copy on `device`, disposing the original (the same tensor when it is there). */
export function moveTensor(t: Tensor, device: Device): Tensor {
  if (t.device === device) return t;
  const moved = t.to(device);
  t.dispose();
  return moved;
}

/**
 * Sets a parameter's gradient, disposing the previous one unless it is the same tensor or the
 * parameter's view into its model's flat gradient buffer (which the model's store owns).
 */
export function setGrad(p: Parameter, g: Tensor | undefined): void {
  const next = g ?? null;
  if (p.grad === next) return;
  if (p.grad && p.grad !== p.gradView) p.grad.dispose();
  p.grad = next;
}

/**
 * Where backward should write p's gradient: its flat-buffer view inside a model, or undefined
 * outside one (the op then allocates the gradient). Either way backward overwrites it.
 */
export function gradTarget(p: Parameter | null): Tensor | undefined {
  return p?.gradView ?? undefined;
}

export function countParams(ps: Parameter[]): number {
  let n = 0;
  for (const p of ps) n += p.value.size;
  return n;
}

/**
 * Every layer below `root` (not root itself), depth first in forward order, with dotted paths
 * relative to it: a top-level layer's path is its name, a nested one's "container.name".
 */
export function layerTree(root: Layer, prefix = ''): LayerEntry[] {
  const out: LayerEntry[] = [];
  for (const l of root.children()) {
    const path = prefix ? `${prefix}.${l.name}` : l.name;
    out.push({ path, layer: l });
    out.push(...layerTree(l, path));
  }
  return out;
}

/**
 * The layers of layerTree(root), in the same order, appended to `out`, without building paths
 * or entries: for walks that run per batch or per replay and need only the layers.
 */
export function layersBelow(root: Layer, out: Layer[] = []): Layer[] {
  for (const l of root.children()) {
    out.push(l);
    layersBelow(l, out);
  }
  return out;
}

/** The layers below `root` with random-stream state (nested containers included). */
export function stochasticLayers(root: Layer): { path: string; layer: Layer; state: StochasticState }[] {
  return layerTree(root).flatMap(({ path, layer }) => {
    const state = layer.stochastic;
    return state ? [{ path, layer, state }] : [];
  });
}
