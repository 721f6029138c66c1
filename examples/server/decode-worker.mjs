// A decode worker of decode-pool.mjs: encoded JPEG/PNG bytes in, the network's float input out
// (convkit's imageToPixels, then writePixels: AlexNet's 256x256 RGB centre cropped and less the
// channel means, LeNet-5's grey H x W as ink). Normalising here, not on the HTTP thread, is what
// keeps the event loop short: writing AlexNet's 32 floats samples of a batch there took 37-101 ms
// per batch under load (bench/RESULTS.md). With a slot, the floats go into shared memory reused
// from request to request, so the HTTP thread holds no fresh buffer per request (every
// ArrayBuffer it receives counts as V8 external memory until a GC sweeps it); the session reads
// them in place, and the executor gathers them into the batch. Several workers keep one slow
// image from delaying the others.
import { parentPort } from 'node:worker_threads';
// The module alone, not 'convkit': a decode worker needs sharp, not the native addon.
import { imageToPixels, writePixels } from '../../dist/serve/image-input.js';

// Shared slot chunks by slot size, as the pool announces them (slot-pool.mjs).
const chunks = new Map();

parentPort.on('message', async (m) => {
  if (m.chunkOf !== undefined) {
    if (!chunks.has(m.chunkOf)) chunks.set(m.chunkOf, []);
    chunks.get(m.chunkOf)[m.chunk] = m.sab;
    return;
  }
  const { id, slot, shape } = m;
  try {
    const sab = slot ? chunks.get(slot.size)?.[slot.chunk] : null;
    if (slot && !sab) throw new Error(`no shared chunk ${slot.chunk} of ${slot.size}-byte slots`);
    // The body is either in the slot (read there by the HTTP thread) or its own transferred array.
    const body = m.bytes ?? new Uint8Array(sab, slot.offset, m.bodyLength);
    const pixels = await imageToPixels(body, shape);
    const floats = shape.reduce((a, b) => a * b, 1);
    // Over the body, which sharp has finished reading: the session reads the floats from here.
    const x = slot ? new Float32Array(sab, slot.offset, floats) : new Float32Array(floats);
    writePixels(pixels, shape, x, 0);
    if (slot) parentPort.postMessage({ id });
    else parentPort.postMessage({ id, x }, [x.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
