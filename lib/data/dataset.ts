/**
 * An in-memory image classification dataset: uint8 images [count, C, H, W] and int32 labels.
 * Both live in SharedArrayBuffers so loader workers read them without a copy per loader.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { MnistData } from './mnist.js';

export interface DatasetOptions {
  /** count * channels * height * width bytes, NCHW. */
  images: Uint8Array;
  /** count labels (class indices). */
  labels: ArrayLike<number>;
  count: number;
  channels: number;
  height: number;
  width: number;
}

function checkDim(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new ArgumentError(`InMemoryDataset: '${name}' must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

export class InMemoryDataset {
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;

  constructor(opts: DatasetOptions) {
    this.count = checkDim('count', opts.count, 0);
    this.channels = checkDim('channels', opts.channels, 1);
    this.height = checkDim('height', opts.height, 1);
    this.width = checkDim('width', opts.width, 1);
    const shape = [this.count, this.channels, this.height, this.width];
    if (!(opts.images instanceof Uint8Array))
      throw new ArgumentError(`InMemoryDataset: 'images' must be a Uint8Array, got ${typeof opts.images}`);
    if (opts.images.length !== this.sampleSize * this.count)
      throw new ShapeError(
        `InMemoryDataset: 'images' has ${opts.images.length} bytes but shape ${fmtShape(shape)} needs ${this.sampleSize * this.count}`,
      );
    if (opts.labels == null || opts.labels.length !== this.count)
      throw new ShapeError(`InMemoryDataset: 'labels' has ${opts.labels?.length} entries but 'count' is ${this.count}`);
    for (let i = 0; i < this.count; i++) {
      const l = opts.labels[i]!;
      if (!Number.isInteger(l) || l < 0 || l > 0x7fffffff)
        throw new ArgumentError(`InMemoryDataset: label ${i} must be a non-negative integer, got ${l}`);
    }
    // Arrays already in shared memory (e.g. another dataset's, via slice) are used as they are.
    if (opts.images.buffer instanceof SharedArrayBuffer) this.images = opts.images;
    else {
      this.images = new Uint8Array(new SharedArrayBuffer(opts.images.length));
      this.images.set(opts.images);
    }
    if (opts.labels instanceof Int32Array && opts.labels.buffer instanceof SharedArrayBuffer) this.labels = opts.labels;
    else {
      this.labels = new Int32Array(new SharedArrayBuffer(this.count * 4));
      this.labels.set(opts.labels);
    }
  }

  /** A one-channel dataset from loadMnist's result. */
  static fromMnist(m: MnistData): InMemoryDataset {
    return new InMemoryDataset({ images: m.images, labels: m.labels, count: m.count, channels: 1, height: m.rows, width: m.cols });
  }

  /** Samples [begin, end) as a dataset sharing this one's memory (no copy). */
  slice(begin: number, end = this.count): InMemoryDataset {
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end > this.count || begin > end)
      throw new ArgumentError(`InMemoryDataset.slice: need 0 <= begin <= end <= ${this.count}, got [${begin}, ${end})`);
    return new InMemoryDataset({
      images: this.images.subarray(begin * this.sampleSize, end * this.sampleSize),
      labels: this.labels.subarray(begin, end),
      count: end - begin,
      channels: this.channels,
      height: this.height,
      width: this.width,
    });
  }

  /** Bytes per sample: channels * height * width. */
  get sampleSize(): number {
    return this.channels * this.height * this.width;
  }

  /** The [channels, height, width] of one sample. */
  get sampleShape(): [number, number, number] {
    return [this.channels, this.height, this.width];
  }

  /** Sample i's bytes (a view, no copy). */
  image(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new ArgumentError(`InMemoryDataset.image: index must be an integer in [0, ${this.count - 1}], got ${i}`);
    return this.images.subarray(i * this.sampleSize, (i + 1) * this.sampleSize);
  }

  toString(): string {
    return `InMemoryDataset(${this.count} x [${this.channels}, ${this.height}, ${this.width}])`;
  }
}
