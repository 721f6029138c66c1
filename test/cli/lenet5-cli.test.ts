// `convkit train lenet5` end to end on a small slice of MNIST, then what the README does next:
// evaluate and predict on the checkpoint it saved by default, predict on PNG digits (white on
// black as MNIST, and inverted), and plot the curves from --log.
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { InMemoryDataset, loadMnist, restoreModel } from '../../lib/index.js';
import { MNIST, cli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-lenet5-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const have = existsSync(join(MNIST, 'README.md')) || existsSync(MNIST);
if (!have) t.fail(`no MNIST at ${MNIST}`);

t.test('train lenet5: validation split, test once at the end, default save, --log', async (t) => {
  const r = cli(
    [
      'train',
      'lenet5',
      '--data',
      MNIST,
      '--limit',
      '640',
      '--val-split',
      '200',
      '--epochs',
      '2',
      '--log',
      'run.jsonl',
      '--log-every',
      '3',
      '--prefetch',
      '0',
    ],
    { cwd: dir },
  );
  t.equal(r.code, 0, r.stderr);
  const start = r.lines.find((l) => l.type === 'start')!;
  t.match(start, {
    model: 'lenet5',
    variant: 'modern',
    device: 'cpu',
    trainImages: 640,
    valImages: 200,
    testImages: 10000,
    batchSize: 64,
    weightDecay: 0.0005,
  });
  t.same(start.schedule, { kind: 'piecewise', baseLr: 0.05, milestones: [1, 2], factor: 5 });
  const batches = r.lines.filter((l) => l.type === 'batch');
  t.same(
    batches.map((l) => l.batch),
    [2, 5, 8, 9, 2, 5, 8, 9],
    'one batch line in 3, and the last of each epoch',
  );
  t.ok(
    batches.every(
      (l) => (l.meanLoss as number) > 0 && (l.meanAccuracy as number) >= 0 && (l.seen as number) === ((l.batch as number) + 1) * 64,
    ),
    'running means over the epoch',
  );
  const epochs = r.lines.filter((l) => l.type === 'epoch');
  t.same(
    epochs.map((l) => l.epoch),
    [0, 1],
  );
  t.ok(
    epochs.every((l) => typeof l.valAccuracy === 'number' && typeof l.valLoss === 'number'),
    'validated every epoch',
  );
  t.same(
    epochs.map((l) => l.lr),
    [0.05, 0.01],
    'divided by 5 after the milestone',
  );
  const tests = r.lines.filter((l) => l.type === 'test');
  t.equal(tests.length, 1, 'the test set is evaluated once');
  t.match(tests[0], { count: 10000 });
  const done = r.lines.at(-1)!;
  t.match(done, { type: 'done', saved: 'lenet5.safetensors', testAccuracy: tests[0].accuracy });
  t.ok(
    existsSync(join(dir, 'lenet5.safetensors')) && existsSync(join(dir, 'lenet5.optim.safetensors')),
    'saved by default in the working folder',
  );
  const logged = readFileSync(join(dir, 'run.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(logged, r.lines, '--log holds the same lines');
  (t.context as Record<string, unknown>).test = tests[0];

  const e = cli(['evaluate', '--model', 'lenet5.safetensors', '--data', MNIST], { cwd: dir });
  t.equal(e.code, 0, e.stderr);
  t.match(e.lines[0], { type: 'evaluate', count: 10000 });
  t.ok(Math.abs((e.lines[0].accuracy as number) - (tests[0].accuracy as number)) < 1e-9, "evaluate agrees with the run's test line");

  const p = cli(['predict', '--model', 'lenet5.safetensors', '--data', MNIST, '--index', '0,1,2'], { cwd: dir });
  t.equal(p.code, 0, p.stderr);
  const mnist = await loadMnist(MNIST, { split: 'test' });
  t.same(
    p.lines.map((l) => l.label),
    [mnist.labels[0], mnist.labels[1], mnist.labels[2]],
  );

  const none = cli(
    [
      'train',
      'lenet5',
      '--data',
      MNIST,
      '--limit',
      '64',
      '--val-split',
      '0',
      '--epochs',
      '1',
      '--no-save',
      '--save',
      'x.safetensors',
      '--prefetch',
      '0',
    ],
    { cwd: dir },
  );
  t.equal(none.code, 0, none.stderr);
  t.match(none.lines.at(-1), { type: 'done', saved: null });
  t.notOk(existsSync(join(dir, 'x.safetensors')), '--no-save writes nothing');

  const again = cli(['train', 'lenet5', '--data', MNIST, '--resume', 'lenet5.safetensors', '--epochs', '2'], { cwd: dir });
  t.equal(again.code, 2, 'resuming a finished run without more epochs is a usage error');
  t.match(again.stderr, /has already run 2 epochs/);
});

t.test('the weights file alone evaluates and predicts', async (t) => {
  const alone = join(dir, 'alone');
  mkdirSync(alone, { recursive: true });
  copyFileSync(join(dir, 'lenet5.safetensors'), join(alone, 'lenet5.safetensors'));
  const probe = await restoreModel(join(alone, 'lenet5.safetensors')).then(
    (r) => (r.model.dispose(), null),
    (e: Error) => e,
  );
  if (probe && /optimizer\/position file/.test(probe.message)) {
    const why = `restoreModel still needs the .optim twin (${probe.message}); this check runs once the weights-only restoreModel of issue 13 is merged`;
    await t.test(why, { skip: why }, async () => {});
    return;
  }
  t.equal(probe, null, 'restoreModel reads the weights file alone');
  const e = cli(['evaluate', '--model', join(alone, 'lenet5.safetensors'), '--data', MNIST]);
  t.equal(e.code, 0, e.stderr);
  t.match(e.lines[0], { type: 'evaluate', count: 10000 });
});

t.test('predict on PNG and JPEG digits, as MNIST (white on black) and inverted (ink on paper)', async (t) => {
  const mnist = InMemoryDataset.fromMnist(await loadMnist(MNIST, { split: 'test' }));
  const files: string[] = [];
  for (const i of [0, 1, 2]) {
    const px = Buffer.from(mnist.image(i));
    const raw = { raw: { width: 28, height: 28, channels: 1 as const } };
    const white = join(dir, `digit${i}.png`);
    const ink = join(dir, `digit${i}-ink.png`);
    await sharp(px, raw).png().toFile(white);
    await sharp(Buffer.from(px.map((v) => 255 - v)), raw)
      .png()
      .toFile(ink);
    files.push(white, ink);
  }
  const jpeg = join(dir, 'digit0-big.jpg');
  await sharp(Buffer.from(mnist.image(0)), { raw: { width: 28, height: 28, channels: 1 } })
    .resize(112, 112)
    .jpeg({ quality: 95 })
    .toFile(jpeg);
  const byIndex = cli(['predict', '--model', 'lenet5.safetensors', '--data', MNIST, '--index', '0,1,2'], { cwd: dir });
  const r = cli(['predict', '--model', 'lenet5.safetensors', ...files, jpeg], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.lines.length, 7, 'one line per image');
  for (const [k, line] of r.lines.slice(0, 6).entries()) {
    const ref = byIndex.lines[Math.floor(k / 2)];
    t.equal(line.inverted, k % 2 === 1, `${line.file as string}: inverted only when mostly light`);
    t.equal(line.predicted, ref.predicted, `${line.file as string}: the same class as the MNIST image itself`);
    const worst = Math.max(...(line.probabilities as number[]).map((p, j) => Math.abs(p - (ref.probabilities as number[])[j])));
    t.ok(worst < 1e-5, `${line.file as string}: the same probabilities (worst ${worst})`);
  }
  t.match(r.lines[6], { file: jpeg, inverted: false });
  t.equal((r.lines[6].probabilities as number[]).length, 10);
  const forced = cli(['predict', '--model', 'lenet5.safetensors', '--invert', 'no', files[1]], { cwd: dir });
  t.match(forced.lines[0], { inverted: false }, '--invert no leaves it as it is');
  const bad = join(dir, 'not-an-image.png');
  writeFileSync(bad, 'hello');
  const b = cli(['predict', '--model', 'lenet5.safetensors', bad], { cwd: dir });
  t.equal(b.code, 1);
  t.match(b.stderr, /ND_FORMAT: cannot read digit image '.*not-an-image\.png'/);
});

t.test('the classic form: digit images padded into its 32x32 field, as MNIST is', async (t) => {
  const tr = cli(
    [
      'train',
      'lenet5',
      '--variant',
      'classic',
      '--data',
      MNIST,
      '--limit',
      '64',
      '--val-split',
      '0',
      '--epochs',
      '1',
      '--prefetch',
      '0',
      '--device',
      'cpu:1',
    ],
    { cwd: dir },
  );
  t.equal(tr.code, 0, tr.stderr);
  t.match(tr.lines.at(-1), { type: 'done', saved: 'lenet5-classic.safetensors' }, 'the classic default path');
  t.match(tr.lines[0], { device: 'cpu:1', variant: 'classic', batchSize: 16, lr: 0.001 });
  const ref = cli(['predict', '--model', 'lenet5-classic.safetensors', '--data', MNIST, '--index', '1'], { cwd: dir });
  const img = cli(['predict', '--model', 'lenet5-classic.safetensors', '--device', 'cpu:1', join(dir, 'digit1-ink.png')], { cwd: dir });
  t.equal(img.code, 0, img.stderr);
  const worst = Math.max(
    ...(img.lines[0].probabilities as number[]).map((p, j) => Math.abs(p - (ref.lines[0].probabilities as number[])[j])),
  );
  t.ok(worst < 1e-5, `the inverted PNG gives the MNIST image's probabilities (worst ${worst})`);
  const e = cli(['evaluate', '--model', 'lenet5-classic.safetensors', '--data', MNIST, '--limit', '1000', '--device', 'cpu:1'], {
    cwd: dir,
  });
  t.equal(e.code, 0, e.stderr);
  t.match(e.lines[0], { type: 'evaluate', count: 1000 });
});

t.test('plot the logged run to SVG, PNG and HTML', async (t) => {
  const svg = cli(['plot', 'run.jsonl', '-o', 'curves.svg'], { cwd: dir });
  t.equal(svg.code, 0, svg.stderr);
  t.match(svg.lines[0], { type: 'plot', out: 'curves.svg', epochs: 2 });
  const text = readFileSync(join(dir, 'curves.svg'), 'utf8');
  t.match(text, /^<svg /);
  for (const s of ['loss', 'accuracy', 'learning rate', 'train', 'validation', 'test', 'lenet5 (modern)'])
    t.ok(text.includes(`>${s}<`), `the SVG shows "${s}"`);
  const png = cli(['plot', 'run.jsonl', '-o', 'curves.png'], { cwd: dir });
  t.equal(png.code, 0, png.stderr);
  const meta = await sharp(join(dir, 'curves.png')).metadata();
  t.equal(meta.format, 'png');
  t.ok(meta.width! > 600 && meta.height! > 600, `a picture of ${meta.width}x${meta.height}`);
  const html = cli(['plot', 'run.jsonl', '-o', 'curves.html', '--title', 'a <small> run'], { cwd: dir });
  t.equal(html.code, 0, html.stderr);
  const page = readFileSync(join(dir, 'curves.html'), 'utf8');
  t.match(page, /<svg /, 'the picture inline: no script or network needed');
  const spec = JSON.parse(/<script type="application\/json" id="vega-lite-spec">([\s\S]*?)<\/script>/.exec(page)![1]) as {
    vconcat: unknown[];
    title: string;
  };
  t.equal(spec.vconcat.length, 3, 'loss, accuracy and learning rate panels');
  t.equal(spec.title, 'a <small> run');
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"type":"epoch","epoch":0,"loss":1}\nnot json\n');
  const b = cli(['plot', bad]);
  t.equal(b.code, 1);
  t.match(b.stderr, /ND_FORMAT: .*bad\.jsonl:2: not a JSON line/);
  writeFileSync(bad, '{"type":"start"}\n');
  t.match(cli(['plot', bad]).stderr, /no epoch lines to plot/);
});
