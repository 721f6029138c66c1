/** Conv2d: a thin module over ops.conv2d / ops.conv2dBackward (groups, optional connection mask). */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { device as toDevice, type Device, type DeviceName } from '../tensor/device.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { initTensor, paramSeed, type Init } from './init.js';
import { Layer, gradTarget, moveTensor, parameter, setGrad, type FusableActivation, type LayerGeometry, type Parameter } from './layer.js';

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  /** Fixed connection table [outChannels][inChannels/groups] of 0/1 (LeNet-5's C3). */
  mask?: readonly (readonly number[])[];
  init?: Init;
  biasInit?: Init;
  seed?: number;
  device?: DeviceName | Device;
  name?: string;
}

/** 2x2 windows, stride 2, no padding, floor mode: the one pool ops.conv2dMaxPool2x2 takes. */
function isPool2x2(o: ops.Pool2dOptions): boolean {
  const is2 = (v: ops.Pool2dOptions['kernelSize'] | undefined) => v === 2 || (Array.isArray(v) && v[0] === 2 && v[1] === 2);
  const pad = o.padding ?? 0;
  const noPad = pad === 0 || (Array.isArray(pad) && pad[0] === 0 && pad[1] === 0);
  return is2(o.kernelSize) && is2(o.stride ?? o.kernelSize) && noPad && !o.ceilMode;
}

export class Conv2d extends Layer {
  readonly opts: Required<Pick<Conv2dOptions, 'inChannels' | 'outChannels' | 'kernelSize' | 'stride' | 'padding' | 'dilation' | 'groups'>>;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /** The connection table as a tensor (replaced by to(device)). */
  mask: Tensor | null;
  private readonly maskCount: number;
  private saved: Tensor | null = null;

  constructor(o: Conv2dOptions) {
    super(o.name ?? 'conv');
    const groups = o.groups ?? 1;
    this.opts = {
      inChannels: o.inChannels,
      outChannels: o.outChannels,
      kernelSize: o.kernelSize,
      stride: o.stride ?? 1,
      padding: o.padding ?? 0,
      dilation: o.dilation ?? 1,
      groups,
    };
    for (const k of ['inChannels', 'outChannels', 'kernelSize'] as const)
      if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new ArgumentError(`Conv2d: '${k}' must be a positive integer, got ${o[k]}`);
    if (o.inChannels % groups || o.outChannels % groups)
      throw new ArgumentError(`Conv2d: inChannels ${o.inChannels} and outChannels ${o.outChannels} must both divide by groups ${groups}`);
    const dev = toDevice(o.device ?? 'cpu');
    const cPerG = o.inChannels / groups;
    const k = o.kernelSize;
    const seed = o.seed ?? 0;
    let maskCount = o.outChannels * cPerG;
    if (o.mask) {
      if (o.mask.length !== o.outChannels || o.mask.some((r) => r.length !== cPerG))
        throw new ShapeError(`Conv2d: mask must be [${o.outChannels}][${cPerG}], got [${o.mask.length}][${o.mask[0]?.length ?? 0}]`);
      const flat = o.mask.flat();
      maskCount = flat.reduce((a, b) => a + (b ? 1 : 0), 0);
      this.mask = Tensor.fromArray(
        flat.map((v) => (v ? 1 : 0)),
        [o.outChannels, cPerG],
        { device: dev },
      );
    } else this.mask = null;
    this.maskCount = maskCount;
    // Fan-in of one output unit: the connected input maps times the window.
    const fanIn = (maskCount / o.outChannels) * k * k;
    const wName = `${this.name}.weight`;
    this.weight = parameter(
      wName,
      initTensor(o.init ?? { kind: 'torch-default' }, [o.outChannels, cPerG, k, k], fanIn, paramSeed(seed, wName), dev),
    );
    if (o.bias ?? true) {
      const bName = `${this.name}.bias`;
      this.bias = parameter(
        bName,
        initTensor(o.biasInit ?? o.init ?? { kind: 'torch-default' }, [o.outChannels], fanIn, paramSeed(seed, bName), dev),
        { noDecay: true },
      );
    } else this.bias = null;
  }

  private convOpts() {
    const { stride, padding, dilation, groups } = this.opts;
    return { stride, padding, dilation, groups, bias: this.bias?.value, mask: this.mask ?? undefined };
  }

