/**
 * From a decoded 256x256 RGB image (uint8, HWC) to one network input (float32, CHW): the crop
 * position, the horizontal flip, PCA lighting, mean subtraction and scaling, as in AlexNet
 * (Krizhevsky et al. 2012, section 4.1). Pure functions of plain data: they run on the loader's
 * workers and on the calling thread alike, and import nothing native.
 *
 * Pixel units are [0, 255] throughout. Each output value is
 *   (pixel + lighting[c] - mean) * scale[c]
 * where mean is the channel's mean, or the mean image's value at the source pixel (Caffe's
 * convention: the mean image is cropped with the image, before the flip).
 */
import { ArgumentError } from '../../errors.js';
import { imageRandom, normal } from './random.js';

/** The side of the decoded images: shorter side resized to 256, then the centre 256x256. */
export const SIDE = 256;

/** ImageNet's per-channel RGB means in [0, 255] units. */
export const IMAGENET_MEAN: readonly [number, number, number] = [123.68, 116.78, 103.94];

/**
 * ImageNet's RGB eigenpairs for pixels in [0, 1] (the values fb.resnet.torch and most
 * reimplementations use). eigvec is row-major with one row per channel (R, G, B) and one
 * column per eigenvector: p_i = column i.
 */
export const IMAGENET_PCA: Readonly<Pca> = {
  eigval: [0.2175, 0.0188, 0.0045],
  eigvec: [
    [-0.5675, 0.7192, 0.4009],
    [-0.5808, -0.0045, -0.814],
    [-0.5836, -0.6948, 0.4203],
  ],
};

/** PCA lighting: eigval/eigvec for pixels in [0, 1]; alpha_i ~ N(0, alphaStd) (default 0.1). */
export interface Pca {
  eigval: readonly number[];
  eigvec: readonly (readonly number[])[];
  alphaStd?: number;
}

/** Everything a worker needs to turn decoded images into inputs. Plain data (structured-clonable). */
export interface TransformSpec {
  crop: number;
  train: boolean;
  seed: number;
  /** 3 channel means, or a [3, 256, 256] CHW mean image. */
  mean: Float32Array;
  scale: [number, number, number];
  /** Null: no lighting. eigvec flattened row-major. */
  pca: { eigval: Float64Array; eigvec: Float64Array; alphaStd: number } | null;
}

/** Where and how one image is cut: crop's top-left corner, flip, and the RGB lighting offset. */
export interface Placement {
  top: number;
  left: number;
  flip: boolean;
  /** Added to every pixel, [0, 255] units. */
  lighting: [number, number, number];
  /** The alpha_i drawn (zeros without lighting); exposed for tests and logging. */
  alpha: [number, number, number];
}

function fail(op: string, msg: string): never {
  throw new ArgumentError(`${op}: ${msg}`);
}

function finiteList(op: string, name: string, v: unknown, n: number): number[] {
  if (!(Array.isArray(v) || ArrayBuffer.isView(v)) || (v as ArrayLike<number>).length !== n)
    fail(op, `'${name}' must be ${n} numbers, got ${describe(v)}`);
  const out = Array.from(v as ArrayLike<number>);
  if (!out.every((x) => typeof x === 'number' && Number.isFinite(x)))
    fail(op, `'${name}' must hold finite numbers, got [${out.join(', ')}]`);
  return out;
}

function describe(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as ArrayLike<number>).length}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return String(v);
}

export interface TransformOptions {
  crop?: number;
  /** 3 channel means ([0, 255] units), a Float32Array [3, 256, 256] mean image (CHW), or false for none. Default IMAGENET_MEAN. */
  mean?: readonly number[] | Float32Array | false;
  /** Multiplies after mean subtraction: one number or one per channel (e.g. 1 / (255 * std)). Default 1. */
  scale?: number | readonly number[];
  /** Default IMAGENET_PCA when training; false: none. */
  pca?: Pca | false;
}

/** Validates the options shared by the loader and loadImageForPredict. */
export function transformSpec(op: string, opts: TransformOptions, train: boolean, seed: number): TransformSpec {
  const crop = opts.crop ?? 227;
  if (!Number.isInteger(crop) || crop < 1 || crop > SIDE)
    fail(op, `'crop' must be an integer in [1, ${SIDE}] (227 or 224 for AlexNet), got ${String(crop)}`);
  let mean: Float32Array;
  const m = opts.mean ?? IMAGENET_MEAN;
  if (m === false) mean = new Float32Array(3);
  else if (m instanceof Float32Array && m.length === 3 * SIDE * SIDE) mean = m.slice();
  else if (m instanceof Float32Array && m.length !== 3)
    fail(op, `a mean image must be a Float32Array of 3*256*256 = ${3 * SIDE * SIDE} values (CHW), got ${m.length}`);
  else mean = Float32Array.from(finiteList(op, 'mean', m, 3));
  if (mean.some((v) => !Number.isFinite(v))) fail(op, `'mean' holds a value that is not finite`);
  const s = opts.scale ?? 1;
  const scale = typeof s === 'number' ? [s, s, s] : finiteList(op, 'scale', s, 3);
  if (!scale.every((v) => Number.isFinite(v))) fail(op, `'scale' must be finite, got ${String(s)}`);
  let pca: TransformSpec['pca'] = null;
  const p = opts.pca === undefined ? IMAGENET_PCA : opts.pca;
  if (train && p !== false) {
    if (p == null || typeof p !== 'object') fail(op, `'pca' must be { eigval, eigvec } or false, got ${String(p)}`);
    const eigval = Float64Array.from(finiteList(op, 'pca.eigval', p.eigval, 3));
    if (!Array.isArray(p.eigvec) || p.eigvec.length !== 3)
      fail(op, `'pca.eigvec' must be a 3x3 array (rows R, G, B; columns the eigenvectors), got ${describe(p.eigvec)}`);
    const eigvec = Float64Array.from(p.eigvec.flatMap((row, i) => finiteList(op, `pca.eigvec[${i}]`, row, 3)));
    const alphaStd = p.alphaStd ?? 0.1;
    if (typeof alphaStd !== 'number' || !Number.isFinite(alphaStd) || alphaStd < 0)
      fail(op, `'pca.alphaStd' must be a finite number >= 0, got ${String(alphaStd)}`);
    pca = { eigval, eigvec, alphaStd };
  }
  return { crop, train, seed, mean, scale: scale as [number, number, number], pca };
}

