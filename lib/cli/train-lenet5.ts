/**
 * `convkit train lenet5`: LeNet-5 on MNIST, with a held-out validation split evaluated every
 * epoch and the test set evaluated once, at the end. The checkpoint carries what a resumed run
 * needs to continue exactly: the schedule's base rate and milestones (the optimizer's own lr in
 * the file is the already-scheduled one), the batch size, the split and the data seed.
 */
import { lenet5 } from '../models/lenet5.js';
import { SGD } from '../optim/sgd.js';
import { restoreModel } from '../train/checkpointing.js';
import { evaluate } from '../train/evaluate.js';
import { fit } from '../train/fit.js';
import { piecewiseLr } from '../train/schedule.js';
import { DEVICE, DEVICES, UsageError, intList, num, oneOf, type CommandSpec, type Values } from './args.js';
import { deviceArg, devicesArg } from './device-arg.js';
import { DataParallel } from '../parallel/data-parallel.js';
import { initProcessGroup, type ProcessGroup } from '../parallel/process-group.js';
import { mnistLoaders, normalizeFor } from './mnist-data.js';
import { LOG_OPTIONS, outputFor } from './output.js';

export const TRAIN_LENET5: CommandSpec = {
  name: 'train lenet5',
  summary: 'Train LeNet-5 on MNIST with SGD; validates on a held-out split each epoch, tests once at the end, saves a checkpoint.',
  options: {
    data: { type: 'string', arg: 'DIR', desc: 'the folder with the MNIST files (train-images-idx3-ubyte[.gz], ...); required' },
    variant: {
      type: 'string',
      arg: 'FORM',
      desc: "'modern' (ReLU, max pooling, softmax; 28x28 standardised) or 'classic' (the 1998 network: 32x32 in [-0.1, 1.175], scaled tanh, C3 table, RBF output)",
      default: 'modern',
    },
    epochs: { type: 'string', arg: 'N', desc: 'epochs to train (>= 1; when resuming, the total)', default: '5 (modern), 20 (classic)' },
    batch: { type: 'string', arg: 'N', desc: 'images per batch', default: '64 (modern), 16 (classic)' },
    lr: { type: 'string', arg: 'X', desc: 'base learning rate (> 0)', default: '0.05 (modern), 0.001 (classic)' },
    'lr-milestones': {
      type: 'string',
      arg: 'E,E',
      desc: 'epochs (1-based counts done) after which the rate is divided by --lr-factor',
      default: '50% and 75% of --epochs, rounded up (10,15 for 20 epochs)',
    },
    'lr-factor': { type: 'string', arg: 'X', desc: 'divisor of the rate at each milestone (>= 1)', default: '5' },
    momentum: { type: 'string', arg: 'X', desc: 'SGD momentum in [0, 1)', default: '0.9' },
    'weight-decay': { type: 'string', arg: 'X', desc: 'L2 weight decay (>= 0), PyTorch form (added to the gradient)', default: '5e-4' },
    seed: { type: 'string', arg: 'N', desc: 'seed of the initial weights, the shuffling and the validation split', default: '1' },
    'val-split': { type: 'string', arg: 'N', desc: 'training images held out for validation (0: none)', default: '5000' },
    limit: { type: 'string', arg: 'N', desc: 'train on the first N images left after the split (a quick run)', default: 'all' },
    save: {
      type: 'string',
      arg: 'FILE',
      desc: 'checkpoint written after every epoch (FILE and FILE.optim.safetensors)',
      default: 'lenet5.safetensors (modern), lenet5-classic.safetensors (classic); the --resume file when resuming',
    },
    'no-save': { type: 'boolean', desc: 'write no checkpoint' },
    resume: {
      type: 'string',
      arg: 'FILE',
      desc: "continue the run saved in FILE (its variant, seed, batch, split and schedule); needs FILE's .optim.safetensors twin",
    },
    prefetch: {
      type: 'string',
      arg: 'N',
      desc: 'batches prepared ahead on a worker thread (0: each on the main thread when needed)',
      default: '3',
    },
    device: DEVICE,
    devices: DEVICES,
    'process-group': {
      type: 'string',
      arg: 'BACKEND',
      desc: "join the process group that `convkit launch` (or torchrun's variables) describes: 'gloo'; one replica per process, each reading its shard of every epoch; rank 0 writes the checkpoint",
      default: 'none (this process alone)',
    },
    ...LOG_OPTIONS,
  },
  notes: ['example: convkit train lenet5 --data ../shared/data/mnist --log run.jsonl && convkit plot run.jsonl -o curves.svg'],
};

/** The schedule as saved in the checkpoint: rate(epoch) = baseLr / factor^(milestones passed). */
interface SavedSchedule {
  kind: 'piecewise';
  baseLr: number;
  milestones: number[];
  factor: number;
}

