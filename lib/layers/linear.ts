/** Linear: y = x W^T + b with W [out, in] (PyTorch's layout, so weights map one to one). */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { initTensor, paramSeed, type Init } from './init.js';
import { Layer, gradTarget, parameter, setGrad, type LayerGeometry, type Parameter } from './layer.js';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
  init?: Init;
  biasInit?: Init;
  seed?: number;
  device?: DeviceName | Device;
  name?: string;
}

export class Linear extends Layer {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  private saved: Tensor | null = null;
  /**
   * @internal The weight packed as bf16 (ops.packBf16), set by a bf16 Predictor only while it
   * records: an eval-mode forward then reads these instead of the fp32 weight.
   */
  packedBf16: Tensor | null = null;

  constructor(o: LinearOptions) {
    super(o.name ?? 'linear');
    for (const k of ['inFeatures', 'outFeatures'] as const)
      if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new ArgumentError(`Linear: '${k}' must be a positive integer, got ${o[k]}`);
    this.inFeatures = o.inFeatures;
    this.outFeatures = o.outFeatures;
    const dev = toDevice(o.device ?? 'cpu');
    const seed = o.seed ?? 0;
    const wName = `${this.name}.weight`;
    this.weight = parameter(
      wName,
      initTensor(o.init ?? { kind: 'torch-default' }, [o.outFeatures, o.inFeatures], o.inFeatures, paramSeed(seed, wName), dev),
    );
    if (o.bias ?? true) {
      const bName = `${this.name}.bias`;
      this.bias = parameter(
        bName,
        initTensor(o.biasInit ?? o.init ?? { kind: 'torch-default' }, [o.outFeatures], o.inFeatures, paramSeed(seed, bName), dev),
        { noDecay: true },
      );
    } else this.bias = null;
  }

  forward(x: Tensor): Tensor {
    this.releaseSaved();
    if (this.training) this.saved = x;
    else if (this.packedBf16) return ops.linearBf16(x, this.packedBf16, this.bias?.value, this.inFeatures);
    return ops.linear(x, this.weight.value, this.bias?.value);
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.saved) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const r = ops.linearBackward(dy, this.saved, this.weight.value, {
      needInputGrad: this.needInputGrad,
      hasBias: !!this.bias,
      into: { dw: gradTarget(this.weight), db: gradTarget(this.bias) },
    });
    setGrad(this.weight, r.dw);
    if (this.bias) setGrad(this.bias, r.db);
    this.saved = null;
    return r.dx;
  }

  outputShape(input: Shape): Shape {
    if (input.length !== 1 || input[0] !== this.inFeatures)
      throw new ShapeError(`${this.name}: expects [${this.inFeatures}] per sample, got ${fmtShape(input)}`);
    return [this.outFeatures];
  }

  override geometry(input: Shape): LayerGeometry {
    this.outputShape(input);
    const params = this.inFeatures * this.outFeatures + (this.bias ? this.outFeatures : 0);
    return { kernel: 1, stride: 1, params, connections: params, kernelText: `${this.inFeatures}->${this.outFeatures}` };
  }

  override parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  override releaseSaved(): void {
    this.saved = null;
  }

  protected override extraRepr(): string {
    return `${this.inFeatures}, ${this.outFeatures}${this.bias ? '' : ', bias=false'}`;
  }
}
