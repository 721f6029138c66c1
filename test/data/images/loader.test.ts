import t from 'tap';
import sharp from 'sharp';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import {
  decodeImage,
  imageFolderLoader,
  loadImageForPredict,
  placement,
  tenCropPlacements,
  transformSpec,
  writeInput,
  type ImageBatch,
  type ImageFolderLoader,
  type ImageLoaderOptions,
} from '../../../lib/data/images/index.js';

const here = dirname(fileURLToPath(import.meta.url));
// shared/ sits beside the repository: <repo>/../shared/data.
const DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const SAMPLES = join(DATA, 'imagenet-samples');
const PHOTOS = join(DATA, 'sample-photos');
const CLASSES = join(SAMPLES, 'classes.tsv');

async function collect(l: ImageFolderLoader, epoch: number, startBatch?: number): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of l.epoch(epoch, { startBatch })) out.push(b);
  return out;
}

async function withLoader<T>(path: string, opts: ImageLoaderOptions, fn: (l: ImageFolderLoader) => Promise<T>): Promise<T> {
  const l = await imageFolderLoader(path, opts);
  try {
    return await fn(l);
  } finally {
    await l.close();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const sameBatches = (a: ImageBatch[], b: ImageBatch[]): boolean =>
  a.length === b.length && a.every((x, i) => maxDiff(x.x, b[i]!.x) === 0 && maxDiff(x.labels, b[i]!.labels) === 0);

/** A list of imagenet-samples rows (absolute paths) that includes the grayscale photo and the apostrophe in a name. */
function sampleList(dir: string, rows: number[]): string {
  const lines = readFileSync(CLASSES, 'utf8').trim().split('\n').slice(1);
  const file = join(dir, 'some.tsv');
  writeFileSync(
    file,
    rows
      .map((r) => {
        const [i, , f] = lines[r]!.split('\t');
        return `${join(SAMPLES, f!)}\t${i}`;
      })
      .join('\n') + '\n',
  );
  return file;
}

t.test('imagenet-samples through classes.tsv: shapes, labels, classes, the centre crop at test time', async (t) => {
  await withLoader(CLASSES, { batchSize: 5, limit: 12, crop: 224, workers: 1 }, async (l) => {
    t.equal(l.count, 12);
    t.equal(l.batchesPerEpoch, 3);
    t.equal(l.classes.length, 1000);
    t.equal(l.classes[1], 'goldfish');
    t.equal(l.train, false);
    t.equal(l.shuffle, false, 'shuffle defaults to train');
    const e0 = await collect(l, 0);
    t.same(
      e0.map((b) => b.shape),
      [
        [5, 3, 224, 224],
        [5, 3, 224, 224],
        [2, 3, 224, 224],
      ],
    );
    t.same(
      e0.flatMap((b) => Array.from(b.labels)),
      Array.from({ length: 12 }, (_, i) => i),
      'the first 12 rows in list order, label = index',
    );
    t.ok(
      e0.every((b) => b.threadId !== threadId && b.threadId > 0),
      `prepared on worker threads ${[...new Set(e0.map((b) => b.threadId))].join(', ')}, not ${threadId}`,
    );
    // The centre 224 crop of the decoded image minus ImageNet's means, as loadImageForPredict gives it.
    const one = await loadImageForPredict(l.paths[6]!, { crop: 224 });
    t.same(one.shape, [1, 3, 224, 224]);
    t.equal(
      maxDiff(e0[1]!.x.subarray(224 * 224 * 3, 2 * 224 * 224 * 3), one.x),
      0,
      'test-time batches hold the same centre crops as loadImageForPredict',
    );
    t.equal(maxDiff((await collect(l, 5))[1]!.x, e0[1]!.x), 0, 'no randomness at test time: every epoch is the same');
  });
});

t.test('training batches: seeded, different per epoch, resumable, the same on workers and on the calling thread', async (t) => {
  const dir = t.testdir({});
  const list = sampleList(dir, [191, 607, 0, 1, 2, 3, 4, 5, 6, 7]); // Airedale (grayscale), jack-o'-lantern, ...
  const opts: ImageLoaderOptions = { batchSize: 4, train: true, seed: 42, workers: 2, prefetch: 2 };
  await withLoader(list, opts, async (a) => {
    t.same(a.classes[191], '191', 'a list without names names classes by label');
    t.equal(a.shuffle, true);
    const e0 = await collect(a, 0);
    const e1 = await collect(a, 1);
    t.same(
      e0.map((b) => b.batchSize),
      [4, 4, 2],
    );
    t.same(
      [...e0.flatMap((b) => Array.from(b.ids))].sort((x, y) => x - y),
      Array.from({ length: 10 }, (_, i) => i),
      'every image once per epoch',
    );
    t.same(
      e0.flatMap((b) => Array.from(b.ids)),
      Array.from(a.order(0)),
      'batches follow order(epoch)',
    );
    t.same(
      e0.flatMap((b) => Array.from(b.labels)),
      e0.flatMap((b) => Array.from(b.ids, (i) => a.labels[i]!)),
    );
    t.notSame(Array.from(a.order(0)), Array.from(a.order(1)), 'epochs shuffle differently');
    // The same image in two epochs gets a different crop/flip/lighting.
    const find = (bs: ImageBatch[], id: number): Float32Array => {
      for (const b of bs) {
        const k = Array.from(b.ids).indexOf(id);
        if (k >= 0) return b.x.subarray(k * 3 * 227 * 227, (k + 1) * 3 * 227 * 227);
      }
      throw new Error(`image ${id} not found`);
    };
    t.ok(maxDiff(find(e0, 0), find(e1, 0)) > 1, 'another epoch, another augmentation of the same image');
    const again = await withLoader(list, { ...opts, workers: 0 }, (b) => collect(b, 1));
    t.ok(sameBatches(again, e1), 'a fresh loader with the same seed gives identical batches');
    const here0 = await withLoader(list, { ...opts, workers: 0 }, (b) => collect(b, 0));
    t.ok(
      here0.every((b) => b.threadId === threadId),
      'workers: 0 prepares on the calling thread',
    );
    t.ok(sameBatches(here0, e0), "and the batches are identical to the workers'");
    const other = await withLoader(list, { ...opts, seed: 43, workers: 0 }, (b) => collect(b, 0));
    t.notOk(sameBatches(other, e0), 'another seed, other batches');
    const tail = await collect(a, 1, 1);
    t.same(
      tail.map((b) => b.index),
      [1, 2],
    );
    t.ok(sameBatches(tail, e1.slice(1)), 'startBatch resumes with exactly the rest of the epoch');
    t.same(await collect(a, 0, 3), [], 'startBatch = batchesPerEpoch is an empty epoch');
    t.throws(() => a.epoch(0, { startBatch: 4 }), { code: 'ND_ARG' });

    // Each input is the decoded image, cropped, flipped and lit as placement() says.
    const spec = transformSpec('test', {}, true, 42);
    for (const id of [0, 1]) {
      const want = new Float32Array(3 * 227 * 227);
      writeInput(spec, await decodeImage(a.paths[id]!), placement(spec, 1, id), want, 0);
      t.equal(maxDiff(find(e1, id), want), 0, `image ${id} of epoch 1 is placement(seed, 1, ${id}) of its decoded pixels`);
    }
  });
});

t.test('PCA lighting in the loader adds one RGB offset per image', async (t) => {
  const dir = t.testdir({});
  const list = sampleList(dir, [191, 607, 10, 11, 12, 13]);
  const opts: ImageLoaderOptions = { batchSize: 6, train: true, seed: 9, workers: 0, mean: false };
  const [lit] = await withLoader(list, opts, (l) => collect(l, 3));
  const [plain] = await withLoader(list, { ...opts, pca: false }, (l) => collect(l, 3));
  const per = 227 * 227;
  const spec = transformSpec('test', {}, true, 9);
  for (let k = 0; k < 6; k++) {
    const id = lit!.ids[k]!;
    const want = placement(spec, 3, id).lighting;
    for (let c = 0; c < 3; c++) {
      const base = (k * 3 + c) * per;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < per; i++) {
        const d = lit!.x[base + i]! - plain!.x[base + i]!;
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      }
      t.ok(
        hi - lo < 1e-4 && Math.abs(lo - want[c]!) < 1e-4,
        `image ${id} channel ${c}: every pixel moved by ${lo.toFixed(4)} (want ${want[c]!.toFixed(4)})`,
      );
    }
    t.ok(
      Math.hypot(...want) < 40 && Math.hypot(...want) > 0,
      `image ${id}: an offset of ${Math.hypot(...want).toFixed(2)} levels, a small colour shift`,
    );
  }
});

t.test('the decoded-image cache: later epochs skip decoding; the byte cap holds', async (t) => {
  await withLoader(CLASSES, { batchSize: 4, limit: 8, train: true, seed: 1, workers: 1 }, async (l) => {
    await collect(l, 0);
    const first = l.cacheStats();
    t.same(
      [first.images, first.bytes, first.hits, first.misses],
      [8, 8 * 256 * 256 * 3, 0, 8],
      'the first epoch decodes every image and keeps it',
    );
    const t0 = performance.now();
    await collect(l, 1);
    const second = l.cacheStats();
    t.same([second.hits, second.misses], [8, 8], `the second epoch decodes nothing (${(performance.now() - t0).toFixed(0)} ms)`);
  });
  await withLoader(CLASSES, { batchSize: 4, limit: 8, cacheBytes: 3 * 256 * 256 * 3 + 10, workers: 0 }, async (l) => {
    const e0 = await collect(l, 0);
    t.equal(l.cacheStats().images, 3, 'a cap of 3 images keeps 3');
    t.ok(sameBatches(await collect(l, 0), e0), 'partly cached batches are identical');
  });
  await withLoader(CLASSES, { batchSize: 8, limit: 8, cacheBytes: 0, workers: 0 }, async (l) => {
    await collect(l, 0);
    t.equal(l.cacheStats().images, 0, 'cacheBytes: 0 keeps nothing');
  });
});

t.test('a class-per-folder tree with a PNG, a corrupt JPEG and a text file posing as one', async (t) => {
  const dir = t.testdir({ tree: { birds: {}, dogs: {}, things: {} } });
  const root = join(dir, 'tree');
  copyFileSync(join(PHOTOS, 'eagle.jpg'), join(root, 'birds', 'eagle.jpg'));
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(root, 'dogs', 'dog.jpg'));
  await sharp(join(PHOTOS, 'giraffe.jpg'))
    .resize(300, 200)
    .ensureAlpha(0.5)
    .png()
    .toFile(join(root, 'dogs', 'giraffe.png'));
  copyFileSync(join(PHOTOS, 'kite.jpg'), join(root, 'things', 'kite.jpg'));
  copyFileSync(join(PHOTOS, 'person.jpg'), join(root, 'things', "person's.jpg"));
  await withLoader(root, { batchSize: 2, workers: 0 }, async (l) => {
    t.same(l.classes, ['birds', 'dogs', 'things']);
    const bs = await collect(l, 0);
    t.same(
      bs.flatMap((b) => Array.from(b.labels)),
      [0, 1, 1, 2, 2],
    );
    const png = await loadImageForPredict(join(root, 'dogs', 'giraffe.png'));
    t.equal(maxDiff(bs[1]!.x.subarray(0, 3 * 227 * 227), png.x), 0, 'the PNG (with alpha) loads like any photo');
  });

  const full = readFileSync(join(PHOTOS, 'horses.jpg'));
  writeFileSync(join(root, 'things', 'horses.jpg'), full.subarray(0, 20000)); // truncated
  writeFileSync(join(root, 'dogs', 'fake.jpg'), 'I am a dog, honestly.\n');
  // Sorted: birds/eagle, dogs/dog, dogs/fake, dogs/giraffe, things/horses, things/kite, things/person's.
  for (const workers of [0, 1]) {
    await withLoader(root, { batchSize: 2, workers }, async (l) => {
      t.equal(l.count, 7);
      const seen: number[] = [];
      await t.rejects(
        (async () => {
          for await (const b of l.epoch(0)) seen.push(b.index);
        })(),
        {
          code: 'ND_FORMAT',
          message: new RegExp(
            `imageFolderLoader: batch 1 of epoch 0: cannot read image '${join(root, 'dogs', 'fake.jpg')}': .*unsupported image format`,
          ),
        },
        `workers: ${workers}: the text file fails its batch with its name`,
      );
      t.same(seen, [0], 'the batch before it was delivered');
      await t.rejects(
        collect(l, 0, 2),
        { code: 'ND_FORMAT', message: /batch 2 of epoch 0: cannot decode image '.*things\/horses\.jpg'/ },
        'the truncated JPEG fails its batch',
      );
      t.same(
        (await collect(l, 0, 3)).map((b) => b.shape[0]),
        [1],
        'the loader carries on after errors',
      );
    });
  }
});

