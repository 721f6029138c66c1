export { DataParallel, type DataParallelOptions, type ReplicaFactory, type ReplicatedStep } from './data-parallel.js';
export { ReplicatedSGD } from './replicated-sgd.js';
export { planBuckets, DEFAULT_BUCKET_BYTES, DEFAULT_FIRST_BUCKET_BYTES, type GradientBucket } from './buckets.js';
export { shardBatch, type Shard } from './shards.js';
