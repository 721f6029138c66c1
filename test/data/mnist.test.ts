import t from 'tap';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { loadMnist, InMemoryDataset } from '../../lib/data/index.js';

// shared/ sits beside the repository: <repo>/../shared/data.
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const mnistDir = resolve(repo, '..', 'shared', 'data', 'mnist');
const fashionDir = resolve(repo, '..', 'shared', 'data', 'fashion-mnist');

// From shared/data/README.md.
const TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function histogram(labels: Uint8Array): number[] {
  const h = new Array<number>(10).fill(0);
  for (const l of labels) h[l]!++;
  return h;
}

function idx(dims: number[], payload: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, payload]);
}

t.test('the real MNIST files', { skip: existsSync(mnistDir) ? false : `no ${mnistDir}` }, async (t) => {
  const [train, test] = await Promise.all([loadMnist(mnistDir, { split: 'train' }), loadMnist(mnistDir, { split: 'test' })]);
  t.equal(train.count, 60000);
  t.equal(test.count, 10000);
  for (const s of [train, test]) {
    t.equal(s.rows, 28);
    t.equal(s.cols, 28);
    t.equal(s.images.length, s.count * 28 * 28);
    t.equal(s.labels.length, s.count);
  }
  t.same(histogram(train.labels), TRAIN_HISTOGRAM, 'train label histogram');
  t.same(histogram(test.labels), TEST_HISTOGRAM, 'test label histogram');
  t.equal(train.labels[0], 5, 'the first training digit is a 5');
  t.equal(test.labels[0], 7, 'the first test digit is a 7');
  // Pixels are bytes with real ink: the first image has both background and full-ink pixels.
  const first = train.images.subarray(0, 784);
  t.equal(Math.min(...first), 0);
  t.equal(Math.max(...first), 255);
  // Row 0 of every image is background in MNIST's centred 20x20 boxes.
  t.ok(train.images.subarray(0, 28).every((v) => v === 0));

  const ds = InMemoryDataset.fromMnist(test);
  t.same(ds.sampleShape, [1, 28, 28]);
  t.equal(ds.count, 10000);
  t.equal(ds.labels[0], 7);
  t.same(Array.from(ds.image(3)), Array.from(test.images.subarray(3 * 784, 4 * 784)));
  t.ok(ds.images.buffer instanceof SharedArrayBuffer, 'images live in shared memory for the workers');
});

t.test('Fashion-MNIST uses the same reader', { skip: existsSync(fashionDir) ? false : `no ${fashionDir}` }, async (t) => {
  const test = await loadMnist(fashionDir, { split: 'test' });
  t.equal(test.count, 10000);
  t.same(histogram(test.labels), new Array(10).fill(1000), '1000 per class');
});

t.test('image and label counts must agree; both files are named', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 2, 2], new Uint8Array(12))));
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), idx([4], Uint8Array.from([1, 2, 3, 4])));
  const err = (await loadMnist(dir, { split: 'train' }).catch((e: Error) => e)) as Error & { code: string };
  t.equal(err.code, 'ND_FORMAT');
  t.match(err.message, /train-images-idx3-ubyte\.gz holds 3 images \(count at byte 4\)/);
  t.match(err.message, /train-labels-idx1-ubyte holds 4 labels/);
});

t.test('raw (uncompressed) files are found too, and labels must be class indices', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), idx([2, 1, 3], Uint8Array.from([0, 1, 2, 3, 4, 5])));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx([2], Uint8Array.from([9, 0])));
  const m = await loadMnist(dir, { split: 'test' });
  t.same([m.count, m.rows, m.cols], [2, 1, 3]);
  t.same(Array.from(m.labels), [9, 0]);
  await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx([2], Uint8Array.from([3, 10])));
  await t.rejects(loadMnist(dir, { split: 'test' }), { code: 'ND_FORMAT', message: /label 10 at byte 9 \(sample 1\)/ });
});

t.test('a wrong split or missing files are argument errors', async (t) => {
  const dir = t.testdir();
  await t.rejects(loadMnist(dir, { split: 'train' }), {
    code: 'ND_ARG',
    message: /neither train-images-idx3-ubyte\.gz nor train-images-idx3-ubyte exists/,
  });
  await t.rejects(loadMnist(dir, { split: 'val' as 'train' }), { code: 'ND_ARG', message: /'split' must be 'train' or 'test'/ });
});

t.test('InMemoryDataset checks its sizes', async (t) => {
  t.throws(() => new InMemoryDataset({ images: new Uint8Array(11), labels: [0, 1], count: 2, channels: 1, height: 2, width: 3 }), {
    code: 'ND_SHAPE',
    message: /11 bytes but shape \[2, 1, 2, 3\] needs 12/,
  });
  t.throws(() => new InMemoryDataset({ images: new Uint8Array(12), labels: [0], count: 2, channels: 1, height: 2, width: 3 }), {
    code: 'ND_SHAPE',
  });
  t.throws(() => new InMemoryDataset({ images: new Uint8Array(12), labels: [0, -1], count: 2, channels: 1, height: 2, width: 3 }), {
    code: 'ND_ARG',
  });
  t.throws(() => new InMemoryDataset({ images: new Uint8Array(12), labels: [0, 1], count: 2, channels: 0, height: 2, width: 3 }), {
    code: 'ND_ARG',
  });
});

t.test('images of 0 pixels are a format error naming the header field', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([5, 0, 28], new Uint8Array(0))));
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), idx([5], Uint8Array.from([1, 2, 3, 4, 5])));
  await t.rejects(loadMnist(dir, { split: 'train' }), {
    code: 'ND_FORMAT',
    message: /train-images-idx3-ubyte\.gz: images of 0 x 28 pixels \(rows at byte 8, columns at byte 12 of the decompressed stream\)/,
  });
});
