// A decode worker of decode-pool.mjs: encoded JPEG/PNG bytes in, one network input out
// (float32 CHW), with convkit's own image pipeline for AlexNet (shorter side to 256, centre
// 256x256, centre crop, ImageNet mean subtracted) and a grey resize to the input size for
// LeNet-5 (ink 1, paper 0 after scaling to [0, 1]). sharp works on libuv's pool; several
// workers keep one slow image from delaying the others' answers.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
// Pure helpers (no native addon): the same code the training loader runs.
import { resizedSize } from '../../dist/data/images/decode.js';
import { SIDE, placement, transformSpec, writeInput } from '../../dist/data/images/transform.js';

// Refuse decompression bombs before decoding: 40 Mpixel is far beyond any photo a client sends.
const LIMIT_PIXELS = 40_000_000;
const specs = new Map();

function rgbSpec(crop) {
  let s = specs.get(crop);
  if (!s) specs.set(crop, (s = transformSpec('server', { crop }, false, 0)));
  return s;
}

async function rgbInput(bytes, crop) {
  const img = sharp(bytes, { limitInputPixels: LIMIT_PIXELS });
  const { width, height } = await img.metadata();
  if (!width || !height) throw new Error('no image size in its header');
  const [w, h] = resizedSize(width, height);
  const raw = await img
    .resize(w, h, { fit: 'fill' })
    .extract({ left: (w - SIDE) >> 1, top: (h - SIDE) >> 1, width: SIDE, height: SIDE })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer();
  if (raw.length !== SIDE * SIDE * 3) throw new Error(`expected ${SIDE * SIDE * 3} RGB bytes, got ${raw.length}`);
  const spec = rgbSpec(crop);
  const x = new Float32Array(3 * crop * crop);
  writeInput(spec, new Uint8Array(raw.buffer, raw.byteOffset, raw.length), placement(spec, 0, 0), x, 0);
  return x;
}

async function greyInput(bytes, side) {
  const raw = await sharp(bytes, { limitInputPixels: LIMIT_PIXELS }).greyscale().resize(side, side, { fit: 'fill' }).raw().toBuffer();
  if (raw.length !== side * side) throw new Error(`expected ${side * side} grey bytes, got ${raw.length}`);
  const x = new Float32Array(side * side);
  for (let i = 0; i < x.length; i++) x[i] = 1 - raw[i] / 255;
  return x;
}

parentPort.on('message', async ({ id, bytes, shape }) => {
  try {
    const [c, h] = shape;
    const x = c === 3 ? await rgbInput(bytes, h) : await greyInput(bytes, h);
    parentPort.postMessage({ id, x }, [x.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
