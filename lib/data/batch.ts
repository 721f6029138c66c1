/**
 * Batch preparation: uint8 samples to normalized float32, placed (centred) in an output field
 * at least as large as the sample. Runs on loader workers and on the main thread alike, so it
 * imports nothing that loads the native addon.
 *
 * Two normalizations cover both forms of LeNet-5:
 * - modern: y = x / 255, then optionally (y - mean) / std (MNIST: mean 0.1307, std 0.3081);
 * - classic (LeCun et al. 1998): background (x = 0) is -0.1 and foreground (x = 255) is 1.175,
 *   linear in between, in a 32x32 field.
 * Padding is done in pixel space: a padded pixel gets the value a background pixel (x = 0)
 * gets, which is what torchvision's Pad before ToTensor/Normalize gives (0 when there is no
 * mean/std, -0.1 in the classic form).
 */
import { ArgumentError } from '../errors.js';

export type Normalize =
  | { form: 'modern'; mean?: number; std?: number; padTo?: number | [number, number] }
  | { form: 'classic'; padTo?: number | [number, number] };

/** The plain-data description a worker needs to prepare batches. */
export interface BatchGeometry {
  channels: number;
  height: number;
  width: number;
  outHeight: number;
  outWidth: number;
  /** 256 float32 values: the output value of each pixel byte. */
  table: Float32Array;
}

export const CLASSIC_BACKGROUND = -0.1;
export const CLASSIC_FOREGROUND = 1.175;

function finite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ArgumentError(`DataLoader: 'normalize.${name}' must be a finite number, got ${String(v)}`);
  return v;
}

/** The float32 value of each pixel byte 0..255 under `n`. */
export function pixelTable(n: Normalize): Float32Array {
  const table = new Float32Array(256);
  if (n.form === 'classic') {
    // Written as a lerp so 0 and 255 map to exactly the two constants.
    for (let x = 0; x < 256; x++) {
      const t = x / 255;
      table[x] = CLASSIC_BACKGROUND * (1 - t) + CLASSIC_FOREGROUND * t;
    }
    return table;
  }
  if (n.form !== 'modern')
    throw new ArgumentError(
      `DataLoader: 'normalize.form' must be 'modern' or 'classic', got ${JSON.stringify((n as { form?: unknown }).form)}`,
    );
  const mean = n.mean === undefined ? 0 : finite('mean', n.mean);
  const std = n.std === undefined ? 1 : finite('std', n.std);
  if (std <= 0) throw new ArgumentError(`DataLoader: 'normalize.std' must be > 0, got ${std}`);
  for (let x = 0; x < 256; x++) table[x] = (x / 255 - mean) / std;
  return table;
}

/** The geometry for samples of [channels, height, width] under `n`. */
export function batchGeometry(n: Normalize, channels: number, height: number, width: number): BatchGeometry {
  const pad = n.padTo ?? (n.form === 'classic' ? 32 : undefined);
  let outHeight = height;
  let outWidth = width;
  if (pad !== undefined) {
    const [h, w] = typeof pad === 'number' ? [pad, pad] : Array.isArray(pad) && pad.length === 2 ? pad : [NaN, NaN];
    if (!Number.isSafeInteger(h) || !Number.isSafeInteger(w))
      throw new ArgumentError(`DataLoader: 'normalize.padTo' must be an integer or [h, w], got ${JSON.stringify(pad)}`);
    if (h < height || w < width)
      throw new ArgumentError(`DataLoader: 'normalize.padTo' [${h}, ${w}] is smaller than the samples' [${height}, ${width}]`);
    outHeight = h;
    outWidth = w;
  }
  return { channels, height, width, outHeight, outWidth, table: pixelTable(n) };
}

/**
 * Writes the samples `order[begin..end)` of `images` (NCHW uint8) into `x` (NCHW float32 of
 * the padded size) and their labels into `labels`.
 */
export function fillBatch(
  g: BatchGeometry,
  images: Uint8Array,
  allLabels: Int32Array,
  order: ArrayLike<number>,
  begin: number,
  end: number,
  x: Float32Array,
  labels: Int32Array,
): void {
  const { channels, height, width, outHeight, outWidth, table } = g;
  const top = (outHeight - height) >> 1;
  const left = (outWidth - width) >> 1;
  const padded = outHeight !== height || outWidth !== width;
  const inPlane = height * width;
  const outPlane = outHeight * outWidth;
  if (padded) x.fill(table[0]!, 0, (end - begin) * channels * outPlane);
  for (let s = begin; s < end; s++) {
    const idx = order[s]!;
    labels[s - begin] = allLabels[idx]!;
    for (let c = 0; c < channels; c++) {
      const src = (idx * channels + c) * inPlane;
      const dst = ((s - begin) * channels + c) * outPlane + top * outWidth + left;
      for (let r = 0; r < height; r++) {
        const si = src + r * width;
        const di = dst + r * outWidth;
        for (let q = 0; q < width; q++) x[di + q] = table[images[si + q]!]!;
      }
    }
  }
}