/** What else a resumed run must reuse to continue the same run. */
interface SavedRun {
  batchSize: number;
  valSplit: number;
  limit: number | null;
}

export function scheduleOf(s: SavedSchedule): (epoch: number) => number {
  return piecewiseLr(
    s.milestones,
    [0, ...s.milestones].map((_, i) => s.baseLr / s.factor ** i),
  );
}

export async function trainLenet5(v: Values): Promise<void> {
  const data = v.data as string | undefined;
  if (!data) throw new UsageError('train lenet5: --data DIR is required (the folder with the MNIST files)');
  const replicas = devicesArg(v);
  const dev = replicas?.[0] ?? deviceArg(v);
  const backend = v['process-group'] as string | undefined;
  if (backend !== undefined && backend !== 'gloo')
    throw new UsageError(`--process-group must be gloo (CPU processes), got ${JSON.stringify(backend)}`);
  if (backend && replicas) throw new UsageError('--process-group runs one replica per process: use --device, not --devices');
  const resume = v.resume as string | undefined;
  const r = resume ? await restoreModel(resume, { device: dev }) : null;
  const model = r?.model ?? null;
  try {
    if (r && r.model.config.model !== 'lenet5')
      throw new UsageError(
        `--resume ${resume}: the checkpoint holds ${String(r.model.config.model)}, not lenet5 (use convkit train ${String(r.model.config.model)})`,
      );
    const pg = backend ? await initProcessGroup({ backend: 'gloo', device: dev }) : null;
    try {
      await run(v, data, dev, r, replicas, pg);
    } finally {
      await pg?.destroy();
    }
  } finally {
    model?.dispose();
  }
}