/**
 * The RGB offset sum_i alpha_i * lambda_i * p_i, in [0, 255] units: the eigenpairs describe
 * pixels in [0, 1], and the offset is linear in pixel units, so it scales by 255.
 */
export function lightingOffset(pca: NonNullable<TransformSpec['pca']>, alpha: readonly number[]): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let v = 0;
    for (let i = 0; i < 3; i++) v += pca.eigvec[c * 3 + i]! * alpha[i]! * pca.eigval[i]!;
    out[c] = 255 * v;
  }
  return out;
}

/**
 * Image `index`'s placement in `epoch`: a uniform crop position, a flip with p = 0.5 and the
 * lighting when training; the centre crop otherwise. Draw order is fixed (top, left, flip,
 * alpha_0..2), so turning lighting off leaves the crops and flips unchanged.
 */
export function placement(spec: TransformSpec, epoch: number, index: number): Placement {
  const span = SIDE - spec.crop;
  if (!spec.train) {
    const c = span >> 1;
    return { top: c, left: c, flip: false, lighting: [0, 0, 0], alpha: [0, 0, 0] };
  }
  const next = imageRandom(spec.seed, epoch, index);
  const top = Math.floor(next() * (span + 1));
  const left = Math.floor(next() * (span + 1));
  const flip = next() < 0.5;
  const alpha: [number, number, number] = [0, 0, 0];
  let lighting: [number, number, number] = [0, 0, 0];
  if (spec.pca) {
    for (let i = 0; i < 3; i++) alpha[i] = normal(next) * spec.pca.alphaStd;
    lighting = lightingOffset(spec.pca, alpha);
  }
  return { top, left, flip, lighting, alpha };
}

/**
 * The 10 test-time crops: the four corners (top-left, top-right, bottom-left, bottom-right),
 * the centre, then the same five flipped (torchvision's TenCrop order).
 */
export function tenCropPlacements(crop: number): Placement[] {
  const far = SIDE - crop;
  const c = far >> 1;
  const spots: [number, number][] = [
    [0, 0],
    [0, far],
    [far, 0],
    [far, far],
    [c, c],
  ];
  const zero = (): [number, number, number] => [0, 0, 0];
  return [false, true].flatMap((flip) => spots.map(([top, left]) => ({ top, left, flip, lighting: zero(), alpha: zero() })));
}

/** Writes one [3, crop, crop] input at out[offset...] from `src`, a 256x256x3 uint8 HWC image. */
export function writeInput(spec: TransformSpec, src: Uint8Array, p: Placement, out: Float32Array, offset: number): void {
  if (spec.mean.length > 3) return writeWithMeanImage(spec, src, p, out, offset);
  const crop = spec.crop;
  const plane = crop * crop;
  const [s0, s1, s2] = spec.scale;
  const a0 = p.lighting[0] - spec.mean[0]!;
  const a1 = p.lighting[1] - spec.mean[1]!;
  const a2 = p.lighting[2] - spec.mean[2]!;
  // One pass per row over the interleaved source (sequential reads), three output planes.
  for (let y = 0; y < crop; y++) {
    let i = ((p.top + y) * SIDE + p.left) * 3;
    const o = offset + y * crop;
    if (p.flip) {
      for (let x = o + crop - 1; x >= o; x--, i += 3) {
        out[x] = (src[i]! + a0) * s0;
        out[x + plane] = (src[i + 1]! + a1) * s1;
        out[x + 2 * plane] = (src[i + 2]! + a2) * s2;
      }
    } else {
      for (let x = o, e = o + crop; x < e; x++, i += 3) {
        out[x] = (src[i]! + a0) * s0;
        out[x + plane] = (src[i + 1]! + a1) * s1;
        out[x + 2 * plane] = (src[i + 2]! + a2) * s2;
      }
    }
  }
}

/** writeInput with a [3, 256, 256] mean image, read at the source pixel (before the flip). */
function writeWithMeanImage(spec: TransformSpec, src: Uint8Array, p: Placement, out: Float32Array, offset: number): void {
  const crop = spec.crop;
  const m = spec.mean;
  let o = offset;
  for (let c = 0; c < 3; c++) {
    const s = spec.scale[c]!;
    const add = p.lighting[c]!;
    for (let y = 0; y < crop; y++) {
      const row = (p.top + y) * SIDE + p.left; // pixel index of the crop row's first source pixel
      const mrow = c * SIDE * SIDE + row;
      for (let x = 0; x < crop; x++) {
        const sx = p.flip ? crop - 1 - x : x;
        out[o++] = (src[(row + sx) * 3 + c]! + add - m[mrow + sx]!) * s;
      }
    }
  }
}
