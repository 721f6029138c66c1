/**
 * The `convkit` command: train (LeNet-5 here, AlexNet in ./alexnet.ts), evaluate, predict.
 * Progress on a terminal as a bar; JSON lines when stdout is not a terminal or with --json.
 * Exit code 0 on success, 1 on a failure (with the error's code and message), 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { ConvkitError } from '../errors.js';
import { lenet5 } from '../models/lenet5.js';
import { SGD } from '../optim/sgd.js';
import { restoreModel } from '../train/checkpointing.js';
import { evaluate, predict } from '../train/evaluate.js';
import { fit } from '../train/fit.js';
import { piecewiseLr } from '../train/schedule.js';
import { ALEXNET_USAGE, predictImages, trainAlexnet } from './alexnet.js';
import { EXPORT_USAGE, exportCmd } from './export.js';
import { UsageError, num } from './args.js';
import { mnistLoader, normalizeFor } from './mnist-data.js';
import { barReporter, jsonReporter, type Reporter } from './progress.js';

const USAGE = `usage:
  convkit train lenet5 --data DIR [--variant modern|classic] [--epochs N] [--batch N] [--lr X]
                       [--momentum X] [--weight-decay X] [--seed N] [--save FILE] [--resume FILE]
                       [--limit N] [--json]
  convkit evaluate --model FILE --data DIR [--json]
  convkit predict --model FILE --data DIR [--index I[,I...]] [--json]
${ALEXNET_USAGE}
${EXPORT_USAGE}`;

const OPTIONS = {
  data: { type: 'string' },
  variant: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  seed: { type: 'string' },
  save: { type: 'string' },
  resume: { type: 'string' },
  limit: { type: 'string' },
  model: { type: 'string' },
  index: { type: 'string' },
  list: { type: 'string' },
  val: { type: 'string' },
  'save-every': { type: 'string' },
  'lr-step': { type: 'string' },
  workers: { type: 'string' },
  dropout: { type: 'string' },
  'fc-width': { type: 'string' },
  'ten-crop': { type: 'boolean' },
  top: { type: 'string' },
  json: { type: 'boolean' },
  onnx: { type: 'string' },
  probabilities: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function train(rest: string[], v: Record<string, string | boolean | undefined>, out: Reporter): Promise<void> {
  if (rest[0] === 'alexnet') return trainAlexnet(v, out);
  if (rest[0] !== 'lenet5') throw new UsageError(`train: unknown model ${JSON.stringify(rest[0] ?? '')} (this version trains lenet5 and alexnet)`);
  const data = v.data as string | undefined;
  if (!data) throw new UsageError('train: --data DIR is required (the folder with the MNIST files)');
  let variant = (v.variant as string | undefined) ?? 'modern';
  let seed = num(v.seed as string, 'seed', 1, true);
  let startEpoch = 0;
  let startBatch = 0;
  let startStep = 0;
  let model;
  let opt: SGD;
  const resume = v.resume as string | undefined;
  const classic = () => variant === 'classic';
  if (resume) {
    const r = await restoreModel(resume);
    model = r.model;
    variant = String(model.config.variant);
    seed = r.checkpoint.position.seed;
    startEpoch = r.checkpoint.position.epoch;
    startBatch = r.checkpoint.position.batch;
    startStep = r.checkpoint.position.step;
    const o = (r.checkpoint.meta.optimizer ?? {}) as Record<string, number | string | boolean>;
    opt = new SGD(model.parameters(), {
      lr: num(v.lr as string, 'lr', Number(o.lr)),
      momentum: Number(o.momentum ?? 0),
      weightDecay: Number(o.weightDecay ?? 0),
      form: (o.form as 'pytorch' | 'paper') ?? 'pytorch',
    });
    opt.loadState(r.checkpoint.optimizer as Record<string, { shape: number[]; data: Float32Array }>);
    out.info({ type: 'resume', from: resume, epoch: startEpoch, batch: startBatch, step: startStep }, `resuming from ${resume} at epoch ${startEpoch + 1}, batch ${startBatch}`);
  } else {
    if (variant !== 'modern' && variant !== 'classic') throw new UsageError(`--variant must be modern or classic, got ${JSON.stringify(variant)}`);
    model = lenet5({ variant, seed });
    opt = new SGD(model.parameters(), {
      lr: num(v.lr as string, 'lr', classic() ? 0.001 : 0.05),
      momentum: num(v.momentum as string, 'momentum', 0.9),
      weightDecay: num(v['weight-decay'] as string, 'weight-decay', 5e-4),
    });
  }
  const epochs = num(v.epochs as string, 'epochs', classic() ? 20 : 5, true);
  const batchSize = num(v.batch as string, 'batch', classic() ? 16 : 64, true);
  const limit = v.limit === undefined ? undefined : num(v.limit as string, 'limit', 0, true);
  const baseLr = opt.lr;
  // A decreasing schedule in the spirit of LeCun et al. 1998 (which lowered the rate in steps).
  const schedule = piecewiseLr([Math.ceil(epochs * 0.5), Math.ceil(epochs * 0.75)], [baseLr, baseLr / 5, baseLr / 25]);
  const trainData = await mnistLoader(data, 'train', { batchSize, seed, variant, limit });
  const testData = await mnistLoader(data, 'test', { batchSize: 500, seed, variant, shuffle: false });
  out.info({ type: 'start', model: model.name, variant, epochs, batchSize, lr: baseLr, seed, trainImages: trainData.dataset.count }, `training ${model.name} (${variant}) on ${trainData.dataset.count} images: ${epochs} epochs, batch ${batchSize}, lr ${baseLr}, seed ${seed}`);
  const t0 = performance.now();
  try {
    const h = await fit(model, trainData, {
      epochs,
      optimizer: opt,
      schedule,
      validation: testData,
      checkpointPath: v.save as string | undefined,
      checkpointMeta: { normalize: normalizeFor(variant) },
      dataSeed: seed,
      startEpoch,
      startBatch,
      startStep,
      callbacks: {
        onBatchEnd: (_b, l) => out.batch(l, trainData.batchesPerEpoch),
        onEpochEnd: (_e, l) => out.epoch(l),
      },
    });
    const last = h.epochs[h.epochs.length - 1];
    const seconds = (performance.now() - t0) / 1000;
    out.info(
      { type: 'done', epochs: h.epochs.length, seconds, testAccuracy: last?.valAccuracy, testError: last ? 1 - last.valAccuracy! : undefined, saved: v.save ?? null },
      `done in ${seconds.toFixed(1)} s: test accuracy ${((last?.valAccuracy ?? 0) * 100).toFixed(2)}%${v.save ? `, saved ${v.save as string}` : ''}`,
    );
  } finally {
    await trainData.close();
    await testData.close();
    opt.dispose();
    model.dispose();
  }
}

async function evaluateCmd(v: Record<string, string | boolean | undefined>, out: Reporter): Promise<void> {
  if (!v.model || !v.data) throw new UsageError('evaluate: --model FILE and --data DIR are required');
  const { model } = await restoreModel(v.model as string);
  const variant = String(model.config.variant);
  const testData = await mnistLoader(v.data as string, 'test', { batchSize: 500, seed: 0, variant, shuffle: false });
  try {
    const r = await evaluate(model, testData);
    out.info({ type: 'evaluate', model: v.model, ...r, error: 1 - r.accuracy }, `${r.count} test images: loss ${r.loss.toFixed(4)}, accuracy ${(r.accuracy * 100).toFixed(2)}% (error ${((1 - r.accuracy) * 100).toFixed(2)}%)`);
  } finally {
    await testData.close();
    model.dispose();
  }
}

async function predictCmd(v: Record<string, string | boolean | undefined>, out: Reporter): Promise<void> {
  if (!v.model || !v.data) throw new UsageError('predict: --model FILE and --data DIR are required');
  const indices = ((v.index as string | undefined) ?? '0').split(',').map((s) => num(s, 'index', 0, true));
  const { model } = await restoreModel(v.model as string);
  const variant = String(model.config.variant);
  const loader = await mnistLoader(v.data as string, 'test', { batchSize: 1, seed: 0, variant, shuffle: false });
  try {
    const ds = loader.dataset;
    for (const i of indices) {
      if (i < 0 || i >= ds.count) throw new UsageError(`--index ${i} is outside the test set [0, ${ds.count})`);
      let batch;
      for await (const b of loader.epoch(0, { startBatch: i })) {
        batch = b;
        break;
      }
      const probs = await predict(model, batch!.x, batch!.shape);
      let best = 0;
      for (let k = 1; k < probs.length; k++) if (probs[k] > probs[best]) best = k;
      out.info(
        { type: 'predict', index: i, label: ds.labels[i], predicted: best, probability: probs[best], probabilities: Array.from(probs) },
        `test image ${i}: predicted ${best} (p = ${probs[best].toFixed(4)}), label ${ds.labels[i]}`,
      );
    }
  } finally {
    await loader.close();
    model.dispose();
  }
}

export async function main(argv: string[]): Promise<number> {
  // `bench` has its own options and help (lib/bench/options.ts).
  if (argv[0] === 'bench') return (await import('../bench/command.js')).benchMain(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [cmd, ...rest] = positionals;
  if (v.help || !cmd) {
    process.stdout.write(USAGE + '\n');
    return cmd || v.help ? 0 : 2;
  }
  const out = v.json || !process.stdout.isTTY ? jsonReporter() : barReporter();
  try {
    if (cmd === 'train') await train(rest, v, out);
    else if (cmd === 'evaluate') await evaluateCmd(v, out);
    else if (cmd === 'predict' && rest.length) await predictImages(rest, v, out);
    else if (cmd === 'predict') await predictCmd(v, out);
    else if (cmd === 'export') await exportCmd(v, out);
    else throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`convkit: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    const code = (e as ConvkitError).code ?? 'ERROR';
    process.stderr.write(`convkit: ${code}: ${(e as Error).message}\n`);
    return 1;
  }
}