t.test('loadImageForPredict: one centre crop or ten crops in TenCrop order', async (t) => {
  const path = join(SAMPLES, "n03590841_jack-o'-lantern.JPEG");
  const img = await decodeImage(path);
  const ten = await loadImageForPredict(path, { tenCrop: true, crop: 227, mean: [100, 110, 120], scale: 1 / 64 });
  t.same(ten.shape, [10, 3, 227, 227]);
  const spec = transformSpec('test', { crop: 227, mean: [100, 110, 120], scale: 1 / 64 }, false, 0);
  const per = 3 * 227 * 227;
  tenCropPlacements(227).forEach((p, k) => {
    const want = new Float32Array(per);
    writeInput(spec, img, p, want, 0);
    t.equal(maxDiff(ten.x.subarray(k * per, (k + 1) * per), want), 0, `crop ${k}: (${p.top}, ${p.left})${p.flip ? ' flipped' : ''}`);
  });
  const centre = await loadImageForPredict(path, { mean: [100, 110, 120], scale: 1 / 64 });
  t.equal(maxDiff(centre.x, ten.x.subarray(4 * per, 5 * per)), 0, 'the single crop is the centre one, the 5th of ten');
  const grey = await loadImageForPredict(join(SAMPLES, 'n02096051_Airedale.JPEG'), { mean: false, crop: 224 });
  t.equal(maxDiff(grey.x.subarray(0, 224 * 224), grey.x.subarray(224 * 224, 2 * 224 * 224)), 0, 'a grayscale photo gives R = G');
  await t.rejects(loadImageForPredict(join(here, 'nope.jpg')), { code: 'ND_FORMAT', message: /nope\.jpg/ });
  await t.rejects(loadImageForPredict(path, { crop: 257 }), { code: 'ND_ARG' });
});

