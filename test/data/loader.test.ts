import t from 'tap';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { DataLoader, InMemoryDataset, epochOrder, type Batch, type DataLoaderOptions } from '../../lib/data/index.js';
import { rng } from '../helpers/rng.js';

const here = dirname(fileURLToPath(import.meta.url));

/** count samples of [c, h, w] random bytes, labelled with their own index so batches reveal the order. */
function dataset(count: number, c: number, h: number, w: number, seed = 1): InMemoryDataset {
  const r = rng(seed);
  const images = Uint8Array.from({ length: count * c * h * w }, () => Math.floor(r() * 256));
  return new InMemoryDataset({ images, labels: Array.from({ length: count }, (_, i) => i), count, channels: c, height: h, width: w });
}

async function collect(loader: DataLoader, epoch: number, startBatch?: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch, { startBatch })) out.push(b);
  return out;
}

const indices = (batches: Batch[]): number[] => batches.flatMap((b) => Array.from(b.labels));

async function withLoader<T>(ds: InMemoryDataset, opts: DataLoaderOptions, fn: (l: DataLoader) => Promise<T>): Promise<T> {
  const l = new DataLoader(ds, opts);
  try {
    return await fn(l);
  } finally {
    await l.close();
  }
}

t.test('epoch orders: seeded, per-epoch, a permutation, resumable', async (t) => {
  const ds = dataset(103, 2, 3, 5);
  await withLoader(ds, { batchSize: 10, seed: 7 }, async (a) => {
    t.equal(a.batchesPerEpoch, 11);
    const e0 = await collect(a, 0);
    const e1 = await collect(a, 1);
    t.same(
      e0.map((b) => b.batchSize),
      [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3],
      'the last partial batch is kept',
    );
    t.same(
      e0.map((b) => b.index),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const e of [e0, e1])
      t.same(
        [...indices(e)].sort((x, y) => x - y),
        Array.from({ length: 103 }, (_, i) => i),
        'every sample exactly once',
      );
    t.notSame(indices(e0), indices(e1), 'different epochs, different orders');
    t.same(indices(e0), Array.from(a.order(0)), 'the batches follow loader.order(epoch)');

    // Another loader with the same seed gives the same orders; another seed does not.
    await withLoader(ds, { batchSize: 10, seed: 7, prefetch: 1 }, async (b) => {
      t.same(indices(await collect(b, 1)), indices(e1), 'same seed and epoch, same order');
    });
    await withLoader(ds, { batchSize: 10, seed: 8, prefetch: 0 }, async (c) => {
      t.notSame(indices(await collect(c, 0)), indices(e0), 'another seed, another order');
    });

    // Resuming at batch 4 gives exactly the rest of the epoch, with the same contents.
    const tail = await collect(a, 0, 4);
    t.same(
      tail.map((b) => b.index),
      [4, 5, 6, 7, 8, 9, 10],
    );
    t.same(indices(tail), indices(e0.slice(4)));
    t.same(Array.from(tail[0]!.x), Array.from(e0[4]!.x));
    t.same(await collect(a, 0, 11), [], 'startBatch = batchesPerEpoch is an empty epoch');
    t.throws(() => a.epoch(0, { startBatch: 12 }), { code: 'ND_ARG' });
    t.throws(() => a.epoch(-1), { code: 'ND_ARG' });
  });

  await withLoader(ds, { batchSize: 10, dropLast: true, shuffle: false, prefetch: 0 }, async (l) => {
    t.equal(l.batchesPerEpoch, 10);
    const e = await collect(l, 3);
    t.equal(e.length, 10);
    t.same(
      indices(e),
      Array.from({ length: 100 }, (_, i) => i),
      'shuffle: false keeps the dataset order; dropLast drops the 3 left',
    );
  });
});

t.test('the order is a uniform-looking shuffle', async (t) => {
  // Position of sample 0 over many epochs should cover the range roughly evenly.
  const n = 16;
  const counts = new Array<number>(n).fill(0);
  for (let e = 0; e < 1600; e++) counts[epochOrder(n, 123, e).indexOf(0)]!++;
  t.ok(Math.min(...counts) > 60 && Math.max(...counts) < 140, `positions of sample 0: ${counts.join(' ')}`);
  t.notSame(Array.from(epochOrder(50, 2 ** 40, 0)), Array.from(epochOrder(50, 2 ** 40 + 1, 0)), 'large seeds still differ');
});

