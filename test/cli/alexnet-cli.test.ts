// `convkit train alexnet` and `convkit predict --model CKPT image.jpg` end to end, in a child
// process (the CLI writes to stdout), on four photos of shared/data/imagenet-samples with
// narrow fully connected layers (--fc-width) so that the run and its checkpoint stay small.
// --workers 0: the image loader's worker threads cannot load its .ts worker file under tap's loader.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCheckpoint } from '../../lib/index.js';
import { main } from '../../lib/cli/main.js';

const here = dirname(fileURLToPath(import.meta.url));
const DATA = join(here, '..', '..', '..', 'shared', 'data', 'imagenet-samples');
const MAIN = pathToFileURL(join(here, '..', '..', 'lib', 'cli', 'main.ts')).href;
const dir = mkdtempSync(join(tmpdir(), 'convkit-alexnet-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

/** Runs the CLI's main() with the test's own TypeScript loader; stdout is not a TTY, so JSON lines. */
function cli(...args: string[]): Run {
  const code = `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: r.status, lines, stderr: r.stderr };
}

/** main() in this process, for failures that happen before anything is written to stdout. */
async function cliHere(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stderr };
  } finally {
    process.stderr.write = write;
  }
}

t.test('usage errors exit 2 and say what is wrong', async (t) => {
  let r = await cliHere('train', 'alexnet');
  t.equal(r.code, 2);
  t.match(r.stderr, /--data DIR is required/);
  r = await cliHere('train', 'alexnet', '--data', DATA, '--variant', 'vgg');
  t.equal(r.code, 2);
  t.match(r.stderr, /--variant must be paper or owt/);
  r = await cliHere('train', 'alexnet', '--data', DATA, '--dropout', '1');
  t.equal(r.code, 2);
  t.match(r.stderr, /--dropout must be in \[0, 1\)/);
  r = await cliHere('predict', 'some.jpg');
  t.equal(r.code, 2);
  t.match(r.stderr, /--model FILE is required/);
  r = await cliHere('predict', '--model', join(dir, 'missing.safetensors'), 'some.jpg');
  t.equal(r.code, 1, 'a missing checkpoint is a failure, not a usage error');
  t.match(r.stderr, /missing\.safetensors/, 'names the file');
});

t.test(
  'train alexnet, predict top-5 with class names, resume',
  { skip: !existsSync(join(DATA, 'classes.tsv')) && `no ${DATA}` },
  async (t) => {
    const ckpt = join(dir, 'owt.safetensors');
    const common = [
      '--data',
      DATA,
      '--variant',
      'owt',
      '--limit',
      '4',
      '--batch',
      '2',
      '--fc-width',
      '16',
      '--seed',
      '3',
      '--workers',
      '0',
    ];
    const r = cli('train', 'alexnet', ...common, '--epochs', '2', '--save', ckpt, '--json');
    t.equal(r.code, 0, r.stderr);
    const start = r.lines.find((l) => l.type === 'start')!;
    t.match(start, { model: 'alexnet-owt', variant: 'owt', trainImages: 4, classes: 1000, batchSize: 2 });
    t.equal(r.lines.filter((l) => l.type === 'batch').length, 4, 'two batches per epoch');
    const epochs = r.lines.filter((l) => l.type === 'epoch');
    t.same(
      epochs.map((l) => l.epoch),
      [0, 1],
    );
    t.ok(
      epochs.every((l) => Number.isFinite(l.loss) && (l.imagesPerSec as number) > 0),
      'losses and rates',
    );
    t.match(r.lines.at(-1), { type: 'done', epochs: 2, saved: ckpt });

    const saved = await loadCheckpoint(ckpt);
    t.match(saved.meta.model, { model: 'alexnet', variant: 'owt', numClasses: 1000, fcWidth: 16 });
    const classes = saved.meta.classes as string[];
    t.equal(classes.length, 1000, 'the class names travel in the checkpoint');
    t.equal(classes[1], 'goldfish');
    t.match(saved.meta.input, { crop: 224 });
    t.same(saved.position, { epoch: 2, batch: 0, step: 4, seed: 3 });
    t.same(saved.meta.schedule, { baseLr: 0.01, lrStep: 1 }, 'the schedule, so that a resumed run continues it');
    t.ok(Math.abs((saved.meta.optimizer as { lr: number }).lr - 0.001) < 1e-12, 'the rate of the last epoch');

    const files = [join(DATA, 'n01440764_tench.JPEG'), join(DATA, 'n01443537_goldfish.JPEG')];
    const p = cli('predict', '--model', ckpt, ...files);
    t.equal(p.code, 0, p.stderr);
    t.equal(p.lines.length, 2, 'one line per image');
    for (const [i, line] of p.lines.entries()) {
      t.equal(line.file, files[i]);
      t.equal(line.crops, 1);
      const top = line.top as Array<{ index: number; name: string; probability: number }>;
      t.equal(top.length, 5, 'top 5');
      t.ok(
        top.every((e, k) => k === 0 || e.probability <= top[k - 1].probability),
        'in decreasing probability',
      );
      t.ok(
        top.every((e) => e.name === classes[e.index] && e.probability > 0 && e.probability < 1),
        'named from the checkpoint',
      );
    }
    const ten = cli('predict', '--model', ckpt, '--ten-crop', '--top', '3', files[0]);
    t.equal(ten.code, 0, ten.stderr);
    t.match(ten.lines[0], { crops: 10 });
    t.equal((ten.lines[0].top as unknown[]).length, 3);

    // evaluate on the image folder: the centre crop through the loader, and ten crops per image.
    const ev = cli('evaluate', '--model', ckpt, '--data', DATA, '--limit', '4', '--workers', '0');
    t.equal(ev.code, 0, ev.stderr);
    t.match(ev.lines[0], { type: 'evaluate', count: 4, tenCrop: false });
    const acc = ev.lines[0].accuracy as number;
    const top5 = ev.lines[0].top5 as number;
    t.ok(acc >= 0 && acc <= top5 && top5 <= 1 && Number.isFinite(ev.lines[0].loss), 'top-1 <= top-5, a finite loss');
    const ev10 = cli('evaluate', '--model', ckpt, '--data', DATA, '--limit', '4', '--ten-crop', '--batch', '3');
    t.equal(ev10.code, 0, ev10.stderr);
    t.match(ev10.lines[0], { type: 'evaluate', count: 4, tenCrop: true });
    t.not(ev10.lines[0].loss, ev.lines[0].loss, 'ten crops give another loss than the centre crop');
    // The same ten-crop average as predict --ten-crop, image by image: the loss is the mean -log p(label).
    const jpegs = readdirSync(DATA)
      .filter((f) => f.endsWith('.JPEG'))
      .sort()
      .slice(0, 4); // classes.tsv's first four rows, labels 0..3
    const four = cli('predict', '--model', ckpt, '--ten-crop', '--top', '1000', ...jpegs.map((f) => join(DATA, f)));
    t.equal(four.code, 0, four.stderr);
    const nll = four.lines.map(
      (l, label) => -Math.log((l.top as Array<{ index: number; probability: number }>).find((e) => e.index === label)!.probability),
    );
    const mean = nll.reduce((a, b) => a + b, 0) / nll.length;
    t.ok(
      Math.abs(mean - (ev10.lines[0].loss as number)) < 1e-4,
      `evaluate --ten-crop loss ${ev10.lines[0].loss as number} = mean -log p(label) from predict --ten-crop ${mean}`,
    );

    const res = cli('train', 'alexnet', ...common, '--epochs', '3', '--resume', ckpt, '--save', ckpt);
    t.equal(res.code, 0, res.stderr);
    t.match(res.lines[0], { type: 'resume', epoch: 2, step: 4 });
    t.same(
      res.lines.filter((l) => l.type === 'epoch').map((l) => l.epoch),
      [2],
      'only the remaining epoch runs',
    );
    const lr = res.lines.find((l) => l.type === 'epoch')!.lr as number;
    t.ok(Math.abs(lr - 1e-4) < 1e-12, `epoch 3 runs at 0.01 / 10^2 (got ${lr})`);
    const after = await loadCheckpoint(ckpt);
    t.same(after.position, { epoch: 3, batch: 0, step: 6, seed: 3 });
  },
);
