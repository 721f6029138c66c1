/**
 * Decoding one image file (JPEG, PNG, or anything else sharp reads) to AlexNet's canonical
 * 256x256: RGB (grey replicated to three channels, alpha dropped), the shorter side resized to
 * exactly 256 with the aspect ratio kept, then the centre 256x256. The result is uint8 HWC.
 *
 * sharp decodes and resizes on libuv's thread pool, so this never blocks the calling thread.
 * EXIF orientation is not applied, as in torchvision's ImageNet pipeline (PIL's Image.open
 * ignores it). sharp's default failOn: 'warning' stands: a truncated JPEG is an error, not a
 * half-grey image.
 */
import type sharpType from 'sharp';
import { ConvkitError } from '../../errors.js';
import { SIDE } from './transform.js';

type Sharp = typeof sharpType;
let sharpLoaded: Promise<Sharp> | null = null;

/**
 * sharp, loaded on first use so that importing convkit never depends on it. The loader calls
 * this on the main thread before starting workers: on glibc Linux sharp's shared libraries
 * must be loaded there first to outlive the workers (sharp's notes on worker threads).
 */
export function loadSharp(): Promise<Sharp> {
  sharpLoaded ??= import('sharp').then(
    (m) => m.default,
    (e: Error) => {
      sharpLoaded = null;
      throw new ConvkitError('ND_INTERNAL', `convkit's image pipeline needs the 'sharp' package, which did not load: ${e.message}`, {
        cause: e,
      });
    },
  );
  return sharpLoaded;
}

/** The resized size of a w x h image: the shorter side becomes `side` exactly. */
export function resizedSize(width: number, height: number, side = SIDE): [number, number] {
  if (width <= height) return [side, Math.max(side, Math.round((height * side) / width))];
  return [Math.max(side, Math.round((width * side) / height)), side];
}

function formatError(path: string, what: string, cause: unknown): ConvkitError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ConvkitError('ND_FORMAT', `cannot ${what} image '${path}': ${why}`, { cause });
}

/**
 * The 256x256x3 uint8 HWC pixels of the image at `path`, written into `into` when given (a view
 * over a SharedArrayBuffer lets the loader cache it for every worker); malformed or missing
 * files reject with an ND_FORMAT ConvkitError naming the file.
 */
export async function decodeImage(path: string, into?: Uint8Array): Promise<Uint8Array> {
  const sharp = await loadSharp();
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(path).metadata());
  } catch (e) {
    throw formatError(path, 'read', e);
  }
  if (!width || !height) throw formatError(path, 'read', new Error(`no image size in its header`));
  const [w, h] = resizedSize(width, height);
  let data: Buffer;
  try {
    data = await sharp(path)
      .resize(w, h, { fit: 'fill' })
      .extract({ left: (w - SIDE) >> 1, top: (h - SIDE) >> 1, width: SIDE, height: SIDE })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  } catch (e) {
    throw formatError(path, 'decode', e);
  }
  if (data.length !== SIDE * SIDE * 3)
    throw formatError(path, 'decode', new Error(`expected ${SIDE * SIDE * 3} RGB bytes, sharp gave ${data.length}`));
  const out = into ?? new Uint8Array(SIDE * SIDE * 3);
  out.set(data);
  return out;
}