async function run(
  v: Values,
  data: string,
  dev: ReturnType<typeof deviceArg>,
  r: Awaited<ReturnType<typeof restoreModel>> | null,
  replicas: ReturnType<typeof devicesArg>,
  pg: ProcessGroup | null,
): Promise<void> {
  const meta = r?.checkpoint.meta ?? {};
  const savedRun = meta.run as SavedRun | undefined;
  const variant = r
    ? String(r.model.config.variant)
    : oneOf(v.variant as string | undefined, 'variant', ['modern', 'classic'] as const, 'modern');
  const classic = variant === 'classic';
  const seed = r ? r.checkpoint.position.seed : num(v.seed as string, 'seed', 1, true);
  const epochs = num(v.epochs as string, 'epochs', classic ? 20 : 5, true, { min: 1, max: 100_000 });
  const startEpoch = r?.checkpoint.position.epoch ?? 0;
  if (r && epochs <= startEpoch)
    throw new UsageError(`--epochs ${epochs}: ${v.resume as string} has already run ${startEpoch} epochs; ask for more to continue`);
  const batchSize = num(v.batch as string, 'batch', savedRun?.batchSize ?? (classic ? 16 : 64), true, { min: 1, max: 60_000 });
  const valSplit = num(v['val-split'] as string, 'val-split', savedRun?.valSplit ?? 5000, true, { min: 0, max: 59_999 });
  const limit = v.limit === undefined ? (savedRun?.limit ?? undefined) : num(v.limit as string, 'limit', 0, true, { min: 1 });
  if (r && savedRun && (batchSize !== savedRun.batchSize || valSplit !== savedRun.valSplit)) {
    throw new UsageError(
      `--resume: the run used --batch ${savedRun.batchSize} --val-split ${savedRun.valSplit}; a resumed run must keep them (its position counts batches of that split)`,
    );
  }
  const savedSchedule = meta.schedule as SavedSchedule | undefined;
  const o = (meta.optimizer ?? {}) as Record<string, number | string | boolean>;
  // The schedule's base travels in the checkpoint; the optimizer's saved lr is already scheduled.
  // (A checkpoint from before the base was saved falls back to that lr, as earlier versions did.)
  const baseLr = num(v.lr as string, 'lr', savedSchedule?.baseLr ?? (r ? Number(o.lr) : classic ? 0.001 : 0.05), false, {
    min: 0,
    minExclusive: true,
  });
  const milestones =
    v['lr-milestones'] !== undefined
      ? intList(v['lr-milestones'] as string, 'lr-milestones', { min: 1 })
      : (savedSchedule?.milestones ?? [Math.ceil(epochs * 0.5), Math.ceil(epochs * 0.75)]);
  const factor = num(v['lr-factor'] as string, 'lr-factor', savedSchedule?.factor ?? 5, false, { min: 1 });
  const schedule: SavedSchedule = { kind: 'piecewise', baseLr, milestones, factor };

  const model = r?.model ?? lenet5({ variant: variant as 'modern' | 'classic', seed, device: dev });
  // --devices: replica 0 is this model (restored or new); the others get its values by broadcast.
  const dp = pg
    ? DataParallel.of(model, { devices: [dev], processGroup: pg })
    : replicas
      ? DataParallel.of(model, { devices: replicas })
      : null;
  const sgdOptions = {
    lr: baseLr,
    momentum: r ? Number(o.momentum ?? 0) : num(v.momentum as string, 'momentum', 0.9, false, { min: 0, max: 1, maxExclusive: true }),
    weightDecay: r ? Number(o.weightDecay ?? 0) : num(v['weight-decay'] as string, 'weight-decay', 5e-4, false, { min: 0 }),
    form: (o.form as 'pytorch' | 'paper' | undefined) ?? 'pytorch',
  };
  const opt = dp ? dp.createOptimizer(sgdOptions) : new SGD(model.parameters(), sgdOptions);
  if (r) opt.loadState(r.checkpoint.optimizer as Record<string, { shape: number[]; data: Float32Array }>);
  const save = v['no-save']
    ? undefined
    : ((v.save as string | undefined) ??
      (v.resume as string | undefined) ??
      (classic ? 'lenet5-classic.safetensors' : 'lenet5.safetensors'));
  const prefetch = num(v.prefetch as string, 'prefetch', 3, true, { min: 0, max: 64 });
  const out = outputFor(v, { append: Boolean(r) });
  let loaders: Awaited<ReturnType<typeof mnistLoaders>> | undefined;
  try {
    const shard = pg ? { rank: pg.rank, worldSize: pg.worldSize } : undefined;
    loaders = await mnistLoaders(data, { batchSize, seed, variant, valSplit, limit, prefetch, shard });
    const pos = r?.checkpoint.position;
    if (r)
      out.info(
        { type: 'resume', from: v.resume, epoch: pos!.epoch, batch: pos!.batch, step: pos!.step, lr: scheduleOf(schedule)(pos!.epoch) },
        `resuming from ${v.resume as string} at epoch ${pos!.epoch + 1}, batch ${pos!.batch}`,
      );
    const train = loaders.train;
    out.info(
      {
        type: 'start',
        model: model.name,
        variant,
        device: dev,
        devices: replicas ?? [dev],
        ...(pg ? { rank: pg.rank, worldSize: pg.worldSize } : {}),
        epochs,
        batchSize,
        lr: baseLr,
        schedule,
        momentum: opt.momentum,
        weightDecay: opt.weightDecay,
        seed,
        trainImages: train.dataset.count,
        valImages: loaders.val?.dataset.count ?? 0,
        testImages: loaders.test.dataset.count,
      },
      `training ${model.name} (${variant}) on ${replicas ? `${replicas.join(', ')} (data parallel)` : dev}: ${train.dataset.count} images (${loaders.val?.dataset.count ?? 0} held out), ${epochs} epochs, batch ${batchSize}, lr ${baseLr} / ${factor} after epochs ${milestones.join(', ')}, momentum ${opt.momentum}, weight decay ${opt.weightDecay}, seed ${seed}`,
    );
    out.start({ epochs, startEpoch, startBatch: pos?.batch ?? 0, batchesPerEpoch: train.batchesPerEpoch });
    const t0 = performance.now();
    const h = await fit(dp ?? model, train, {
      epochs,
      optimizer: opt,
      schedule: scheduleOf(schedule),
      validation: loaders.val ?? undefined,
      checkpointPath: save,
      checkpointMeta: { normalize: normalizeFor(variant), schedule, run: { batchSize, valSplit, limit: limit ?? null } satisfies SavedRun },
      dataSeed: seed,
      startEpoch,
      startBatch: pos?.batch ?? 0,
      startStep: pos?.step ?? 0,
      callbacks: { onBatchEnd: (_b, l) => out.batch(l), onEpochEnd: (_e, l) => out.epoch(l) },
    });
    const test = await evaluate(dp ?? model, loaders.test);
    out.info(
      { type: 'test', loss: test.loss, accuracy: test.accuracy, error: 1 - test.accuracy, count: test.count },
      `test: ${test.count} images, loss ${test.loss.toFixed(4)}, accuracy ${(test.accuracy * 100).toFixed(2)}% (error ${((1 - test.accuracy) * 100).toFixed(2)}%)`,
    );
    const last = h.epochs.at(-1);
    const seconds = (performance.now() - t0) / 1000;
    out.info(
      {
        type: 'done',
        epochs: h.epochs.length,
        seconds,
        valAccuracy: last?.valAccuracy ?? null,
        testAccuracy: test.accuracy,
        testError: 1 - test.accuracy,
        saved: save ?? null,
      },
      `done in ${seconds.toFixed(1)} s: test accuracy ${(test.accuracy * 100).toFixed(2)}%${save ? `, saved ${save}` : ' (not saved: --no-save)'}`,
    );
  } finally {
    out.close();
    await loaders?.close();
    opt.dispose();
    // DataParallel frees its replicas but replica 0, the model (restored models are freed by the caller).
    dp?.dispose({ keepFirst: true });
    if (!r) model.dispose();
  }
}
