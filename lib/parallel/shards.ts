/**
 * How a batch splits over data-parallel replicas: contiguous shards, the first N % R replicas one
 * sample larger (batch 7 over 3 replicas: 3, 2, 2). Each replica's loss gradient is then weighted
 * by its share n_r / N and the gradients are summed, which is the gradient of the whole batch's
 * mean loss however uneven the split.
 */
import { ArgumentError } from '../errors.js';

export interface Shard {
  /** First sample of the shard in the batch. */
  readonly start: number;
  readonly size: number;
}

export function shardBatch(batch: number, replicas: number, op = 'DataParallel'): Shard[] {
  if (batch < replicas)
    throw new ArgumentError(`${op}: a batch of ${batch} cannot be split over ${replicas} replicas (each needs at least one sample)`);
  const base = Math.floor(batch / replicas);
  const extra = batch % replicas;
  const out: Shard[] = [];
  let start = 0;
  for (let r = 0; r < replicas; r++) {
    const size = base + (r < extra ? 1 : 0);
    out.push({ start, size });
    start += size;
  }
  return out;
}
