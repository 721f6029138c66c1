/**
 * One encoded image (JPEG, PNG, anything sharp reads) to one sample for a model's input shape:
 * - [3, crop, crop] (AlexNet): the image pipeline's test-time path (shorter side to 256, centre
 *   256x256, centre crop, ImageNet channel means subtracted), as loadImageForPredict does;
 * - [1, H, W] (LeNet-5): grey, resized to H x W, dark ink on light paper read as ink = 1.
 * sharp decodes on libuv's thread pool, so this never blocks the calling thread; the example
 * server runs it on worker threads as well, to keep decoding off the HTTP thread entirely.
 */
import { ArgumentError, ConvkitError } from '../errors.js';
import { loadSharp, resizedSize } from '../data/images/decode.js';
import { SIDE, placement, transformSpec, writeInput, type TransformSpec } from '../data/images/transform.js';

/** A decompression bomb is refused before decoding: 40 Mpixel is far beyond any photo. */
const LIMIT_PIXELS = 40_000_000;
const specs = new Map<number, TransformSpec>();

function describe(src: string | Uint8Array): string {
  return typeof src === 'string' ? `'${src}'` : `of ${src.length} bytes`;
}

function fail(src: string | Uint8Array, e: unknown): ConvkitError {
  return new ConvkitError('ND_FORMAT', `cannot decode the image ${describe(src)}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
  });
}

export async function imageToSample(src: string | Uint8Array, inputShape: readonly number[]): Promise<Float32Array> {
  const op = 'imageToSample';
  if (!(typeof src === 'string' && src !== '') && !(src instanceof Uint8Array))
    throw new ArgumentError(`${op}: the image must be a file path or encoded bytes (Uint8Array)`);
  const [c, h, w] = inputShape;
  if (inputShape.length !== 3 || !(c === 1 || (c === 3 && h === w && h! <= SIDE)))
    throw new ArgumentError(`${op}: images map to [1, H, W] or [3, S, S] inputs (S <= ${SIDE}), not [${inputShape.join(', ')}]`);
  const sharp = await loadSharp();
  const input = typeof src === 'string' ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  try {
    if (c === 1) {
      const raw = await sharp(input, { limitInputPixels: LIMIT_PIXELS }).greyscale().resize(w, h, { fit: 'fill' }).raw().toBuffer();
      if (raw.length !== h! * w!) throw new Error(`expected ${h! * w!} grey bytes, got ${raw.length}`);
      const x = new Float32Array(h! * w!);
      for (let i = 0; i < x.length; i++) x[i] = 1 - raw[i]! / 255;
      return x;
    }
    const img = sharp(input, { limitInputPixels: LIMIT_PIXELS });
    const { width, height } = await img.metadata();
    if (!width || !height) throw new Error('no image size in its header');
    const [rw, rh] = resizedSize(width, height);
    const raw = await img
      .resize(rw, rh, { fit: 'fill' })
      .extract({ left: (rw - SIDE) >> 1, top: (rh - SIDE) >> 1, width: SIDE, height: SIDE })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    if (raw.length !== SIDE * SIDE * 3) throw new Error(`expected ${SIDE * SIDE * 3} RGB bytes, got ${raw.length}`);
    let spec = specs.get(h!);
    if (!spec) specs.set(h!, (spec = transformSpec(op, { crop: h }, false, 0)));
    const x = new Float32Array(3 * h! * h!);
    writeInput(spec, new Uint8Array(raw.buffer, raw.byteOffset, raw.length), placement(spec, 0, 0), x, 0);
    return x;
  } catch (e) {
    throw fail(src, e);
  }
}
