/**
 * `convkit predict --model FILE ...`: what the checkpoint's model says about
 * - image files: digits for LeNet-5 (see digit-image.ts), ImageNet-style photos for AlexNet;
 * - MNIST test images by index (--data DIR --index I,J), for LeNet-5.
 * The weights file alone is enough (no .optim twin needed).
 */
import { InMemoryDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import type { Model } from '../models/model.js';
import { restoreModel } from '../train/checkpointing.js';
import { predict } from '../train/evaluate.js';
import { predictImages } from './alexnet.js';
import { DEVICE, UsageError, intList, num, oneOf, type CommandSpec, type Values } from './args.js';
import { deviceArg } from './device-arg.js';
import { DIGIT_SIDE, loadDigit } from './digit-image.js';
import { mnistLoader, normalizeFor } from './mnist-data.js';
import { screenFor } from './output.js';
import type { Reporter } from './progress.js';

export const PREDICT: CommandSpec = {
  name: 'predict',
  positionals: '[IMAGE ...]',
  summary: 'Predict with a saved model: image files (LeNet-5: digits; AlexNet: photos), or MNIST test images by index.',
  options: {
    model: { type: 'string', arg: 'FILE', desc: 'the weights file (X.safetensors) written by convkit train; required' },
    data: { type: 'string', arg: 'DIR', desc: 'LeNet-5 without image files: the MNIST folder whose test images --index picks' },
    index: { type: 'string', arg: 'I,J', desc: 'MNIST test images to predict (0-based)', default: '0' },
    invert: {
      type: 'string',
      arg: 'MODE',
      desc: "LeNet-5 image files: 'auto' inverts mostly light images (dark ink on paper) into MNIST's white on black, 'yes', 'no'",
      default: 'auto',
    },
    'ten-crop': { type: 'boolean', desc: 'AlexNet: average the softmax over the ten crops (corners, centre, flipped)' },
    top: { type: 'string', arg: 'K', desc: 'AlexNet: classes to list per image', default: '5' },
    device: DEVICE,
  },
};

function argmax(p: ArrayLike<number>, from = 0, n = p.length): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (p[from + k] > p[from + best]) best = k;
  return best;
}

async function predictDigits(files: string[], v: Values, out: Reporter, model: Model): Promise<void> {
  const invert = oneOf(v.invert as string | undefined, 'invert', ['auto', 'yes', 'no'] as const, 'auto');
  const variant = String(model.config.variant);
  const digits: Array<Awaited<ReturnType<typeof loadDigit>>> = [];
  for (const f of files) digits.push(await loadDigit(f, invert));
  const images = new Uint8Array(files.length * DIGIT_SIDE * DIGIT_SIDE);
  digits.forEach((d, i) => images.set(d.pixels, i * DIGIT_SIDE * DIGIT_SIDE));
  const ds = new InMemoryDataset({
    images,
    labels: new Int32Array(files.length),
    count: files.length,
    channels: 1,
    height: DIGIT_SIDE,
    width: DIGIT_SIDE,
  });
  // The loader applies exactly the training normalisation (and the classic form's padding).
  const loader = new DataLoader(ds, { batchSize: files.length, shuffle: false, prefetch: 0, normalize: normalizeFor(variant) });
  try {
    for await (const b of loader.epoch(0)) {
      const probs = await predict(model, b.x, b.shape);
      const k = probs.length / files.length;
      files.forEach((file, i) => {
        const best = argmax(probs, i * k, k);
        const p = Array.from(probs.subarray(i * k, (i + 1) * k));
        out.info(
          { type: 'predict', file, predicted: best, probability: p[best], probabilities: p, inverted: digits[i].inverted },
          `${file}: predicted ${best} (p = ${p[best].toFixed(4)})${digits[i].inverted ? ', inverted (dark on light)' : ''}`,
        );
      });
    }
  } finally {
    await loader.close();
  }
}

async function predictMnist(v: Values, out: Reporter, model: Model): Promise<void> {
  if (!v.data) throw new UsageError('predict: give image files, or --data DIR (MNIST) with --index I[,J...]');
  const indices = intList((v.index as string | undefined) ?? '0', 'index', { min: 0 });
  const loader = await mnistLoader(v.data as string, 'test', {
    batchSize: 1,
    seed: 0,
    variant: String(model.config.variant),
    shuffle: false,
    prefetch: 0,
  });
  try {
    const ds = loader.dataset;
    for (const i of indices) {
      if (i >= ds.count) throw new UsageError(`--index ${i} is outside the test set [0, ${ds.count})`);
      let batch;
      for await (const b of loader.epoch(0, { startBatch: i })) {
        batch = b;
        break;
      }
      const probs = await predict(model, batch!.x, batch!.shape);
      const best = argmax(probs);
      out.info(
        { type: 'predict', index: i, label: ds.labels[i], predicted: best, probability: probs[best], probabilities: Array.from(probs) },
        `test image ${i}: predicted ${best} (p = ${probs[best].toFixed(4)}), label ${ds.labels[i]}`,
      );
    }
  } finally {
    await loader.close();
  }
}

export async function predictCmd(v: Values, files: string[]): Promise<void> {
  if (!v.model) throw new UsageError('predict: --model FILE is required');
  num(v.top as string, 'top', 5, true, { min: 1 });
  const dev = deviceArg(v);
  const out = screenFor(v);
  const restored = await restoreModel(v.model as string, { device: dev });
  const { model } = restored;
  try {
    const kind = String(model.config.model);
    if (kind === 'alexnet') {
      if (!files.length) throw new UsageError('predict: an AlexNet checkpoint needs image files to predict');
      await predictImages(files, v, out, restored);
    } else if (files.length) await predictDigits(files, v, out, model);
    else await predictMnist(v, out, model);
  } finally {
    out.close();
    model.dispose();
  }
}
