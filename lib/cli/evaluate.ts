/**
 * `convkit evaluate --model FILE --data ...`: a saved model's loss and accuracy on
 * - LeNet-5: the MNIST test set (10,000 images);
 * - AlexNet: a folder of images (class-per-folder tree, list file, or a folder with classes.tsv),
 *   on the centre crop or, with --ten-crop, the softmax averaged over ten crops; top-1 and top-5.
 * The weights file alone is enough (no .optim twin needed).
 */
import { imageFolderLoader, imageSource, loadImageForPredict } from '../data/images/index.js';
import type { Model } from '../models/model.js';
import { restoreModel } from '../train/checkpointing.js';
import { evaluate, predict } from '../train/evaluate.js';
import { inputFor, sourceOf, type InputSpec } from './alexnet.js';
import { DEVICE, UsageError, num, type CommandSpec, type Values } from './args.js';
import { deviceArg } from './device-arg.js';
import { mnistLoader } from './mnist-data.js';
import { screenFor } from './output.js';
import type { Reporter } from './progress.js';

export const EVALUATE: CommandSpec = {
  name: 'evaluate',
  summary: "Evaluate a saved model: LeNet-5 on MNIST's test set, AlexNet on a folder of images (top-1 and top-5).",
  options: {
    model: { type: 'string', arg: 'FILE', desc: 'the weights file (X.safetensors) written by convkit train; required' },
    data: {
      type: 'string',
      arg: 'DIR|LIST',
      desc: 'LeNet-5: the MNIST folder; AlexNet: a class-per-folder tree, a list file, or a folder with classes.tsv; required',
    },
    list: { type: 'string', arg: 'FILE', desc: 'AlexNet: a list file whose paths start from --data' },
    'ten-crop': {
      type: 'boolean',
      desc: 'AlexNet: average the softmax over ten crops (corners, centre, flipped) instead of the centre crop',
    },
    limit: { type: 'string', arg: 'N', desc: 'evaluate the first N images only', default: 'all' },
    batch: { type: 'string', arg: 'N', desc: 'images per batch', default: '500 (LeNet-5), 32 (AlexNet; 4 with --ten-crop)' },
    workers: { type: 'string', arg: 'N', desc: 'AlexNet: image decoding worker threads (0: on the main thread)', default: 'min(2, CPUs)' },
    device: DEVICE,
  },
};

/** The checkpoint's class index of each of the data's labels, matched by class name. */
function labelMap(dataClasses: string[], modelClasses: string[] | undefined, numClasses: number, data: string): Int32Array {
  const map = new Int32Array(dataClasses.length);
  dataClasses.forEach((name, i) => {
    const j = modelClasses ? modelClasses.indexOf(name) : i;
    if (j < 0 || j >= numClasses)
      throw new UsageError(`evaluate: class ${JSON.stringify(name)} of ${data} is not one of the model's ${numClasses} classes`);
    map[i] = j;
  });
  return map;
}

interface Tally {
  loss: number;
  top1: number;
  top5: number;
  count: number;
}

/** Adds n images' probabilities [n * classes] against their (model-index) labels. */
function tally(t: Tally, probs: Float32Array, labels: ArrayLike<number>, n: number): void {
  const k = probs.length / n;
  for (let i = 0; i < n; i++) {
    const p = probs.subarray(i * k, (i + 1) * k);
    const y = labels[i];
    t.loss += -Math.log(Math.max(p[y], 1e-30));
    let above = 0;
    for (let j = 0; j < k; j++) if (p[j] > p[y]) above++;
    if (above === 0) t.top1++;
    if (above < 5) t.top5++;
    t.count++;
  }
}

