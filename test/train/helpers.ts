import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataLoader, InMemoryDataset, loadMnist } from '../../lib/index.js';

export const MNIST_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'mnist');

let cache: InMemoryDataset | undefined;
export async function mnistTrain(): Promise<InMemoryDataset> {
  cache ??= InMemoryDataset.fromMnist(await loadMnist(MNIST_DIR, { split: 'train' }));
  return cache;
}

/** A small MNIST loader; prefetch 0 keeps tests free of worker start-up time. */
export async function smallLoader(count: number, batchSize: number, seed: number): Promise<DataLoader> {
  const ds = (await mnistTrain()).slice(0, count);
  return new DataLoader(ds, { batchSize, seed, prefetch: 0, normalize: { form: 'modern', mean: 0.1307, std: 0.3081 } });
}
