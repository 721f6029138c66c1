/**
 * fit(): epochs of training over a BatchSource. Async and cooperative: each batch is queued on the
 * device and the loop awaits the previous batch's loss, so the event loop turns every batch and
 * JS queues batch i+1 while the device runs batch i. A NaN or infinite loss stops training with an
 * ND_NAN error; checkpoints are only written after good epochs, so the last good one survives.
 */
import { ArgumentError, ConvkitError } from '../errors.js';
import { stochasticLayers } from '../layers/layer.js';
import type { Model, StepResult, TrainPlan } from '../models/model.js';
import { DataParallel } from '../parallel/data-parallel.js';
import { SGD, type SGDOptions } from '../optim/sgd.js';
import { ReplicatedSGD } from '../parallel/replicated-sgd.js';
import { Tensor } from '../tensor/tensor.js';
import { saveTrainingCheckpoint } from './checkpointing.js';
import { evaluate } from './evaluate.js';
import { constantLr, type Schedule } from './schedule.js';
import type { BatchLogs, BatchSource, Callbacks, EpochLogs } from './types.js';

export interface FitOptions {
  epochs: number;
  optimizer: SGD | SGDOptions;
  /** Learning rate per epoch; defaults to the optimizer's lr throughout. */
  schedule?: Schedule;
  callbacks?: Callbacks;
  validation?: BatchSource;
  /** Save a checkpoint here after every epoch (and at the end). */
  checkpointPath?: string;
  /** Extra JSON stored in the checkpoint's metadata (e.g. how the data was normalised). */
  checkpointMeta?: Record<string, unknown>;
  /** The data source's shuffling seed, recorded in the checkpoint position. */
  dataSeed?: number;
  /** Resume: the first epoch and batch to run (from a checkpoint's position). */
  startEpoch?: number;
  startBatch?: number;
  /** Steps already taken (for the checkpoint position). */
  startStep?: number;
  /** Stop early (checked every batch). */
  signal?: AbortSignal;
  /**
   * Replay a recorded training step for full batches (Model.compileTrainStep: one queued op per
   * batch instead of ~40; same results). Default true; models with dropout, and models on
   * cuda:N (no CUDA graphs yet), always run eagerly.
   */
  compile?: boolean;
}

export interface History {
  epochs: EpochLogs[];
  steps: number;
  /** The optimizer used; when fit() built it from options, the caller disposes it (its momentum buffers). */
  optimizer: SGD;
}

/** A batch queued on the device(s): its loss and correct count once they have run. */
interface QueuedStep {
  loss: Promise<number>;
  correct: Promise<number>;
}

/** Reads a single model's step results back (the tensors are disposed once read). */
function queued(r: StepResult): QueuedStep {
  const both = Promise.all([r.loss.data(), r.correct.data()]).finally(() => {
    r.loss.dispose();
    r.correct.dispose();
  });
  return { loss: both.then(([l]) => l[0]), correct: both.then(([, c]) => c[0]) };
}

/**
 * Trains `model` (a Model, or a DataParallel of replicas: the batch is split over them and their
 * gradients all-reduced; checkpoints hold replica 0's single copy).
 */
