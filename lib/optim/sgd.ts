/**
 * SGD with momentum and weight decay over a model's parameters: one fused native pass per
 * parameter (ops.sgdStep). Velocities are keyed by parameter name so they checkpoint by name.
 * Parameters marked noDecay (biases, LeNet's subsampling coefficients) get no weight decay.
 */
import { ArgumentError } from '../errors.js';
import type { Parameter } from '../layers/layer.js';
import * as ops from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** 'pytorch' (torch.optim.SGD) or 'paper' (AlexNet's v = mu v - wd lr w - lr g; w += v). */
  form?: 'pytorch' | 'paper';
  nesterov?: boolean;
  /** Apply weight decay to noDecay parameters too (AlexNet's paper decays every weight). */
  decayAll?: boolean;
}

export class SGD {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly form: 'pytorch' | 'paper';
  readonly nesterov: boolean;
  readonly decayAll: boolean;
  readonly params: Parameter[];
  private readonly velocity = new Map<string, Tensor>();

  constructor(params: Parameter[], o: SGDOptions) {
    if (!(o.lr > 0)) throw new ArgumentError(`SGD: 'lr' must be > 0, got ${o.lr}`);
    this.params = params;
    this.lr = o.lr;
    this.momentum = o.momentum ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.form = o.form ?? 'pytorch';
    this.nesterov = o.nesterov ?? false;
    this.decayAll = o.decayAll ?? false;
  }

  /** Queues one update of every parameter that has a gradient. */
  step(): void {
    for (const p of this.params) {
      if (!p.grad) continue;
      let v = this.velocity.get(p.name) ?? null;
      if (!v && this.momentum > 0) {
        v = Tensor.zeros(p.value.shape, { device: p.value.device });
        this.velocity.set(p.name, v);
      }
      ops.sgdStep(p.value, p.grad, v, {
        lr: this.lr,
        momentum: this.momentum,
        weightDecay: p.noDecay && !this.decayAll ? 0 : this.weightDecay,
        form: this.form,
        nesterov: this.nesterov,
      });
    }
  }

  /**
   * Creates the velocity buffers now (zeros, which is what the first step would create), so
   * that a recorded training step (Model.compileTrainStep) does not record their creation.
   */
  ensureState(): void {
    if (!(this.momentum > 0)) return;
    for (const p of this.params)
      if (!this.velocity.has(p.name)) this.velocity.set(p.name, Tensor.zeros(p.value.shape, { device: p.value.device }));
  }

  /** Velocity buffers by parameter name (for checkpoints). */
  state(): Map<string, Tensor> {
    return this.velocity;
  }

  loadState(state: Record<string, { shape: readonly number[]; data: Float32Array }>): void {
    for (const p of this.params) {
      const s = state[p.name];
      if (!s) continue;
      this.velocity.get(p.name)?.dispose();
      this.velocity.set(p.name, Tensor.fromArray(s.data, s.shape, { device: p.value.device }));
    }
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
    this.velocity.clear();
  }
}
