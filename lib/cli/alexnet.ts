/**
 * `convkit train alexnet` and `convkit predict --model CKPT image.jpg ...`: AlexNet on a folder of
 * images (lib/data/images). The checkpoint's metadata holds everything prediction needs: the
 * architecture, how pixels were normalised, and the class names.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGENET_MEAN, imageFolderLoader, loadImageForPredict, type ImageFolderLoader } from '../data/images/index.js';
import { alexnet } from '../models/alexnet.js';
import type { Model } from '../models/model.js';
import { SGD } from '../optim/sgd.js';
import { restoreModel, saveTrainingCheckpoint } from '../train/checkpointing.js';
import { predict } from '../train/evaluate.js';
import { fit } from '../train/fit.js';
import { stepLr } from '../train/schedule.js';
import { DEVICE, DEVICES, UsageError, num, type CommandSpec, type Values } from './args.js';
import { deviceArg, devicesArg } from './device-arg.js';
import { DataParallel } from '../parallel/data-parallel.js';
import { LOG_OPTIONS, outputFor } from './output.js';
import type { Reporter } from './progress.js';

export const TRAIN_ALEXNET: CommandSpec = {
  name: 'train alexnet',
  summary: 'Train AlexNet (the paper form or one-weird-trick) on a folder of images; saves a checkpoint at the end.',
  options: {
    data: { type: 'string', arg: 'DIR|LIST', desc: 'a class-per-folder tree, a list file, or a folder with classes.tsv; required' },
    list: { type: 'string', arg: 'FILE', desc: 'a list file whose paths start from --data' },
    variant: {
      type: 'string',
      arg: 'FORM',
      desc: "'paper' (two towers, 227 crops, LRN, Caffe's pixel means) or 'owt' (one tower, 224 crops, torchvision's normalisation)",
      default: 'paper',
    },
    epochs: { type: 'string', arg: 'N', desc: 'epochs to train (>= 1; when resuming, the total)', default: '90' },
    batch: { type: 'string', arg: 'N', desc: 'images per batch', default: '128' },
    lr: { type: 'string', arg: 'X', desc: 'base learning rate (> 0)', default: '0.01' },
    'lr-step': { type: 'string', arg: 'N', desc: 'divide the rate by 10 every N epochs', default: 'a third of --epochs, rounded up' },
    momentum: { type: 'string', arg: 'X', desc: 'SGD momentum in [0, 1)', default: '0.9' },
    'weight-decay': {
      type: 'string',
      arg: 'X',
      desc: "weight decay (>= 0): the paper's rule on every weight (paper), torch.optim.SGD's (owt)",
      default: '5e-4',
    },
    dropout: { type: 'string', arg: 'P', desc: 'dropout probability of the first two fully connected layers, in [0, 1)', default: '0.5' },
    'fc-width': { type: 'string', arg: 'N', desc: 'width of the fully connected layers', default: '4096' },
    seed: { type: 'string', arg: 'N', desc: 'seed of the weights, the shuffling and the augmentation', default: '1' },
    limit: { type: 'string', arg: 'N', desc: 'train on the first N images', default: 'all' },
    val: { type: 'string', arg: 'DIR|LIST', desc: 'images to validate on after every epoch', default: 'none' },
    workers: { type: 'string', arg: 'N', desc: 'image decoding worker threads (0: on the main thread)', default: 'min(2, CPUs)' },
    save: {
      type: 'string',
      arg: 'FILE',
      desc: 'checkpoint (FILE and FILE.optim.safetensors, about 2 x 244 MB at full width)',
      default: 'alexnet.safetensors; the --resume file when resuming',
    },
    'save-every': { type: 'string', arg: 'N', desc: 'also save after every N epochs (0: only at the end)', default: '0' },
    'no-save': { type: 'boolean', desc: 'write no checkpoint' },
    resume: { type: 'string', arg: 'FILE', desc: 'continue the run saved in FILE (its variant, seed and schedule)' },
    device: DEVICE,
    devices: DEVICES,
    ...LOG_OPTIONS,
  },
};

/** How pixels become network inputs: (pixel - mean) * scale, on a crop x crop window. */
export interface InputSpec {
  crop: number;
  mean: number[];
  scale: number[];
}