// The normalization tests prepare on the calling thread (prefetch: 0) to keep the file fast;
// 'batches are prepared on a worker thread' shows the worker's batches are identical.
t.test('modern normalization: x / 255, then (x - mean) / std, padding with the background value', async (t) => {
  const ds = dataset(9, 1, 28, 28, 3);
  const mean = 0.1307;
  const std = 0.3081;
  await withLoader(ds, { batchSize: 4, shuffle: false, prefetch: 0, normalize: { form: 'modern', mean, std, padTo: 32 } }, async (l) => {
    t.same(l.sampleShape, [1, 32, 32]);
    const [b] = await collect(l, 0);
    t.same(b!.shape, [4, 1, 32, 32]);
    t.equal(b!.x.length, 4 * 32 * 32);
    let worst = 0;
    for (let s = 0; s < 4; s++)
      for (let r = 0; r < 32; r++)
        for (let c = 0; c < 32; c++) {
          const inside = r >= 2 && r < 30 && c >= 2 && c < 30;
          const px = inside ? ds.images[s * 784 + (r - 2) * 28 + (c - 2)]! : 0;
          const want = (px / 255 - mean) / std;
          worst = Math.max(worst, Math.abs(b!.x[s * 1024 + r * 32 + c]! - want));
        }
    t.ok(worst < 1e-6, `max |error| ${worst}`);
    t.equal(b!.x[0], Math.fround(-mean / std), 'a padded pixel is the normalized background');
  });
  await withLoader(ds, { batchSize: 9, shuffle: false, prefetch: 0 }, async (l) => {
    const [b] = await collect(l, 0);
    t.same(b!.shape, [9, 1, 28, 28], 'the default is x / 255 without padding');
    for (let i = 0; i < ds.images.length; i++) if (b!.x[i] !== Math.fround(ds.images[i]! / 255)) return t.fail(`element ${i}`);
    t.pass('every element is x / 255');
  });
});

t.test('classic normalization: background -0.1, foreground 1.175, in a 32x32 field', async (t) => {
  // Every byte value once, plus the extremes.
  const images = new Uint8Array(2 * 16 * 16);
  for (let i = 0; i < 256; i++) images[i] = i;
  images.fill(255, 256);
  images[300] = 0;
  const ds = new InMemoryDataset({ images, labels: [0, 1], count: 2, channels: 1, height: 16, width: 16 });
  await withLoader(ds, { batchSize: 2, shuffle: false, prefetch: 0, normalize: { form: 'classic' } }, async (l) => {
    const [b] = await collect(l, 0);
    t.same(b!.shape, [2, 1, 32, 32]);
    const at = (s: number, r: number, c: number): number => b!.x[s * 1024 + (r + 8) * 32 + (c + 8)]!;
    t.equal(at(0, 0, 0), Math.fround(-0.1), 'pixel 0 is exactly -0.1');
    t.equal(at(1, 0, 0), Math.fround(1.175), 'pixel 255 is exactly 1.175');
    t.equal(at(1, 2, 12), Math.fround(-0.1), 'a background pixel inside the second image');
    for (let v = 0; v < 256; v++) {
      const got = at(0, v >> 4, v & 15);
      if (Math.abs(got - (-0.1 + (v / 255) * 1.275)) > 1e-6) return t.fail(`pixel ${v} gave ${got}`);
    }
    t.pass('linear in between');
    for (const [r, c] of [
      [0, 0],
      [7, 31],
      [31, 31],
      [8, 7],
      [24, 24],
    ] as const)
      t.equal(b!.x[r * 32 + c], Math.fround(-0.1), `padding at (${r}, ${c}) is the background`);
  });
  t.throws(() => new DataLoader(ds, { batchSize: 1, normalize: { form: 'classic', padTo: 8 } }), {
    code: 'ND_ARG',
    message: /smaller than the samples/,
  });
  t.throws(() => new DataLoader(ds, { batchSize: 1, normalize: { form: 'modern', std: 0 } }), { code: 'ND_ARG' });
  t.throws(() => new DataLoader(ds, { batchSize: 0 }), { code: 'ND_ARG' });
  t.throws(() => new DataLoader(ds, {} as DataLoaderOptions), { code: 'ND_ARG', message: /batchSize/ });
});

t.test('batches are prepared on a worker thread, the same as on the main thread', async (t) => {
  const ds = dataset(50, 3, 7, 6, 5);
  const opts: DataLoaderOptions = { batchSize: 8, seed: 99, normalize: { form: 'modern', mean: 0.5, std: 0.25, padTo: [9, 10] } };
  const onWorker = await withLoader(ds, opts, (l) => collect(l, 2));
  const onMain = await withLoader(ds, { ...opts, prefetch: 0 }, (l) => collect(l, 2));
  t.ok(
    onWorker.every((b) => b.threadId !== threadId && b.threadId > 0),
    `prepared on thread ${onWorker[0]!.threadId}, not ${threadId}`,
  );
  t.ok(
    onMain.every((b) => b.threadId === threadId),
    'prefetch: 0 prepares on the calling thread',
  );
  t.same(
    onWorker.map((b) => Array.from(b.x)),
    onMain.map((b) => Array.from(b.x)),
  );
  t.same(indices(onWorker), indices(onMain));
  t.same(onWorker[0]!.shape, [8, 3, 9, 10]);
  t.ok(
    onWorker.every((b) => !(b.x.buffer instanceof SharedArrayBuffer)),
    'each batch owns its own buffer',
  );
});