async function evaluateImages(v: Values, model: Model, meta: Record<string, unknown>): Promise<Tally> {
  const input = (meta.input as InputSpec | undefined) ?? inputFor(String(model.config.variant));
  const src = sourceOf(v.data as string, v.list as string | undefined);
  const tenCrop = Boolean(v['ten-crop']);
  const limit = v.limit === undefined ? undefined : num(v.limit as string, 'limit', 0, true, { min: 1 });
  const batch = num(v.batch as string, 'batch', tenCrop ? 4 : 32, true, { min: 1, max: 4096 });
  const numClasses = Number(model.config.numClasses);
  const t: Tally = { loss: 0, top1: 0, top5: 0, count: 0 };
  if (!tenCrop) {
    const workers = v.workers === undefined ? undefined : num(v.workers as string, 'workers', 0, true, { min: 0, max: 64 });
    const loader = await imageFolderLoader(src.path, {
      list: src.list,
      batchSize: batch,
      train: false,
      limit,
      workers,
      crop: input.crop,
      mean: input.mean,
      scale: input.scale,
    });
    try {
      const map = labelMap(loader.classes, meta.classes as string[] | undefined, numClasses, v.data as string);
      for await (const b of loader.epoch(0))
        tally(
          t,
          await predict(model, b.x, b.shape),
          Array.from(b.labels, (l) => map[l]),
          b.batchSize,
        );
    } finally {
      await loader.close();
    }
    return t;
  }
  // Ten crops per image: batches of `batch` images (10 x batch network inputs).
  const s = await imageSource(src.path, { list: src.list });
  const map = labelMap(s.classes, meta.classes as string[] | undefined, numClasses, v.data as string);
  const count = Math.min(limit ?? s.paths.length, s.paths.length);
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const per = 10 * 3 * input.crop * input.crop;
    const x = new Float32Array(n * per);
    for (let j = 0; j < n; j++)
      x.set(
        (await loadImageForPredict(s.paths[i + j], { crop: input.crop, mean: input.mean, scale: input.scale, tenCrop: true })).x,
        j * per,
      );
    const probs = await predict(model, x, [n * 10, 3, input.crop, input.crop]);
    const k = probs.length / (n * 10);
    const mean = new Float32Array(n * k);
    for (let j = 0; j < n; j++)
      for (let c = 0; c < 10; c++) for (let q = 0; q < k; q++) mean[j * k + q] += probs[(j * 10 + c) * k + q] / 10;
    tally(
      t,
      mean,
      Array.from(s.labels.subarray(i, i + n), (l) => map[l]),
      n,
    );
  }
  return t;
}

async function run(v: Values, out: Reporter): Promise<void> {
  if (!v.model || !v.data) throw new UsageError('evaluate: --model FILE and --data DIR are required');
  const dev = deviceArg(v);
  const { model, checkpoint } = await restoreModel(v.model as string, { device: dev });
  try {
    if (model.config.model === 'alexnet') {
      const t = await evaluateImages(v, model, checkpoint.meta);
      const r = {
        loss: t.loss / Math.max(1, t.count),
        accuracy: t.top1 / Math.max(1, t.count),
        top5: t.top5 / Math.max(1, t.count),
        count: t.count,
      };
      out.info(
        {
          type: 'evaluate',
          model: v.model,
          data: v.data,
          tenCrop: Boolean(v['ten-crop']),
          ...r,
          error: 1 - r.accuracy,
          top5Error: 1 - r.top5,
        },
        `${r.count} images${v['ten-crop'] ? ' (10 crops each)' : ''}: loss ${r.loss.toFixed(4)}, top-1 ${(r.accuracy * 100).toFixed(2)}%, top-5 ${(r.top5 * 100).toFixed(2)}%`,
      );
      return;
    }
    if (v['ten-crop']) throw new UsageError('evaluate: --ten-crop is for AlexNet checkpoints');
    const limit = v.limit === undefined ? undefined : num(v.limit as string, 'limit', 0, true, { min: 1 });
    const batchSize = num(v.batch as string, 'batch', 500, true, { min: 1, max: 10_000 });
    const test = await mnistLoader(v.data as string, 'test', {
      batchSize,
      seed: 0,
      variant: String(model.config.variant),
      shuffle: false,
      limit,
      prefetch: 0,
    });
    try {
      const r = await evaluate(model, test);
      out.info(
        { type: 'evaluate', model: v.model, ...r, error: 1 - r.accuracy },
        `${r.count} test images: loss ${r.loss.toFixed(4)}, accuracy ${(r.accuracy * 100).toFixed(2)}% (error ${((1 - r.accuracy) * 100).toFixed(2)}%)`,
      );
    } finally {
      await test.close();
    }
  } finally {
    model.dispose();
  }
}

export async function evaluateCmd(v: Values): Promise<void> {
  const out = screenFor(v);
  try {
    await run(v, out);
  } finally {
    out.close();
  }
}