export async function fit(target: Model | DataParallel, data: BatchSource, o: FitOptions): Promise<History> {
  if (!Number.isSafeInteger(o.epochs) || o.epochs < 0)
    throw new ArgumentError(`fit: 'epochs' must be a non-negative integer, got ${o.epochs}`);
  const replicated = target instanceof DataParallel ? target : null;
  const model = replicated ? replicated.module : (target as Model);
  if (replicated && o.optimizer instanceof SGD && !(o.optimizer instanceof ReplicatedSGD))
    throw new ArgumentError(
      'fit: a DataParallel model needs its own optimizer: pass SGD options, or dataParallel.createOptimizer(options)',
    );
  const opt =
    o.optimizer instanceof SGD
      ? o.optimizer
      : replicated
        ? replicated.createOptimizer(o.optimizer)
        : new SGD(model.parameters(), o.optimizer);
  const schedule = o.schedule ?? constantLr(opt.lr);
  const cb = o.callbacks ?? {};
  const history: History = { epochs: [], steps: o.startStep ?? 0, optimizer: opt };
  const dev = model.parameters()[0].value.device;
  const nb = data.batchesPerEpoch;
  // A recorded step would repeat a stochastic layer's draws (dropout, nested ones included).
  const canCompile = !replicated && (o.compile ?? true) && dev.kind === 'cpu' && stochasticLayers(model.net).length === 0;
  let plan: TrainPlan | null = null;
  const trainStep = (x: Tensor, labels: Tensor, n: number): StepResult => {
    if (canCompile && (plan === null || plan.batch === n)) {
      plan ??= model.compileTrainStep(n, opt);
      return plan.step(x, labels);
    }
    const r = model.trainStep(x, labels); // a short last batch
    opt.step();
    return r;
  };
  try {
    for (let epoch = o.startEpoch ?? 0; epoch < o.epochs; epoch++) {
      opt.lr = schedule(epoch);
      await cb.onEpochBegin?.(epoch);
      const first = epoch === (o.startEpoch ?? 0) ? (o.startBatch ?? 0) : 0;
      const t0 = performance.now();
      let seen = 0;
      let lossSum = 0;
      let correctSum = 0;
      let batch = first;
      // One batch in flight: its loss is read after the next batch is queued.
      let pending: { step: QueuedStep; n: number; batch: number } | null = null;

      const settle = async (p: NonNullable<typeof pending>) => {
        const loss = await p.step.loss;
        const correct = await p.step.correct;
        if (!Number.isFinite(loss)) {
          throw new ConvkitError(
            'ND_NAN',
            `fit: loss became ${loss} at epoch ${epoch}, batch ${p.batch}; training stopped` +
              (o.checkpointPath ? `; the last good checkpoint is ${o.checkpointPath}` : ''),
          );
        }
        lossSum += loss * p.n;
        correctSum += correct;
        seen += p.n;
        const secs = (performance.now() - t0) / 1000;
        const rate = seen / Math.max(secs, 1e-9);
        const logs: BatchLogs = {
          epoch,
          batch: p.batch,
          loss,
          accuracy: correct / p.n,
          meanLoss: lossSum / seen,
          meanAccuracy: correctSum / seen,
          size: p.n,
          seen,
          imagesPerSec: rate,
          eta: ((nb - p.batch - 1) * (seen / Math.max(1, p.batch - first + 1))) / rate,
        };
        await cb.onBatchEnd?.(p.batch, logs);
      };

      // A batch still in flight when this loop throws is read and freed by its own promises.
      for await (const b of data.epoch(epoch, { startBatch: first })) {
        if (o.signal?.aborted) break;
        const n = b.shape[0];
        let step: QueuedStep;
        if (replicated) {
          // Across processes: the same model and batch size everywhere (once per batch size).
          if (replicated.processGroup) await replicated.checkRanks(n);
          step = replicated.trainBatch(b.x, b.shape, b.labels);
          opt.step();
        } else {
          const x = Tensor.fromArray(b.x, b.shape, { device: dev });
          const labels = Tensor.fromArray(b.labels, [n], { dtype: 'int32', device: dev });
          step = queued(trainStep(x, labels, n));
          x.dispose();
          labels.dispose();
        }
        history.steps++;
        const cur = { step, n, batch };
        // Settled below; avoid an unhandled rejection meanwhile.
        cur.step.loss.catch(() => {});
        cur.step.correct.catch(() => {});
        if (pending) await settle(pending);
        pending = cur;
        batch++;
      }
      if (pending) await settle(pending);
      pending = null;

      const seconds = (performance.now() - t0) / 1000;
      const logs: EpochLogs = {
        epoch,
        loss: lossSum / Math.max(1, seen),
        accuracy: correctSum / Math.max(1, seen),
        seconds,
        imagesPerSec: seen / Math.max(seconds, 1e-9),
        lr: opt.lr,
      };
      if (o.validation) {
        const v = await evaluate(replicated ?? model, o.validation);
        logs.valLoss = v.loss;
        logs.valAccuracy = v.accuracy;
      }
      history.epochs.push(logs);
      if (o.checkpointPath && !o.signal?.aborted) {
        // Across processes every rank holds the same parameters: rank 0 writes them, and the
        // barrier keeps the others from going on (or resuming) before the file is there.
        const pg = replicated?.processGroup ?? null;
        if (!pg || pg.rank === 0)
          await saveTrainingCheckpoint(
            o.checkpointPath,
            model,
            opt,
            { epoch: epoch + 1, batch: 0, step: history.steps, seed: o.dataSeed },
            o.checkpointMeta,
          );
        await pg?.barrier();
      }
      await cb.onEpochEnd?.(epoch, logs);
      if (o.signal?.aborted) break;
    }
  } finally {
    (plan as TrainPlan | null)?.dispose();
  }
  return history;
}
