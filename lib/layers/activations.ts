/** Elementwise activation layers. Backward uses the saved output, which is exact for all four. */
import { ArgumentError } from '../errors.js';
import * as ops from '../ops/index.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { Layer } from './layer.js';

abstract class Activation extends Layer {
  override inSummary = false; // folded into the previous row
  private y: Tensor | null = null;
  protected abstract fwd(x: Tensor): Tensor;
  protected abstract bwd(dy: Tensor, y: Tensor): Tensor;

  forward(x: Tensor): Tensor {
    const y = this.fwd(x);
    this.y = this.training ? y : null; // owned by the caller (the next layer's input)
    return y;
  }

  override adoptFusedOutput(y: Tensor): void {
    this.y = this.training ? y : null;
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.y) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const dx = this.needInputGrad ? this.bwd(dy, this.y) : undefined;
    this.y = null;
    return dx;
  }

  outputShape(input: Shape): Shape {
    return input;
  }

  override releaseSaved(): void {
    this.y = null;
  }
}

export class ReLU extends Activation {
  /** A conv before it may apply it in its epilogue (eval mode). */
  override readonly fusableActivation = 'relu' as const;
  constructor(name = 'relu') {
    super(name);
  }
  protected fwd(x: Tensor) {
    return ops.relu(x);
  }
  protected bwd(dy: Tensor, y: Tensor) {
    return ops.reluBackward(dy, y);
  }
}

export class Tanh extends Activation {
  constructor(name = 'tanh') {
    super(name);
  }
  protected fwd(x: Tensor) {
    return ops.tanh(x);
  }
  protected bwd(dy: Tensor, y: Tensor) {
    return ops.tanhBackward(dy, y);
  }
}

/** LeNet-5's squashing function f(a) = 1.7159 tanh(2a/3). */
export class ScaledTanh extends Activation {
  constructor(name = 'squash') {
    super(name);
  }
  protected fwd(x: Tensor) {
    return ops.scaledTanh(x);
  }
  protected bwd(dy: Tensor, y: Tensor) {
    return ops.scaledTanhBackward(dy, y);
  }
}

export class Sigmoid extends Activation {
  constructor(name = 'sigmoid') {
    super(name);
  }
  protected fwd(x: Tensor) {
    return ops.sigmoid(x);
  }
  protected bwd(dy: Tensor, y: Tensor) {
    return ops.sigmoidBackward(dy, y);
  }
}