t.test('bad options are ND_ARG errors; closed loaders refuse; superseded epochs end', async (t) => {
  await t.rejects(imageFolderLoader(CLASSES, {} as ImageLoaderOptions), { code: 'ND_ARG', message: /batchSize/ });
  await t.rejects(imageFolderLoader(CLASSES, { batchSize: 0 }), { code: 'ND_ARG' });
  await t.rejects(imageFolderLoader(CLASSES, { batchSize: 2, workers: -1 }), { code: 'ND_ARG', message: /workers/ });
  await t.rejects(imageFolderLoader(CLASSES, { batchSize: 2, limit: 0 }), { code: 'ND_ARG', message: /limit/ });
  await t.rejects(imageFolderLoader(CLASSES, { batchSize: 2, crop: 512 }), { code: 'ND_ARG', message: /crop/ });
  const l = await imageFolderLoader(CLASSES, { batchSize: 2, limit: 8, prefetch: 1, workers: 1 });
  const first = l.epoch(1);
  await first.next();
  const second = collect(l, 2);
  await t.rejects(first.next(), { code: 'ND_ARG', message: /epoch 1 was still being iterated when epoch 2 started/ });
  t.equal((await second).length, 4);
  const pending = l.epoch(3);
  await pending.next();
  const next = t.rejects(pending.next(), { code: 'ND_DISPOSED' });
  await l.close();
  await next;
  t.throws(() => l.epoch(0), { code: 'ND_DISPOSED' });
  await l.close();
});

t.test('closed and idle loaders leave nothing running: the process exits by itself', async (t) => {
  const child = join(here, 'loader-exit-child.ts');
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [...process.execArgv, child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (c) => {
      clearTimeout(timer);
      t.match(out, /batches 3 2/, 'the child iterated both loaders');
      resolve(c);
    });
  });
  t.equal(code, 0, `the child exited by itself after ${Date.now() - started} ms`);
});
