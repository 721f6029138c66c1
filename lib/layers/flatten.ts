/** Flatten [N, C, H, W] to [N, C*H*W]: a view, no copy. */
import { ArgumentError } from '../errors.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { Layer } from './layer.js';

export class Flatten extends Layer {
  private inShape: Shape | null = null;

  constructor(name = 'flatten') {
    super(name);
    this.inSummary = false;
  }

  forward(x: Tensor): Tensor {
    this.inShape = x.shape;
    return x.reshape([x.shape[0], x.size / Math.max(1, x.shape[0])]);
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.inShape) throw new ArgumentError(`${this.name}: backward() before forward()`);
    return this.needInputGrad ? dy.reshape(this.inShape) : undefined;
  }

  outputShape(input: Shape): Shape {
    return [input.reduce((a, b) => a * b, 1)];
  }
}
