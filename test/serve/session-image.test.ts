// runImage: an encoded image through imageToSample gives the input the image pipeline gives
// (loadImageForPredict), so a served JPEG is answered as `convkit predict` would. Also the
// measured choice of prepared batch sizes (calibrate).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadImageForPredict } from '../../lib/data/images/index.js';
import { alexnet, lenet5 } from '../../lib/models/index.js';
import { InferenceSession, imageToSample } from '../../lib/serve/index.js';

const photo = new URL('../../../shared/data/imagenet-samples/n01443537_goldfish.JPEG', import.meta.url).pathname;

t.test('imageToSample matches loadImageForPredict for AlexNet, from bytes and from a path', async (t) => {
  const ref = await loadImageForPredict(photo);
  const fromBytes = await imageToSample(readFileSync(photo), [3, 227, 227]);
  const fromPath = await imageToSample(photo, [3, 227, 227]);
  t.same(ref.shape, [1, 3, 227, 227]);
  t.ok(fromBytes.length === ref.x.length && fromBytes.every((v, i) => v === ref.x[i]), 'bytes: the very same input values');
  t.ok(
    fromPath.every((v, i) => v === ref.x[i]),
    'path: the same',
  );
});

t.test('LeNet-5 reads an image as grey ink in [0, 1]', async (t) => {
  const x = await imageToSample(readFileSync(photo), [1, 28, 28]);
  t.equal(x.length, 784);
  t.ok(
    x.every((v) => v >= 0 && v <= 1),
    'values in [0, 1]',
  );
  t.ok(new Set(x).size > 10, 'not a constant image');
});

t.test('runImage answers with the row of the decoded sample; bad images are ND_FORMAT', async (t) => {
  const model = alexnet({ seed: 2, fcWidth: 64, numClasses: 10, dropout: 0 });
  const s = await InferenceSession.create(model, { maxBatchSize: 2 });
  const a = await s.runImage(readFileSync(photo));
  const b = await s.run((await loadImageForPredict(photo)).x);
  t.same(Array.from(a), Array.from(b), 'runImage equals run on the pipeline input');
  await t.rejects(s.runImage(new Uint8Array([1, 2, 3, 4])), { code: 'ND_FORMAT', message: /of 4 bytes/ });
  await t.rejects(s.runImage('/nonexistent.jpg'), { code: 'ND_FORMAT', message: /nonexistent/ });
  await t.rejects(imageToSample(readFileSync(photo), [2, 5, 5]), { code: 'ND_ARG' });
  await s.close();
  model.dispose();
});

t.test('calibrate times each prepared size and keeps the largest plus those that pay off', async (t) => {
  const model = lenet5({ seed: 1 });
  const s = await InferenceSession.create(model, { maxBatchSize: 8, calibrate: true });
  const c = s.calibration!;
  t.same(Object.keys(c.msBySize).map(Number), [1, 2, 4, 8], 'every candidate was timed');
  t.ok(
    Object.values(c.msBySize).every((ms) => ms > 0),
    'with positive times',
  );
  t.equal(c.kept[c.kept.length - 1], 8, 'maxBatchSize is always kept');
  t.same(s.preparedBatchSizes, c.kept, 'the session runs at the kept sizes');
  t.comment(`calibration (contended machine): ${JSON.stringify(c)}`);
  const rows = await Promise.all(Array.from({ length: 3 }, (_, i) => s.run(Float32Array.from({ length: 784 }, (_, j) => Math.sin(i + j)))));
  t.equal(rows.length, 3, 'and serves');
  await s.close();
  model.dispose();
});
