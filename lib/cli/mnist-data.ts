/**
 * MNIST for the CLI: loaders normalised for the chosen LeNet-5 form, and the held-out validation
 * split. The split is drawn from the 60,000 training images by a seeded permutation (the same
 * seed gives the same split, so a resumed run validates on the same images); the test set stays
 * untouched until the end of the run.
 */
import type { ShardOptions } from '../data/shard.js';
import { DataLoader, InMemoryDataset, epochOrder, loadMnist, type Normalize } from '../data/index.js';
import { UsageError } from './args.js';

export function normalizeFor(variant: string): Normalize {
  return variant === 'classic' ? { form: 'classic', padTo: 32 } : { form: 'modern', mean: 0.1307, std: 0.3081 };
}

/** A new dataset of the samples at `indices` of `ds`, in that order (copied). */
export function pick(ds: InMemoryDataset, indices: ArrayLike<number>): InMemoryDataset {
  const size = ds.sampleSize;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = ds.labels[j];
  }
  return new InMemoryDataset({ images, labels, count: indices.length, channels: ds.channels, height: ds.height, width: ds.width });
}

/**
 * Splits `ds` into (train, validation) with `valCount` validation images chosen by `seed`.
 * Both keep the source order of their images; the training loader shuffles per epoch anyway.
 */
export function splitValidation(
  ds: InMemoryDataset,
  valCount: number,
  seed: number,
): { train: InMemoryDataset; val: InMemoryDataset | null } {
  if (valCount === 0) return { train: ds, val: null };
  if (valCount >= ds.count) throw new UsageError(`--val-split ${valCount} leaves no training images (the training set has ${ds.count})`);
  // A stream apart from the loader's epoch orders: 'epoch' 2^31 - 1 is never trained.
  const perm = epochOrder(ds.count, seed, 0x7fffffff);
  const val = Array.from(perm.subarray(0, valCount)).sort((a, b) => a - b);
  const inVal = new Uint8Array(ds.count);
  for (const i of val) inVal[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < ds.count; i++) if (!inVal[i]) train.push(i);
  return { train: pick(ds, train), val: pick(ds, val) };
}

export interface MnistLoaders {
  train: DataLoader;
  val: DataLoader | null;
  test: DataLoader;
  close(): Promise<void>;
}

/** Training (first `limit` after the split), validation and test loaders. */
export async function mnistLoaders(
  dir: string,
  o: { batchSize: number; seed: number; variant: string; valSplit: number; limit?: number; prefetch?: number; shard?: ShardOptions },
): Promise<MnistLoaders> {
  const full = InMemoryDataset.fromMnist(await loadMnist(dir, { split: 'train' }));
  const { train, val } = splitValidation(full, o.valSplit, o.seed);
  const ds = o.limit !== undefined && o.limit < train.count ? train.slice(0, o.limit) : train;
  const norm = normalizeFor(o.variant);
  // In a process group every loader reads this rank's shard (DistributedSampler's order).
  const p = { ...(o.prefetch === undefined ? {} : { prefetch: o.prefetch }), ...(o.shard ? { shard: o.shard } : {}) };
  const trainL = new DataLoader(ds, { batchSize: o.batchSize, seed: o.seed, shuffle: true, normalize: norm, ...p });
  const valL = val ? new DataLoader(val, { batchSize: 500, shuffle: false, normalize: norm, ...p }) : null;
  const test = await mnistLoader(dir, 'test', {
    batchSize: 500,
    seed: 0,
    variant: o.variant,
    shuffle: false,
    prefetch: o.prefetch,
    shard: o.shard,
  });
  return {
    train: trainL,
    val: valL,
    test,
    async close() {
      await trainL.close();
      await valL?.close();
      await test.close();
    },
  };
}

export async function mnistLoader(
  dir: string,
  split: 'train' | 'test',
  o: { batchSize: number; seed: number; variant: string; limit?: number; shuffle?: boolean; prefetch?: number; shard?: ShardOptions },
): Promise<DataLoader> {
  const m = await loadMnist(dir, { split });
  let ds = InMemoryDataset.fromMnist(m);
  if (o.limit !== undefined && o.limit < ds.count) ds = ds.slice(0, o.limit);
  const p = o.prefetch === undefined ? {} : { prefetch: o.prefetch };
  return new DataLoader(ds, {
    batchSize: o.batchSize,
    seed: o.seed,
    shuffle: o.shuffle ?? split === 'train',
    normalize: normalizeFor(o.variant),
    ...p,
    ...(o.shard ? { shard: o.shard } : {}),
  });
}
