/**
 * LeNet-5's S2/S4 subsampling: each output is the sum of a 2x2 window times a trainable
 * coefficient plus a trainable bias, one pair per map (12 parameters for 6 maps). The squashing
 * function follows as its own layer.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { initTensor, paramSeed, type Init } from './init.js';
import { Layer, gradTarget, parameter, setGrad, type LayerGeometry, type Parameter } from './layer.js';

export interface SubsamplingOptions {
  channels: number;
  kernelSize?: number;
  init?: Init;
  seed?: number;
  device?: DeviceName | Device;
  name?: string;
}

export class Subsampling extends Layer {
  readonly channels: number;
  readonly kernelSize: number;
  readonly coef: Parameter;
  readonly bias: Parameter;
  private pooled: Tensor | null = null;
  private inShape: Shape | null = null;

  constructor(o: SubsamplingOptions) {
    super(o.name ?? 'subsampling');
    if (!Number.isSafeInteger(o.channels) || o.channels < 1)
      throw new ArgumentError(`Subsampling: 'channels' must be a positive integer, got ${o.channels}`);
    this.channels = o.channels;
    this.kernelSize = o.kernelSize ?? 2;
    const dev = toDevice(o.device ?? 'cpu');
    const fanIn = this.kernelSize * this.kernelSize;
    const init = o.init ?? { kind: 'lecun-uniform' };
    const seed = o.seed ?? 0;
    this.coef = parameter(`${this.name}.coef`, initTensor(init, [o.channels], fanIn, paramSeed(seed, `${this.name}.coef`), dev), {
      noDecay: true,
    });
    this.bias = parameter(`${this.name}.bias`, initTensor(init, [o.channels], fanIn, paramSeed(seed, `${this.name}.bias`), dev), {
      noDecay: true,
    });
  }

  private poolOpts() {
    return { kernelSize: this.kernelSize, stride: this.kernelSize, padding: 0, ceilMode: false };
  }

  forward(x: Tensor): Tensor {
    this.releaseSaved();
    const pooled = ops.sumPool2d(x, this.poolOpts());
    const y = ops.channelAffine(pooled, this.coef.value, this.bias.value);
    if (this.training) {
      this.pooled = pooled;
      this.inShape = x.shape;
    } else pooled.dispose();
    return y;
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.pooled || !this.inShape) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const r = ops.channelAffineBackward(dy, this.pooled, this.coef.value, {
      needInputGrad: this.needInputGrad,
      into: { da: gradTarget(this.coef), db: gradTarget(this.bias) },
    });
    setGrad(this.coef, r.da);
    setGrad(this.bias, r.db);
    let dx: Tensor | undefined;
    if (r.dx) {
      dx = ops.sumPool2dBackward(r.dx, this.inShape, this.poolOpts());
      r.dx.dispose();
    }
    this.releaseSaved();
    return dx;
  }

  outputShape(input: Shape): Shape {
    if (input.length !== 3 || input[0] !== this.channels)
      throw new ShapeError(`${this.name}: expects [${this.channels}, H, W] per sample, got ${fmtShape(input)}`);
    const k = this.kernelSize;
    return [input[0], Math.floor(input[1] / k), Math.floor(input[2] / k)];
  }

  override geometry(input: Shape): LayerGeometry {
    const out = this.outputShape(input);
    const k = this.kernelSize;
    // Each output unit: k*k inputs through one coefficient, plus the bias.
    return {
      kernel: k,
      stride: k,
      params: 2 * this.channels,
      connections: (k * k + 1) * out[0] * out[1] * out[2],
      kernelText: `${k}x${k}`,
    };
  }

  override parameters(): Parameter[] {
    return [this.coef, this.bias];
  }

  override releaseSaved(): void {
    this.pooled?.dispose();
    this.pooled = null;
  }

  protected override extraRepr(): string {
    return `${this.channels}, kernel=${this.kernelSize}`;
  }
}