/**
 * The paper form follows Caffe's replica: [0, 255] pixels minus the mean, which is what its
 * N(0, 0.01^2) initialisation and LRN constants were chosen for. The one-weird-trick form is
 * torchvision's: [0, 1] pixels standardised per channel.
 */
export function inputFor(variant: string): InputSpec {
  const mean = [...IMAGENET_MEAN];
  if (variant === 'owt') return { crop: 224, mean, scale: [0.229, 0.224, 0.225].map((s) => 1 / (255 * s)) };
  return { crop: 227, mean, scale: [1, 1, 1] };
}

/** A folder that holds a classes.tsv (shared/data/imagenet-samples) is read through that list. */
export function sourceOf(data: string, list: string | undefined): { path: string; list?: string } {
  if (list !== undefined) return { path: data, list };
  const tsv = join(data, 'classes.tsv');
  if (existsSync(data) && statSync(data).isDirectory() && existsSync(tsv)) return { path: data, list: tsv };
  return { path: data };
}

export async function trainAlexnet(v: Values): Promise<void> {
  const data = v.data as string | undefined;
  if (!data)
    throw new UsageError('train alexnet: --data DIR is required (a class-per-folder tree, a list file, or a folder with classes.tsv)');
  let seed = num(v.seed as string, 'seed', 1, true);
  let startEpoch = 0;
  let startBatch = 0;
  let startStep = 0;
  let model: Model | undefined;
  let opt: SGD | undefined;
  let input: InputSpec;
  let variant: string;
  let saved: { baseLr?: number; lrStep?: number } = {};
  const resume = v.resume as string | undefined;
  const replicas = devicesArg(v);
  const dev = replicas?.[0] ?? deviceArg(v);
  const out = outputFor(v, { append: Boolean(resume) });
  let dp: DataParallel | null = null;
  if (resume) {
    const r = await restoreModel(resume, { device: dev });
    model = r.model;
    if (model.config.model !== 'alexnet') {
      model.dispose();
      throw new UsageError(`--resume ${resume} holds a ${String(model.config.model)} checkpoint, not an AlexNet one`);
    }
    variant = String(model.config.variant);
    input = (r.checkpoint.meta.input as InputSpec | undefined) ?? inputFor(variant);
    seed = r.checkpoint.position.seed;
    startEpoch = r.checkpoint.position.epoch;
    startBatch = r.checkpoint.position.batch;
    startStep = r.checkpoint.position.step;
    const o = (r.checkpoint.meta.optimizer ?? {}) as Record<string, number | string | boolean>;
    // The optimizer's lr in the file is the scheduled one; the schedule restarts from its base.
    saved = (r.checkpoint.meta.schedule ?? {}) as typeof saved;
    opt = new SGD(model.parameters(), {
      lr: num(v.lr as string, 'lr', Number(saved.baseLr ?? o.lr)),
      momentum: Number(o.momentum ?? 0),
      weightDecay: Number(o.weightDecay ?? 0),
      form: (o.form as 'pytorch' | 'paper') ?? 'pytorch',
      decayAll: Boolean(o.decayAll),
    });
    opt.loadState(r.checkpoint.optimizer as Record<string, { shape: number[]; data: Float32Array }>);
    out.info(
      { type: 'resume', from: resume, epoch: startEpoch, batch: startBatch, step: startStep },
      `resuming from ${resume} at epoch ${startEpoch + 1}, batch ${startBatch}`,
    );
  } else {
    variant = (v.variant as string | undefined) ?? 'paper';
    if (variant !== 'paper' && variant !== 'owt') throw new UsageError(`--variant must be paper or owt, got ${JSON.stringify(variant)}`);
    input = inputFor(variant); // the model is built once the loader knows the classes
  }

  const epochs = num(v.epochs as string, 'epochs', 90, true, { min: 1, max: 100_000 });
  if (epochs <= startEpoch)
    throw new UsageError(`--epochs ${epochs}: ${resume ?? ''} has already run ${startEpoch} epochs; ask for more to continue`);
  const batchSize = num(v.batch as string, 'batch', 128, true, { min: 1, max: 65_536 });
  // A full-width checkpoint is ~2 x 244 MB: by default it is written once, at the end.
  const saveEvery = num(v['save-every'] as string, 'save-every', 0, true, { min: 0 });
  const limit = v.limit === undefined ? undefined : num(v.limit as string, 'limit', 0, true, { min: 1 });
  const fcWidth = num(v['fc-width'] as string, 'fc-width', 4096, true, { min: 1, max: 65_536 });
  const dropout = num(v.dropout as string, 'dropout', 0.5);
  if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got ${dropout}`);
  if (v['save-every'] !== undefined && v['no-save']) throw new UsageError('--save-every and --no-save contradict each other');
  const src = sourceOf(data, v.list as string | undefined);
  const loaders: ImageFolderLoader[] = [];
  try {
    const workers = v.workers === undefined ? undefined : num(v.workers as string, 'workers', 0, true);
    const trainData = await imageFolderLoader(src.path, {
      list: src.list,
      batchSize,
      seed,
      train: true,
      limit,
      workers,
      crop: input.crop,
      mean: input.mean,
      scale: input.scale,
    });
    loaders.push(trainData);
    const classes = trainData.classes;
    if (!model || !opt) {
      model = alexnet({ variant: variant as 'paper' | 'owt', numClasses: classes.length, fcWidth, dropout, seed, device: dev });
      // The paper's rule (v = 0.9 v - 0.0005 lr w - lr g; w += v, every weight decayed) for its
      // form; torch.optim.SGD's, as torchvision's recipe, for the one-weird-trick form.
      opt = new SGD(model.parameters(), {
        lr: num(v.lr as string, 'lr', 0.01, false, { min: 0, minExclusive: true }),
        momentum: num(v.momentum as string, 'momentum', 0.9, false, { min: 0, max: 1, maxExclusive: true }),
        weightDecay: num(v['weight-decay'] as string, 'weight-decay', 5e-4, false, { min: 0 }),
        form: variant === 'paper' ? 'paper' : 'pytorch',
        decayAll: variant === 'paper',
      });
    } else if (Number(model.config.numClasses) !== classes.length) {
      throw new UsageError(`--resume: the checkpoint has ${String(model.config.numClasses)} classes but ${data} has ${classes.length}`);
    }
    let validation: ImageFolderLoader | undefined;
    if (v.val) {
      const vs = sourceOf(v.val as string, undefined);
      validation = await imageFolderLoader(vs.path, {
        list: vs.list,
        batchSize: Math.min(batchSize, 64),
        seed: 0,
        train: false,
        workers,
        crop: input.crop,
        mean: input.mean,
        scale: input.scale,
      });
      loaders.push(validation);
    }
    const net = model;
    let sgd: SGD = opt;
    if (replicas) {
      // --devices: this model is replica 0; the optimizer becomes one per replica, with the state
      // (a resumed run's momentum) copied over.
      dp = DataParallel.of(net, { devices: replicas });
      const state: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const [name, t] of sgd.state()) state[name] = { shape: [...t.shape], data: (await t.data()) as Float32Array };
      const replicated = dp.createOptimizer({
        lr: sgd.lr,
        momentum: sgd.momentum,
        weightDecay: sgd.weightDecay,
        form: sgd.form,
        nesterov: sgd.nesterov,
        decayAll: sgd.decayAll,
      });
      replicated.loadState(state);
      sgd.dispose();
      opt = sgd = replicated;
    }
    const baseLr = sgd.lr;
    // The paper divided the rate by 10 three times over ~90 epochs when validation error stalled;
    // by default a fixed step every third of the run stands in for that (--lr-step N epochs).
    const lrStep = num(v['lr-step'] as string, 'lr-step', saved.lrStep ?? Math.max(1, Math.ceil(epochs / 3)), true, { min: 1 });
    const schedule = stepLr(baseLr, lrStep);
    const save = v['no-save'] ? undefined : ((v.save as string | undefined) ?? resume ?? 'alexnet.safetensors');
    const meta = { input, classes, schedule: { baseLr, lrStep } };
    out.info(
      {
        type: 'start',
        model: net.name,
        variant,
        devices: replicas ?? [dev],
        epochs,
        batchSize,
        lr: baseLr,
        seed,
        trainImages: trainData.count,
        classes: classes.length,
        parameters: net.parameters().reduce((a, p) => a + p.value.size, 0),
      },
      `training ${net.name} (${variant}) on ${replicas ? `${replicas.join(', ')} (data parallel)` : dev}: ${trainData.count} images of ${classes.length} classes, ${epochs} epochs, batch ${batchSize}, lr ${baseLr} / 10 every ${lrStep} epochs, seed ${seed}`,
    );
    out.start({ epochs, startEpoch, startBatch, batchesPerEpoch: trainData.batchesPerEpoch });
    const t0 = performance.now();
    let steps = startStep;
    const h = await fit(dp ?? net, trainData, {
      epochs,
      optimizer: sgd,
      schedule,
      validation,
      dataSeed: seed,
      startEpoch,
      startBatch,
      startStep,
      callbacks: {
        onBatchEnd: (_b, l) => {
          steps++;
          out.batch(l);
        },
        onEpochEnd: async (e, l) => {
          out.epoch(l);
          // A full AlexNet checkpoint is ~0.5 GB with its momentum: --save-every spaces them out.
          if (save && ((saveEvery > 0 && (e + 1) % saveEvery === 0) || e + 1 === epochs))
            await saveTrainingCheckpoint(save, net, sgd, { epoch: e + 1, batch: 0, step: steps, seed }, meta);
        },
      },
    });
    const last = h.epochs[h.epochs.length - 1];
    const seconds = (performance.now() - t0) / 1000;
    out.info(
      {
        type: 'done',
        epochs: h.epochs.length,
        seconds,
        loss: last?.loss,
        accuracy: last?.accuracy,
        valAccuracy: last?.valAccuracy,
        saved: save ?? null,
      },
      `done in ${seconds.toFixed(1)} s: training loss ${last?.loss.toFixed(4) ?? '-'}${last?.valAccuracy !== undefined ? `, validation accuracy ${(last.valAccuracy * 100).toFixed(2)}%` : ''}${save ? `, saved ${save}` : ''}`,
    );
  } finally {
    out.close();
    for (const l of loaders) await l.close();
    opt?.dispose();
    dp?.dispose({ keepFirst: true });
    model?.dispose();
  }
}

/** Top-k (class, probability) of one image, the softmax averaged over its k crops. */
function topK(probs: Float32Array, crops: number, k: number): Array<{ index: number; p: number }> {
  const classes = probs.length / crops;
  const mean = new Float64Array(classes);
  for (let c = 0; c < crops; c++) for (let j = 0; j < classes; j++) mean[j] += probs[c * classes + j] / crops;
  return Array.from(mean, (p, index) => ({ index, p }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}

/** AlexNet's predictions for image files: the top classes, named from the checkpoint. */
export async function predictImages(
  files: string[],
  v: Values,
  out: Reporter,
  restored: Awaited<ReturnType<typeof restoreModel>>,
): Promise<void> {
  const top = num(v.top as string, 'top', 5, true, { min: 1 });
  const { model, checkpoint } = restored;
  {
    const input = (checkpoint.meta.input as InputSpec | undefined) ?? inputFor(String(model.config.variant));
    const names = (checkpoint.meta.classes as string[] | undefined) ?? [];
    for (const file of files) {
      const img = await loadImageForPredict(file, {
        crop: input.crop,
        mean: input.mean,
        scale: input.scale,
        tenCrop: Boolean(v['ten-crop']),
      });
      const probs = await predict(model, img.x, img.shape);
      const best = topK(probs, img.shape[0], top).map((r) => ({
        index: r.index,
        name: names[r.index] ?? String(r.index),
        probability: r.p,
      }));
      out.info(
        { type: 'predict', file, crops: img.shape[0], top: best },
        `${file}${img.shape[0] > 1 ? ` (${img.shape[0]} crops)` : ''}:\n${best.map((r, i) => `  ${i + 1}. ${r.name} (${r.index})  ${r.probability.toFixed(4)}`).join('\n')}`,
      );
    }
  }
}
