// AlexNet's input pipeline alone: images/s of the image loader over imagenet-samples, for the
// first epoch (every file decoded with sharp) and for a later one (decoded images cached), in
// training mode (random crop, flip, PCA lighting). JSON lines, one per (batch, cached).
//
//   node bench/models/image-loader.mjs [--images 256] [--batch 128] [--crop 227] [--workers N] [--eval]
//
// The AlexNet benchmark imports benchImageLoader() to print these lines beside its training
// images/s: a loader slower than training is the bottleneck. Decoding runs on libuv's thread
// pool (UV_THREADPOOL_SIZE, default 4), shared by the whole process.
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { imageFolderLoader } from '../../dist/data/images/index.js';
import { deviceName, emit, scriptArgs } from '../lib.mjs';

const defaultList = fileURLToPath(new URL('../../../shared/data/imagenet-samples/classes.tsv', import.meta.url));

/** Times one uncached and one cached epoch; returns (and emits unless quiet) the JSON lines. */
export async function benchImageLoader({
  list = defaultList,
  images = 256,
  batch = 128,
  crop = 227,
  train = true,
  workers,
  quiet = false,
} = {}) {
  const device = deviceName('cpu', os.availableParallelism());
  if (!existsSync(list)) {
    const line = { bench: 'image-loader', device, skipped: `no image list at ${list}` };
    if (!quiet) emit(line);
    return [line];
  }
  const loader = await imageFolderLoader(list, { batchSize: batch, limit: images, train, crop, seed: 1, workers });
  const lines = [];
  try {
    for (const cached of [false, true]) {
      const t0 = performance.now();
      let n = 0;
      for await (const b of loader.epoch(cached ? 1 : 0)) n += b.batchSize;
      const s = (performance.now() - t0) / 1e3;
      const line = {
        bench: 'image-loader',
        device,
        train,
        crop,
        batch,
        images: n,
        images_per_s: Math.round((n / s) * 10) / 10,
        workers: loader.workers,
        uv_threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
        cached,
      };
      lines.push(line);
      if (!quiet) emit(line);
    }
  } finally {
    await loader.close();
  }
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const v = scriptArgs(import.meta.url, {
    list: { type: 'string' },
    images: { type: 'string', default: '256' },
    batch: { type: 'string', default: '128' },
    crop: { type: 'string', default: '227' },
    workers: { type: 'string' },
    eval: { type: 'boolean', default: false },
  });
  await benchImageLoader({
    list: v.list ?? defaultList,
    images: Number(v.images),
    batch: Number(v.batch),
    crop: Number(v.crop),
    workers: v.workers === undefined ? undefined : Number(v.workers),
    train: !v.eval,
  });
}
