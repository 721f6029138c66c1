/**
 * One encoded image (JPEG, PNG, anything sharp reads) to one sample for a model's input shape:
 * - [3, crop, crop] (AlexNet): the image pipeline's test-time path (shorter side to 256, centre
 *   256x256, centre crop, ImageNet channel means subtracted), as loadImageForPredict does;
 * - [1, H, W] (LeNet-5): grey, resized to H x W, dark ink on light paper read as ink = 1.
 * sharp decodes on libuv's thread pool, so this never blocks the calling thread; the example
 * server runs it on worker threads as well, to keep decoding off the HTTP thread entirely.
 *
 * Two stages, so that a server can keep float inputs off its HTTP thread's heap: imageToPixels
 * decodes to the bytes a sample is made from (AlexNet: the 256x256 RGB centre, 192 KiB, a
 * third of the 604 KiB float sample), and writePixels normalises them into a batch buffer
 * (InferenceSession.runPixels does so when the batch is assembled). imageToSample is the two.
 */
import { ArgumentError, ConvkitError, ShapeError } from '../errors.js';
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

/** [c, h, w] of an image model's input, or ND_ARG naming the shape. */
function imageShape(op: string, inputShape: readonly number[]): [number, number, number] {
  const [c, h, w] = inputShape;
  if (inputShape.length !== 3 || !(c === 1 || (c === 3 && h === w && h! <= SIDE)))
    throw new ArgumentError(`${op}: images map to [1, H, W] or [3, S, S] inputs (S <= ${SIDE}), not [${inputShape.join(', ')}]`);
  return [c!, h!, w!];
}

/** Bytes of the pixels one sample of `inputShape` is made from: 256*256*3 (RGB, HWC) or H*W (grey). */
export function pixelLength(inputShape: readonly number[]): number {
  const [c, h, w] = imageShape('pixelLength', inputShape);
  return c === 3 ? SIDE * SIDE * 3 : h * w;
}

/** The decoded pixels of one image for `inputShape` (see pixelLength); undecodable: ND_FORMAT. */
export async function imageToPixels(src: string | Uint8Array, inputShape: readonly number[]): Promise<Uint8Array> {
  const op = 'imageToPixels';
  if (!(typeof src === 'string' && src !== '') && !(src instanceof Uint8Array))
    throw new ArgumentError(`${op}: the image must be a file path or encoded bytes (Uint8Array)`);
  const [c, h, w] = imageShape(op, inputShape);
  const sharp = await loadSharp();
  const input = typeof src === 'string' ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  try {
    let raw: Buffer;
    if (c === 1) {
      raw = await sharp(input, { limitInputPixels: LIMIT_PIXELS }).greyscale().resize(w, h, { fit: 'fill' }).raw().toBuffer();
      if (raw.length !== h * w) throw new Error(`expected ${h * w} grey bytes, got ${raw.length}`);
    } else {
      const img = sharp(input, { limitInputPixels: LIMIT_PIXELS });
      const { width, height } = await img.metadata();
      if (!width || !height) throw new Error('no image size in its header');
      const [rw, rh] = resizedSize(width, height);
      raw = await img
        .resize(rw, rh, { fit: 'fill' })
        .extract({ left: (rw - SIDE) >> 1, top: (rh - SIDE) >> 1, width: SIDE, height: SIDE })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer();
      if (raw.length !== SIDE * SIDE * 3) throw new Error(`expected ${SIDE * SIDE * 3} RGB bytes, got ${raw.length}`);
    }
    // A standalone copy: sharp's Buffer may sit in a shared pool, and a caller transfers this one.
    return new Uint8Array(raw);
  } catch (e) {
    throw fail(src, e);
  }
}

/**
 * Normalises `pixels` (imageToPixels for `inputShape`) into out[offset, offset + sample size):
 * AlexNet's centre crop minus the ImageNet channel means; LeNet-5's ink = 1 - grey / 255.
 * Pixels cannot hold a NaN, so the result needs no finite check.
 */
export function writePixels(pixels: Uint8Array, inputShape: readonly number[], out: Float32Array, offset: number): void {
  const op = 'writePixels';
  const [c, h, w] = imageShape(op, inputShape);
  const want = c === 3 ? SIDE * SIDE * 3 : h * w;
  if (pixels.length !== want)
    throw new ShapeError(`${op}: [${inputShape.join(', ')}] is made from ${want} pixel bytes, got ${pixels.length}`);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + c * h * w > out.length)
    throw new ArgumentError(`${op}: a sample of ${c * h * w} values at ${offset} does not fit an output of ${out.length}`);
  if (c === 1) {
    for (let i = 0; i < want; i++) out[offset + i] = 1 - pixels[i]! / 255;
    return;
  }
  let spec = specs.get(h);
  if (!spec) specs.set(h, (spec = transformSpec(op, { crop: h }, false, 0)));
  writeInput(spec, pixels, placement(spec, 0, 0), out, offset);
}

export async function imageToSample(src: string | Uint8Array, inputShape: readonly number[]): Promise<Float32Array> {
  const pixels = await imageToPixels(src, inputShape);
  const x = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
  writePixels(pixels, inputShape, x, 0);
  return x;
}
