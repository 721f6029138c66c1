/** MNIST loaders for the CLI, normalised for the chosen LeNet-5 form. */
import { DataLoader, InMemoryDataset, loadMnist, type Normalize } from '../data/index.js';

export function normalizeFor(variant: string): Normalize {
  return variant === 'classic' ? { form: 'classic', padTo: 32 } : { form: 'modern', mean: 0.1307, std: 0.3081 };
}

export async function mnistLoader(dir: string, split: 'train' | 'test', o: { batchSize: number; seed: number; variant: string; limit?: number; shuffle?: boolean }): Promise<DataLoader> {
  const m = await loadMnist(dir, { split });
  let ds = InMemoryDataset.fromMnist(m);
  if (o.limit !== undefined && o.limit < ds.count) ds = ds.slice(0, o.limit);
  return new DataLoader(ds, { batchSize: o.batchSize, seed: o.seed, shuffle: o.shuffle ?? split === 'train', normalize: normalizeFor(o.variant) });
}
