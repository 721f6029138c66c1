/**
 * Gradient buckets for data parallelism, as PyTorch DDP forms them: the layers in reverse order
 * (the order backward writes their gradients), a first bucket of about `firstBucketBytes` so that
 * communication starts early, then buckets of about `bucketBytes`. A bucket closes once it holds
 * at least its cap, so one layer larger than the cap (AlexNet's fc6) is a bucket of its own. The
 * flat layout puts layers in forward order, so every bucket is one contiguous range of the flat
 * gradient buffer.
 */
import type { FlatLayerRange } from '../layers/flat-parameters.js';

export interface GradientBucket {
  /** Range of the flat gradient buffer, in elements: [offset, offset + length). */
  readonly offset: number;
  readonly length: number;
  /** The top-level layer index whose backward completes the bucket (its earliest layer). */
  readonly closesAt: number;
  /** The layers it holds, last layer first. */
  readonly layers: readonly string[];
}

export const DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024;
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

export function planBuckets(ranges: readonly FlatLayerRange[], firstBucketBytes: number, bucketBytes: number): GradientBucket[] {
  const out: GradientBucket[] = [];
  let cur: { start: number; end: number; closesAt: number; layers: string[] } | null = null;
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i];
    if (cur === null) cur = { start: r.offset, end: r.end, closesAt: r.index, layers: [] };
    cur.start = r.offset; // forward order: each earlier layer lies below the previous one
    cur.closesAt = r.index;
    cur.layers.push(r.layerPath);
    const cap = out.length === 0 ? firstBucketBytes : bucketBytes;
    if ((cur.end - cur.start) * 4 >= cap) {
      out.push(freeze(cur));
      cur = null;
    }
  }
  if (cur !== null) out.push(freeze(cur));
  return out;
}

function freeze(b: { start: number; end: number; closesAt: number; layers: string[] }): GradientBucket {
  return Object.freeze({ offset: b.start, length: b.end - b.start, closesAt: b.closesAt, layers: Object.freeze(b.layers) });
}
