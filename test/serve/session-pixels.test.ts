// runPixels: a decoded image's pixels (imageToPixels), normalised into the batch as it is
// assembled, must answer exactly as the float sample would (imageToSample + run); the batch
// is assembled in one staging buffer reused from batch to batch, so padding rows must be
// cleared of an earlier batch's rows, and batches issued back to back must not see each
// other's inputs.
import { readFileSync, readdirSync } from 'node:fs';
import t from 'tap';
import { alexnet, lenet5 } from '../../lib/models/index.js';
import { BatchRunner } from '../../lib/serve/batch-runner.js';
import { InferenceSession, imageToPixels, imageToSample, pixelLength, writePixels } from '../../lib/serve/index.js';

const imagesDir = new URL('../../../shared/data/imagenet-samples/', import.meta.url);
const photos = readdirSync(imagesDir)
  .filter((f) => f.endsWith('.JPEG'))
  .slice(0, 5)
  .map((f) => readFileSync(new URL(f, imagesDir)));

t.test('writePixels(imageToPixels) is imageToSample, for AlexNet and LeNet-5 inputs', async (t) => {
  for (const shape of [
    [3, 227, 227],
    [1, 28, 28],
  ]) {
    const px = await imageToPixels(photos[0]!, shape);
    t.equal(px.length, pixelLength(shape), `[${shape}]: pixelLength bytes`);
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1) + 7).fill(NaN);
    writePixels(px, shape, out, 7);
    const ref = await imageToSample(photos[0]!, shape);
    t.ok(
      ref.every((v, i) => Object.is(v, out[7 + i])),
      `[${shape}]: the very same values at the offset`,
    );
    t.ok(
      out.subarray(0, 7).every((v) => Number.isNaN(v)),
      'nothing written before the offset',
    );
  }
  t.throws(() => pixelLength([2, 5, 5]), { code: 'ND_ARG' });
  t.throws(() => writePixels(new Uint8Array(10), [1, 28, 28], new Float32Array(784), 0), {
    code: 'ND_SHAPE',
    message: /784 pixel bytes, got 10/,
  });
  t.throws(() => writePixels(new Uint8Array(784), [1, 28, 28], new Float32Array(784), 1), { code: 'ND_ARG', message: /does not fit/ });
});

t.test('runPixels answers as run(imageToSample) does, bit for bit, mixed with float requests', async (t) => {
  const model = alexnet({ seed: 3, fcWidth: 64, numClasses: 10, dropout: 0 });
  // batchInvariant: every batch takes the same kernel path, so a row is the same however batched.
  const s = await InferenceSession.create(model, { maxBatchSize: 8, batchInvariant: true });
  const shape = model.inputShape;
  const pixels = await Promise.all(photos.map((p) => imageToPixels(p, shape)));
  const samples = await Promise.all(photos.map((p) => imageToSample(p, shape)));
  // One turn: pixels and floats coalesce into one batch.
  const mixed = await Promise.all([...pixels.map((px) => s.runPixels(px)), ...samples.map((x) => s.run(x))]);
  for (let i = 0; i < photos.length; i++) {
    const alone = await s.run(samples[i]!);
    t.same(Array.from(mixed[i]!), Array.from(alone), `image ${i}: runPixels row equals the float sample's row`);
    t.same(Array.from(mixed[photos.length + i]!), Array.from(alone), `image ${i}: and the float request in the same batch`);
  }
  t.ok(
    Object.keys(s.stats().batchSizes).some((k) => Number(k) >= photos.length),
    `pixels and floats shared a batch (${JSON.stringify(s.stats().batchSizes)})`,
  );
  await t.rejects(s.runPixels(new Uint8Array(100)), { code: 'ND_SHAPE', message: /196608 pixel bytes, got 100/ });
  await t.rejects(s.runPixels(new Float32Array(196608) as unknown as Uint8Array), { code: 'ND_ARG' });
  const decoded = await s.runImage(photos[1]!);
  t.same(Array.from(decoded), Array.from(await s.run(samples[1]!)), 'runImage (decoding to pixels) gives the same row');
  await s.close();
  await t.rejects(s.runPixels(pixels[0]!), { code: 'ND_CLOSED' });
  model.dispose();
});

t.test('the reused staging buffer: padding rows are zero after a larger batch, inputs land in their rows', async (t) => {
  const model = lenet5({ seed: 1 });
  const runner = new BatchRunner(model, model.device, [2, 4, 8]);
  const per = runner.sampleSize;
  const rows = (n: number, k: number) =>
    Array.from({ length: n }, (_, i) => Float32Array.from({ length: per }, (_, j) => 1 + i + k + j / per));
  const big = runner.assemble(rows(7, 0), 8);
  big.dispose();
  const px = new Uint8Array(per).map((_, i) => i % 256);
  const inputs = [...rows(2, 10), px];
  const small = runner.assemble(inputs, 4);
  const v = (await small.data()) as Float32Array;
  small.dispose();
  t.same(small.shape, [4, 1, 28, 28], 'assembled at the prepared size');
  t.ok(
    v.subarray(0, 2 * per).every((x, i) => x === inputs[i < per ? 0 : 1]![i % per]),
    'float rows copied as they are',
  );
  const ink = new Float32Array(per);
  writePixels(px, model.inputShape, ink, 0);
  t.ok(
    v.subarray(2 * per, 3 * per).every((x, i) => x === ink[i]),
    'the pixel row normalised (1 - grey / 255)',
  );
  t.ok(
    v.subarray(3 * per).every((x) => x === 0),
    'the padding row is zero, not the earlier batch of 7',
  );
  runner.dispose();
  model.dispose();
});

t.test('batches issued back to back each see their own inputs (staging is copied before the next)', async (t) => {
  const model = lenet5({ seed: 2 });
  const runner = new BatchRunner(model, model.device, [8]);
  const per = runner.sampleSize;
  const batch = (k: number) =>
    Array.from({ length: 5 }, (_, i) => Float32Array.from({ length: per }, (_, j) => Math.sin(k * 7 + i * 3 + j)));
  const a = batch(1);
  const b = batch(2);
  // Not awaited in between: b is assembled while a is still queued on the stream.
  const [ra, rb] = await Promise.all([runner.run(a), runner.run(b)]);
  const [sa, sb] = [await runner.run(a), await runner.run(b)];
  t.same(
    ra.map((r) => Array.from(r)),
    sa.map((r) => Array.from(r)),
    'first batch: same rows as run alone',
  );
  t.same(
    rb.map((r) => Array.from(r)),
    sb.map((r) => Array.from(r)),
    'second batch: same rows as run alone',
  );
  t.notSame(Array.from(ra[0]!), Array.from(rb[0]!), 'and the two batches differ (the check can fail)');
  runner.dispose();
  model.dispose();
});
