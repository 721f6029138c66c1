/** LocalResponseNorm across channels; the alpha convention is explicit (see ops.lrn). */
import { ArgumentError } from '../errors.js';
import * as ops from '../ops/index.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { Layer } from './layer.js';

export interface LrnOptions {
  size?: number;
  alpha?: number;
  beta?: number;
  k?: number;
  /** 'per-size': alpha/n (Caffe, PyTorch, ONNX); 'literal': alpha (the AlexNet paper, TF). */
  alphaConvention: 'per-size' | 'literal';
  name?: string;
}

export class LocalResponseNorm extends Layer {
  readonly opts: Required<Omit<LrnOptions, 'name'>>;
  private x: Tensor | null = null;
  /** The max pool's argmax after a training-mode forwardThenMaxPool (owned here). */
  private argmax: Tensor | null = null;

  constructor(o: LrnOptions) {
    super(o.name ?? 'lrn');
    if (o.alphaConvention !== 'per-size' && o.alphaConvention !== 'literal')
      throw new ArgumentError(
        `LocalResponseNorm: 'alphaConvention' must be 'per-size' (alpha/n) or 'literal' (alpha), got ${JSON.stringify(o.alphaConvention)}`,
      );
    this.opts = { size: o.size ?? 5, alpha: o.alpha ?? 1e-4, beta: o.beta ?? 0.75, k: o.k ?? 2, alphaConvention: o.alphaConvention };
  }

  forward(x: Tensor): Tensor {
    this.releaseSaved();
    // Neither the scale nor y is kept: the backward recomputes both from x (the same bits), which
    // costs less than writing the scale here and reading it back there, and holds two tensors
    // less (Sequential frees y as soon as a max pool after it has read it: backwardReadsOutput).
    const y = ops.lrnOutput(x, this.opts);
    if (this.training) this.x = x;
    return y;
  }

  override readonly backwardReadsOutput = false;

  /**
   * The LRN and the max pool after it as one op, the same values (ops.lrnMaxPool2d; in training
   * ops.lrnMaxPool2dWithArgmax, keeping x and the argmax): the LRN output is never stored.
   */
  override forwardThenMaxPool(x: Tensor, pool: ops.Pool2dOptions): Tensor | null {
    this.releaseSaved();
    if (!this.training) return ops.lrnMaxPool2d(x, this.opts, pool);
    const { y, argmax } = ops.lrnMaxPool2dWithArgmax(x, this.opts, pool);
    this.x = x;
    this.argmax = argmax;
    return y;
  }

  /** The pool's backward and this LRN's (and the ReLU's before it) in one op: ops.maxPool2dLrnBackward. */
  override backwardThroughMaxPool(dy: Tensor, throughRelu: boolean): Tensor | undefined {
    if (!this.x || !this.argmax)
      throw new ArgumentError(`${this.name}: backwardThroughMaxPool() without a training-mode forwardThenMaxPool()`);
    const dx = this.needInputGrad ? ops.maxPool2dLrnBackward(dy, this.argmax, this.x, this.opts, { reluInput: throughRelu }) : undefined;
    this.releaseSaved();
    return dx;
  }

  backward(dy: Tensor): Tensor | undefined {
    return this.backwardWith(dy, false);
  }

  // Its input x is what the ReLU saved, so the ReLU's mask (x > 0) costs the kernel nothing.
  override readonly fusesReluBackward = true;

  override backwardThroughRelu(dy: Tensor): Tensor | undefined {
    return this.backwardWith(dy, true);
  }

  private backwardWith(dy: Tensor, reluInput: boolean): Tensor | undefined {
    if (!this.x || this.argmax) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const dx = this.needInputGrad ? ops.lrnBackward(dy, this.x, null, null, this.opts, { reluInput }) : undefined;
    this.releaseSaved();
    return dx;
  }

  outputShape(input: Shape): Shape {
    return input;
  }

  override releaseSaved(): void {
    this.x = null;
    this.argmax?.dispose();
    this.argmax = null;
  }

  protected override extraRepr(): string {
    const o = this.opts;
    return `size=${o.size}, alpha=${o.alpha} (${o.alphaConvention}), beta=${o.beta}, k=${o.k}`;
  }
}
