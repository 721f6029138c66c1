/**
 * A PNG/JPEG of a handwritten digit as an MNIST-like 28x28 image for LeNet-5's predict.
 *
 * MNIST digits are white strokes on a black background. A scan or a photo of ink on paper is
 * the opposite, so with invert 'auto' an image whose mean brightness is above the middle grey
 * (mostly light: dark strokes on paper) is inverted; 'yes' and 'no' force it. The image is then
 * made grayscale (alpha flattened onto black, since transparent means "no ink" in a stroke
 * drawing after inversion too), fitted into 28x28 with its aspect ratio kept (letterboxed with
 * black), and handed to the same normalisation the training data got (normalizeFor: the
 * classic form then pads 28x28 into its 32x32 field, as MNIST is padded for it).
 * No re-centring by centre of mass is done (MNIST's own preprocessing did that): digits that
 * fill their image off-centre predict worse.
 */
import { ConvkitError } from '../errors.js';
import { loadSharp } from '../data/images/decode.js';

export type Invert = 'auto' | 'yes' | 'no';
export const DIGIT_SIDE = 28;

export async function loadDigit(path: string, invert: Invert): Promise<{ pixels: Uint8Array; inverted: boolean; mean: number }> {
  const sharp = await loadSharp();
  let grey: Buffer;
  let info: { width: number; height: number; channels: number };
  try {
    ({ data: grey, info } = await sharp(path).flatten({ background: '#000000' }).greyscale().raw().toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new ConvkitError('ND_FORMAT', `cannot read digit image '${path}': ${(e as Error).message}`, { cause: e });
  }
  const channels = info.channels;
  let sum = 0;
  for (let i = 0; i < grey.length; i += channels) sum += grey[i];
  const mean = sum / (grey.length / channels);
  const inverted = invert === 'yes' || (invert === 'auto' && mean > 127.5);
  let img = sharp(grey, { raw: { width: info.width, height: info.height, channels: channels as 1 } });
  if (channels > 1) img = img.extractChannel(0);
  if (inverted) img = img.negate({ alpha: false });
  const out = await img
    .resize(DIGIT_SIDE, DIGIT_SIDE, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 }, kernel: 'lanczos3' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  if (out.length !== DIGIT_SIDE * DIGIT_SIDE)
    throw new ConvkitError(
      'ND_INTERNAL',
      `digit image '${path}': expected ${DIGIT_SIDE * DIGIT_SIDE} pixels after resizing, got ${out.length}`,
    );
  return { pixels: new Uint8Array(out), inverted, mean };
}
