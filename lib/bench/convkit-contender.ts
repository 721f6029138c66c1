/**
 * convkit as a bench contender: the model form built once on the bench's device, then per case
 * the path a user's code takes:
 * - train: fit()'s step, i.e. the recorded train step (compileTrainStep) where the model allows
 *   it and the eager trainStep + SGD step where it does not (AlexNet's dropout), with one step
 *   in flight: the loss of step i-1 is read after step i is queued, as fit() does;
 * - inference: a compiled predictor (compilePredictor) with the probabilities read back, which
 *   is what a server sees per request.
 * Inputs are seeded random images; timing does not depend on their values.
 */
import { stochasticLayers } from '../layers/layer.js';
import { memory, resetPeakMemory } from '../memory.js';
import { alexnet } from '../models/alexnet.js';
import { lenet5 } from '../models/lenet5.js';
import type { Model, Predictor, StepResult, TrainPlan } from '../models/model.js';
import { SGD } from '../optim/sgd.js';
import type { Device } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import type { Contender } from './contender.js';
import { flopsPerImage } from './flops.js';
import { convkitVersion } from './host.js';
import type { BenchCase } from './options.js';
import type { Runner } from './timing.js';

/** The net a bench case times (seed 0); the onnxruntime peer exports the same one. */
export function buildBenchModel(c: Pick<BenchCase, 'model' | 'variant'>, dev: Device): Model {
  if (c.model === 'lenet5') return lenet5({ variant: c.variant as 'modern' | 'classic', seed: 0, device: dev });
  return alexnet({ variant: c.variant as 'paper' | 'owt', seed: 0, device: dev });
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export class ConvkitContender implements Contender {
  readonly impl = 'convkit';
  readonly version = convkitVersion();
  /** 'compiled' or 'eager': which path the last prepared case runs (on its line as `path`). */
  path = '';
  private model: Model | null = null;
  private form = '';
  private held: Array<{ dispose(): void }> = [];

  constructor(readonly device: Device) {}

  /** The model of a case's form, built on first use and kept while the form stays the same. */
  modelFor(c: BenchCase): Model {
    const form = `${c.model}:${c.variant}`;
    if (this.model && this.form === form) return this.model;
    this.model?.dispose();
    this.model = buildBenchModel(c, this.device);
    this.form = form;
    return this.model;
  }

  flops(c: BenchCase): number {
    return flopsPerImage(this.modelFor(c), c.pass);
  }

  async prepare(c: BenchCase): Promise<Runner> {
    await this.release();
    const model = this.modelFor(c);
    const dev = this.device;
    const x = Tensor.randn([c.batch, ...model.inputShape], { seed: 1, device: dev });
    this.held.push(x);
    if (c.pass === 'inference') {
      const predictor: Predictor = model.compilePredictor(c.batch);
      this.held.push(predictor);
      const out = new Float32Array(predictor.outputSize);
      this.path = 'compiled';
      await this.startPeak();
      return {
        async run(iters) {
          const t0 = performance.now();
          // run(): one native call writing into a reused buffer (what a latency-minded caller does).
          for (let i = 0; i < iters; i++) await predictor.run(x, { out });
          return seconds(t0);
        },
      };
    }
    const classes = c.model === 'lenet5' ? 10 : 1000;
    const labels = Tensor.fromArray(
      Int32Array.from({ length: c.batch }, (_, i) => (i * 37) % classes),
      [c.batch],
      { device: dev },
    );
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
    this.held.push(labels, opt);
    let step: () => StepResult;
    if (stochasticLayers(model.net).length === 0) {
      const plan: TrainPlan = model.compileTrainStep(c.batch, opt);
      this.held.push(plan);
      step = () => plan.step(x, labels);
      this.path = 'compiled';
    } else {
      // A model with dropout cannot be recorded (a replay would repeat its masks): the eager calls.
      step = () => {
        const r = model.trainStep(x, labels);
        opt.step();
        return r;
      };
      this.path = 'eager';
    }
    const done = async (r: StepResult) => {
      await r.loss.data();
      r.loss.dispose();
      r.correct.dispose();
    };
    await this.startPeak();
    return {
      async run(iters) {
        const t0 = performance.now();
        let prev: StepResult | null = null;
        for (let i = 0; i < iters; i++) {
          const cur = step();
          if (prev) await done(prev);
          prev = cur;
        }
        if (prev) await done(prev);
        await dev.synchronize();
        return seconds(t0);
      },
    };
  }

  /** From here on the host pool's peak is the case's: its tensors and a batch's buffers. */
  private async startPeak(): Promise<void> {
    await this.device.synchronize();
    resetPeakMemory();
  }

  /**
   * MiB of the CPU caching allocator's peak since the case was prepared: the model, the
   * optimizer state and a step's buffers (what a batch of this size needs). CPU devices only.
   */
  peakPoolMib(): number | undefined {
    if (this.device.kind !== 'cpu') return undefined;
    return Number((memory().hostPool.peakBytes / 2 ** 20).toFixed(1));
  }

  async release(): Promise<void> {
    await this.device.synchronize();
    for (const h of this.held.reverse()) h.dispose();
    this.held = [];
  }

  async close(): Promise<void> {
    await this.release();
    this.model?.dispose();
    this.model = null;
  }
}