t.test('a slice shares memory and loads through the worker like the original', async (t) => {
  const ds = dataset(40, 1, 3, 3, 9);
  const part = ds.slice(10, 30);
  t.equal(part.count, 20);
  t.equal(part.images.buffer, ds.images.buffer, 'no copy');
  const got = await withLoader(part, { batchSize: 6, shuffle: false }, (l) => collect(l, 0));
  t.same(
    indices(got),
    Array.from({ length: 20 }, (_, i) => 10 + i),
  );
  t.same(
    Array.from(got[0]!.x.subarray(0, 9)),
    Array.from(ds.image(10), (v) => Math.fround(v / 255)),
  );
  t.throws(() => ds.slice(5, 41), { code: 'ND_ARG' });
});

t.test('the worker prepares batches while the main thread is busy', async (t) => {
  const ds = dataset(400, 1, 28, 28, 6);
  await withLoader(ds, { batchSize: 50, prefetch: 4 }, async (l) => {
    const it = l.epoch(0);
    await it.next();
    // Block this thread; meanwhile the worker fills the prefetch queue.
    const until = Date.now() + 800;
    while (Date.now() < until);
    // The next four batches were posted while we were blocked: they arrive within one turn of
    // the event loop each, with no further worker time needed.
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await Promise.race([it.next(), new Promise<'late'>((res) => setImmediate(() => setImmediate(() => res('late'))))]);
      got.push(r === 'late' ? -1 : r.value!.index);
    }
    t.same(got, [1, 2, 3, 4], 'four batches were ready (prefetch depth 4)');
    await it.return();
  });
});

t.test('breaking out, superseding and closing', async (t) => {
  const ds = dataset(60, 1, 4, 4, 7);
  const l = new DataLoader(ds, { batchSize: 5, seed: 1, prefetch: 2 });
  for await (const b of l.epoch(0)) if (b.index === 2) break;
  t.same(indices(await collect(l, 0)), Array.from(l.order(0)), 'a full epoch after an abandoned one');

  const first = l.epoch(1);
  await first.next();
  const second = collect(l, 2);
  await t.rejects(first.next(), { code: 'ND_ARG', message: /epoch 1 was still being iterated when epoch 2 started/ });
  t.same(indices(await second), Array.from(l.order(2)));

  const pending = l.epoch(3);
  await pending.next();
  const next = t.rejects(pending.next(), { code: 'ND_DISPOSED' });
  await l.close();
  await next;
  t.throws(() => l.epoch(0), { code: 'ND_DISPOSED' });
  await l.close(); // twice is fine
});

t.test('errors in the worker reject the iteration; the loader recovers', async (t) => {
  const ds = dataset(40, 1, 4, 4, 8);
  await withLoader(ds, { batchSize: 5, debug: { failAtBatch: 3 } }, async (l) => {
    const seen: number[] = [];
    await t.rejects(
      (async () => {
        for await (const b of l.epoch(0)) seen.push(b.index);
      })(),
      { code: 'ND_INTERNAL', message: /preparing batch 3 of epoch 0 failed in the prefetch worker: debug failure/ },
    );
    t.same(seen, [0, 1, 2], 'the batches before the failure were delivered');
    t.same(
      (await collect(l, 1, 4)).map((b) => b.index),
      [4, 5, 6, 7],
      'the same worker serves the next epoch',
    );
  });
  await withLoader(ds, { batchSize: 5, debug: { crashAtBatch: 1 } }, async (l) => {
    await t.rejects(collect(l, 0), { code: 'ND_INTERNAL', message: /prefetch worker crashed: debug crash/ });
    t.same((await collect(l, 0, 2)).length, 6, 'a fresh worker serves the next epoch');
  });
});

t.test('closed loaders and idle loaders do not keep the process alive', async (t) => {
  const child = join(here, 'loader-exit-child.ts');
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [...process.execArgv, child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (c) => {
      clearTimeout(timer);
      t.match(out, /batches 12 3/, 'the child iterated both loaders');
      resolve(c);
    });
  });
  t.equal(code, 0, `the child exited by itself after ${Date.now() - started} ms`);
});
