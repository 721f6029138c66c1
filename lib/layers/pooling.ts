/** MaxPool2d and AvgPool2d: modules over ops.maxPool2d / ops.avgPool2d and their backwards. */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { Layer, type LayerGeometry } from './layer.js';

export interface Pool2dOptions {
  kernelSize: number;
  stride?: number;
  padding?: number;
  ceilMode?: boolean;
  name?: string;
}

export function poolOutputSize(n: number, k: number, s: number, p: number, ceil: boolean): number {
  const span = n + 2 * p - k;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + p) o--; // PyTorch: the last window must start inside the input or left padding
  return o;
}

abstract class Pool2d extends Layer {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly ceilMode: boolean;
  protected inShape: Shape | null = null;

  constructor(kind: string, o: Pool2dOptions) {
    super(o.name ?? kind);
    if (!Number.isSafeInteger(o.kernelSize) || o.kernelSize < 1)
      throw new ArgumentError(`${kind}: 'kernelSize' must be a positive integer, got ${o.kernelSize}`);
    this.kernelSize = o.kernelSize;
    this.stride = o.stride ?? o.kernelSize;
    this.padding = o.padding ?? 0;
    this.ceilMode = o.ceilMode ?? false;
  }

  protected poolOpts() {
    return { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, ceilMode: this.ceilMode };
  }

  outputShape(input: Shape): Shape {
    if (input.length !== 3) throw new ShapeError(`${this.name}: expects [C, H, W] per sample, got ${fmtShape(input)}`);
    const o = (n: number) => poolOutputSize(n, this.kernelSize, this.stride, this.padding, this.ceilMode);
    return [input[0], o(input[1]), o(input[2])];
  }

  override geometry(input: Shape): LayerGeometry {
    this.outputShape(input);
    return { kernel: this.kernelSize, stride: this.stride, params: 0, connections: 0, kernelText: `${this.kernelSize}x${this.kernelSize}` };
  }

  protected override extraRepr(): string {
    return `kernel=${this.kernelSize}, stride=${this.stride}${this.padding ? `, padding=${this.padding}` : ''}${this.ceilMode ? ', ceil' : ''}`;
  }
}

export class MaxPool2d extends Pool2d {
  private argmax: Tensor | null = null;

  constructor(o: Pool2dOptions) {
    super('maxpool', o);
    this.maxPoolOptions = this.poolOpts();
  }

  /** What a layer before it pools with when it takes this pool into its own op (eval mode). */
  override readonly maxPoolOptions: ops.Pool2dOptions;

  /** Backward routes dy through the argmax: the input's values are not needed. */
  override readonly backwardReadsInput = false;

  forward(x: Tensor): Tensor {
    this.releaseSaved();
    // Eval mode needs no argmax (no backward will route through it).
    if (!this.training) return ops.maxPool2dValues(x, this.poolOpts());
    const { y, argmax } = ops.maxPool2d(x, this.poolOpts());
    this.argmax = argmax;
    this.inShape = x.shape;
    return y;
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.argmax || !this.inShape) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const dx = this.needInputGrad ? ops.maxPool2dBackward(dy, this.argmax, this.inShape) : undefined;
    this.releaseSaved();
    return dx;
  }

  override releaseSaved(): void {
    this.argmax?.dispose();
    this.argmax = null;
  }
}

export class AvgPool2d extends Pool2d {
  readonly countIncludePad: boolean;

  constructor(o: Pool2dOptions & { countIncludePad?: boolean }) {
    super('avgpool', o);
    this.countIncludePad = o.countIncludePad ?? true;
  }

  forward(x: Tensor): Tensor {
    if (this.training) this.inShape = x.shape;
    return ops.avgPool2d(x, { ...this.poolOpts(), countIncludePad: this.countIncludePad });
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.inShape) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    return this.needInputGrad
      ? ops.avgPool2dBackward(dy, this.inShape, { ...this.poolOpts(), countIncludePad: this.countIncludePad })
      : undefined;
  }
}
