/**
 * Sharding an epoch's sample order by rank, as PyTorch's DistributedSampler does: every rank
 * computes the same (seed, epoch) order (shuffle.ts), evens its length out to a multiple of the
 * world size, then takes every worldSize-th index from its rank on. So the shards of one epoch are
 * disjoint (with 'drop') and together cover it, every rank reshuffles identically each epoch, and
 * every rank gets the same number of samples, hence of batches (a rank with one batch more would
 * wait forever in its extra all-reduce).
 *
 * The uneven tail (count not a multiple of worldSize): 'drop' leaves out the last count % worldSize
 * samples of the epoch's order (different ones each epoch when shuffled); 'pad' (PyTorch's
 * default) repeats the order's first samples so that every rank gets ceil(count / worldSize).
 */
import { ArgumentError } from '../errors.js';

export type ShardTail = 'drop' | 'pad';

export interface ShardOptions {
  rank: number;
  worldSize: number;
  /** Default 'pad', as PyTorch's DistributedSampler (drop_last=False). */
  tail?: ShardTail;
}

/** Checks a shard's options (`who` names the loader in messages); returns them with the default tail. */
export function checkShard(who: string, s: ShardOptions | undefined): Required<ShardOptions> | null {
  if (s === undefined) return null;
  const { rank, worldSize } = s;
  if (!Number.isInteger(worldSize) || worldSize < 1 || worldSize > 1 << 20)
    throw new ArgumentError(`${who}: shard.worldSize must be an integer in [1, 2^20], got ${String(worldSize)}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new ArgumentError(`${who}: shard.rank must be an integer in [0, ${worldSize}), got ${String(rank)}`);
  const tail = s.tail ?? 'pad';
  if (tail !== 'drop' && tail !== 'pad') throw new ArgumentError(`${who}: shard.tail must be 'drop' or 'pad', got ${String(tail)}`);
  return { rank, worldSize, tail };
}

/** Samples per rank and epoch. */
export function shardLength(count: number, s: Required<ShardOptions>): number {
  return s.tail === 'drop' ? Math.floor(count / s.worldSize) : Math.ceil(count / s.worldSize);
}

/** This rank's part of an epoch's order (a new array; `order` is not changed). */
export function shardOrder(order: Uint32Array, s: Required<ShardOptions>): Uint32Array {
  const per = shardLength(order.length, s);
  const out = new Uint32Array(per);
  if (order.length === 0) return out;
  // Position k of the evened-out order is order[k % length]: padding wraps around to the start.
  for (let i = 0; i < per; i++) out[i] = order[(s.rank + i * s.worldSize) % order.length]!;
  return out;
}
