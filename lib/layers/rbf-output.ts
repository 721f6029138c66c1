/** LeNet-5's output layer: Euclidean RBF units with fixed {-1,+1} codes (no trainable parameters). */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { Layer, moveTensor, type LayerGeometry } from './layer.js';
import { lenetDigitCodes } from './rbf-codes.js';

export class RBFOutput extends Layer {
  /** The class codes as a tensor (replaced by to(device)). */
  codes: Tensor;
  readonly inFeatures: number;
  readonly classes: number;
  private x: Tensor | null = null;

  /** codes: [classes, inFeatures] in {-1, +1}; defaults to the 7x12 digit bitmaps (10 x 84). */
  constructor(o: { codes?: Float32Array; classes?: number; inFeatures?: number; device?: DeviceName | Device; name?: string } = {}) {
    super(o.name ?? 'output');
    this.classes = o.classes ?? 10;
    this.inFeatures = o.inFeatures ?? 84;
    const codes = o.codes ?? lenetDigitCodes();
    if (codes.length !== this.classes * this.inFeatures)
      throw new ShapeError(`RBFOutput: ${codes.length} code values do not make [${this.classes}, ${this.inFeatures}]`);
    this.codes = Tensor.fromArray(codes, [this.classes, this.inFeatures], { device: toDevice(o.device ?? 'cpu') });
  }

  override buffers(): Tensor[] {
    return [this.codes];
  }

  protected override moveBuffers(device: Device): void {
    this.codes = moveTensor(this.codes, device);
  }

  forward(x: Tensor): Tensor {
    this.x = this.training ? x : null;
    return ops.rbf(x, this.codes);
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.x) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const dx = this.needInputGrad ? ops.rbfBackward(dy, this.x, this.codes) : undefined;
    this.x = null;
    return dx;
  }

  outputShape(input: Shape): Shape {
    if (input.length !== 1 || input[0] !== this.inFeatures)
      throw new ShapeError(`${this.name}: expects [${this.inFeatures}] per sample, got ${fmtShape(input)}`);
    return [this.classes];
  }

  override geometry(input: Shape): LayerGeometry {
    this.outputShape(input);
    return {
      kernel: 1,
      stride: 1,
      params: 0,
      connections: this.inFeatures * this.classes,
      kernelText: `${this.inFeatures}->${this.classes} RBF`,
    };
  }

  override releaseSaved(): void {
    this.x = null;
  }

  override dispose(): void {
    super.dispose();
    this.codes.dispose();
  }

  protected override extraRepr(): string {
    return `${this.inFeatures}, ${this.classes}, fixed codes`;
  }
}
