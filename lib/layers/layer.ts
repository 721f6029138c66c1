/**
 * A layer: forward(x) / backward(dy) / parameters(), with train/eval mode. Layers hold what their
 * backward needs (saved tensors they own); inputs they read stay owned by the caller (Sequential
 * keeps activations alive until backward is done). A layer never touches the native binding:
 * it calls lib/ops only.
 */
import type { Shape } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';

export interface Parameter {
  /** Stable dot-separated name, e.g. "c1.weight" (the checkpoint key). */
  name: string;
  value: Tensor;
  /** Set by backward(); owned by the layer. */
  grad: Tensor | null;
  /** Excluded from weight decay (biases and LeNet's subsampling coefficients by convention). */
  noDecay?: boolean;
}

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

  /** Frees saved tensors (the layer stays usable). */
  releaseSaved(): void {}

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

/** Replaces a parameter's gradient, disposing the previous one. */
export function setGrad(p: Parameter, g: Tensor | undefined): void {
  p.grad?.dispose();
  p.grad = g ?? null;
}

export function countParams(ps: Parameter[]): number {
  let n = 0;
  for (const p of ps) n += p.value.size;
  return n;
}