  forward(x: Tensor): Tensor {
    this.releaseSaved();
    if (this.training) this.saved = x;
    return ops.conv2d(x, this.weight.value, this.convOpts());
  }

  /**
   * relu(forward(x)) in one kernel pass (Sequential fuses Conv2d + ReLU in both modes). In training
   * the backward is unchanged: this layer's needs its input, saved here, and the ReLU layer's
   * needs the output (Layer.adoptFusedOutput), so the pre-activation map is never kept: a
   * whole activation-sized tensor and one pass over it less per fused pair.
   */
  forwardRelu(x: Tensor): Tensor {
    this.releaseSaved();
    if (this.training) this.saved = x;
    return ops.conv2d(x, this.weight.value, { ...this.convOpts(), activation: 'relu' });
  }

  /**
   * maxPool2d(relu(forward(x)), 2) in one op for eval mode (Layer.forwardFusedPool), for 2x2
   * windows, stride 2, no padding, floor mode only: where the direct convolution applies, the
   * pool is taken from its wide rows and the full-size output is never written (LeNet-5's C1 and C3).
   */
  override forwardFusedPool(x: Tensor, activation: FusableActivation, pool: ops.Pool2dOptions): Tensor | null {
    if (this.training || activation !== 'relu' || !isPool2x2(pool)) return null;
    this.releaseSaved();
    return ops.conv2dMaxPool2x2(x, this.weight.value, { ...this.convOpts(), activation: 'relu' });
  }

  /** The ReLU epilogue Sequential asks for (see Layer.forwardFused). */
  override forwardFused(x: Tensor, activation: FusableActivation): Tensor | null {
    return activation === 'relu' ? this.forwardRelu(x) : null;
  }

  backward(dy: Tensor): Tensor | undefined {
    return this.backwardWith(dy, false);
  }

  // Its saved input is the ReLU's output, so the kernel masks dx as it writes it (col2im).
  override readonly fusesReluBackward = true;

  override backwardThroughRelu(dy: Tensor): Tensor | undefined {
    return this.backwardWith(dy, true);
  }

  private backwardWith(dy: Tensor, reluInput: boolean): Tensor | undefined {
    if (!this.saved) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const r = ops.conv2dBackward(dy, this.saved, this.weight.value, {
      ...this.convOpts(),
      needInputGrad: this.needInputGrad,
      into: { dw: gradTarget(this.weight), db: gradTarget(this.bias) },
      reluInput,
    });
    setGrad(this.weight, r.dw);
    if (this.bias) setGrad(this.bias, r.db);
    this.saved = null;
    return r.dx;
  }

  outputShape(input: Shape): Shape {
    const { inChannels, outChannels, kernelSize: k, stride, padding, dilation } = this.opts;
    if (input.length !== 3 || input[0] !== inChannels)
      throw new ShapeError(`${this.name}: expects [${inChannels}, H, W] per sample, got ${fmtShape(input)}`);
    const o = (n: number) => Math.floor((n + 2 * padding - dilation * (k - 1) - 1) / stride) + 1;
    return [outChannels, o(input[1]), o(input[2])];
  }

  override geometry(input: Shape): LayerGeometry {
    const out = this.outputShape(input);
    const k = this.opts.kernelSize;
    const params = this.maskCount * k * k + (this.bias ? this.opts.outChannels : 0);
    return {
      kernel: k,
      stride: this.opts.stride,
      params,
      connections: params * out[1] * out[2],
      kernelText: `${k}x${k}x${this.opts.outChannels}`,
    };
  }

  override parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  override releaseSaved(): void {
    this.saved = null; // the input is owned by the caller
  }

  override buffers(): Tensor[] {
    return this.mask ? [this.mask] : [];
  }

  protected override moveBuffers(device: Device): void {
    if (this.mask) this.mask = moveTensor(this.mask, device);
  }

  override dispose(): void {
    super.dispose();
    this.mask?.dispose();
  }

  protected override extraRepr(): string {
    const { inChannels, outChannels, kernelSize, stride, padding, groups } = this.opts;
    return `${inChannels}, ${outChannels}, kernel=${kernelSize}, stride=${stride}, padding=${padding}${groups > 1 ? `, groups=${groups}` : ''}${this.mask ? ', mask' : ''}${this.bias ? '' : ', bias=false'}`;
  }
}
