/**
 * Dropout with Philox masks: mask k of this layer is drawn from (seed, offset = k), so a run is
 * reproducible and the same on every device. Identity in eval mode (inverted form).
 */
import { ArgumentError } from '../errors.js';
import * as ops from '../ops/index.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { Layer, type StochasticState } from './layer.js';
import { paramSeed } from './init.js';

export interface DropoutOptions {
  p?: number;
  seed?: number;
  /** 'inverted' (scale kept units by 1/(1-p) while training) or 'paper' (scale by 1-p at test). */
  mode?: 'inverted' | 'paper';
  name?: string;
}

export class Dropout extends Layer {
  readonly p: number;
  readonly seed: number;
  readonly mode: 'inverted' | 'paper';
  /** Masks drawn so far (the Philox offset of the next one); saved in checkpoints. */
  offset = 0;
  /** The data-parallel replica this copy of the layer runs in (see StochasticState.replica). */
  replica = 0;
  private mask: Tensor | null = null;

  constructor(o: DropoutOptions = {}) {
    super(o.name ?? 'dropout');
    this.inSummary = false;
    this.p = o.p ?? 0.5;
    if (!(this.p >= 0 && this.p < 1)) throw new ArgumentError(`Dropout: 'p' must be in [0, 1), got ${o.p}`);
    this.seed = o.seed ?? 0;
    this.mode = o.mode ?? 'inverted';
  }

  /** Its mask stream's position (`offset`): checkpoints save it and recorded steps refuse it. */
  override get stochastic(): StochasticState {
    return this;
  }

  forward(x: Tensor): Tensor {
    this.releaseSaved();
    const { y, mask } = ops.dropout(x, {
      p: this.p,
      seed: this.streamSeed(),
      offset: this.offset,
      training: this.training,
      mode: this.mode,
    });
    if (this.training) {
      this.offset++;
      this.mask = mask ?? null;
    } else mask?.dispose();
    return y;
  }

  /** The Philox key of this replica's stream: the layer's seed for replica 0, a mix of seed and replica otherwise. */
  private streamSeed(): number {
    return this.replica === 0 ? this.seed : paramSeed(this.seed, `replica ${this.replica}`);
  }

  backward(dy: Tensor): Tensor | undefined {
    if (!this.mask) throw new ArgumentError(`${this.name}: backward() without a training-mode forward()`);
    const dx = this.needInputGrad ? ops.dropoutBackward(dy, this.mask) : undefined;
    this.releaseSaved();
    return dx;
  }

  outputShape(input: Shape): Shape {
    return input;
  }

  override releaseSaved(): void {
    this.mask?.dispose();
    this.mask = null;
  }

  protected override extraRepr(): string {
    return `p=${this.p}${this.mode === 'paper' ? ', paper' : ''}`;
  }
}
