/** Data: IDX/MNIST readers, an in-memory dataset and a prefetching, seeded data loader. */
export { readIdx, parseIdx, type IdxArray } from './idx.js';
export { loadMnist, type MnistData, type MnistSplit } from './mnist.js';
export { InMemoryDataset, type DatasetOptions } from './dataset.js';
export { DataLoader, type DataLoaderOptions, type Batch } from './loader.js';
export { pixelTable, CLASSIC_BACKGROUND, CLASSIC_FOREGROUND, type Normalize } from './batch.js';
export { epochOrder } from './shuffle.js';
export { shardOrder, shardLength, type ShardOptions, type ShardTail } from './shard.js';
