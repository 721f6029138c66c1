/**
 * The mean image of a training set, as AlexNet subtracts it: the per-pixel average of the
 * decoded 256x256 images, [3, 256, 256] CHW in [0, 255] units, ready for the loader's `mean`
 * option (which crops it with each image). Also its per-channel means, for `mean: [r, g, b]`.
 */
import { ArgumentError } from '../../errors.js';
import { decodeImage } from './decode.js';
import { SIDE } from './transform.js';

export async function computeMeanImage(
  paths: readonly string[],
): Promise<{ image: Float32Array; channels: [number, number, number]; count: number }> {
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string'))
    throw new ArgumentError(`computeMeanImage: 'paths' must be a non-empty array of image paths`);
  const plane = SIDE * SIDE;
  const sum = new Float64Array(3 * plane);
  const width = Math.max(4, Number(process.env.UV_THREADPOOL_SIZE) || 4);
  for (let b = 0; b < paths.length; b += width) {
    // Rejects with the first bad file's ND_FORMAT error.
    const images = await Promise.all(paths.slice(b, b + width).map((p) => decodeImage(p)));
    for (const img of images)
      for (let i = 0, px = 0; px < plane; px++, i += 3) {
        sum[px] += img[i]!;
        sum[plane + px] += img[i + 1]!;
        sum[2 * plane + px] += img[i + 2]!;
      }
  }
  const n = paths.length;
  const image = new Float32Array(3 * plane);
  const channels: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let total = 0;
    for (let px = 0; px < plane; px++) {
      const v = sum[c * plane + px]!;
      image[c * plane + px] = v / n;
      total += v;
    }
    channels[c] = total / (n * plane);
  }
  return { image, channels, count: n };
}
