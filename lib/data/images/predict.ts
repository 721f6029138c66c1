/**
 * One image file to network inputs for prediction: the centre crop, or AlexNet's 10 test crops
 * (the four corners and the centre, then the same five flipped; average their softmax).
 */
import { ArgumentError } from '../../errors.js';
import { decodeImage } from './decode.js';
import { placement, tenCropPlacements, transformSpec, writeInput, type TransformOptions } from './transform.js';

export interface PredictImageOptions extends Omit<TransformOptions, 'pca'> {
  /** 227 (default) or 224. */
  crop?: number;
  /** 10 crops instead of the centre one (default false). */
  tenCrop?: boolean;
}

/** The inputs for the image at `path`: x is [k, 3, crop, crop] with k = 10 for tenCrop, else 1. */
export async function loadImageForPredict(
  path: string,
  opts: PredictImageOptions = {},
): Promise<{ x: Float32Array; shape: [number, number, number, number] }> {
  if (typeof path !== 'string' || path === '')
    throw new ArgumentError(`loadImageForPredict: 'path' must be a file path, got ${String(path)}`);
  const spec = transformSpec('loadImageForPredict', { ...opts, pca: false }, false, 0);
  const image = await decodeImage(path);
  const places = opts.tenCrop ? tenCropPlacements(spec.crop) : [placement(spec, 0, 0)];
  const per = 3 * spec.crop * spec.crop;
  const x = new Float32Array(places.length * per);
  places.forEach((p, i) => writeInput(spec, image, p, x, i * per));
  return { x, shape: [places.length, 3, spec.crop, spec.crop] };
}
