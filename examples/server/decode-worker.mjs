// A decode worker of decode-pool.mjs: encoded JPEG/PNG bytes in, the decoded pixels a network
// input is made from out (convkit's imageToPixels: AlexNet's 256x256 RGB centre, LeNet-5's grey
// H x W). Pixels, not the float input: a third of the bytes for AlexNet, which the HTTP thread
// holds while the request queues (every ArrayBuffer it receives counts as V8 external memory
// until a GC sweeps it, and that churn is what drove its Mark-Compacts). The session normalises
// them into the batch (InferenceSession.runPixels). Several workers keep one slow image from
// delaying the others, and keep decoding off the HTTP thread.
import { parentPort } from 'node:worker_threads';
// The module alone, not 'convkit': a decode worker needs sharp, not the native addon.
import { imageToPixels } from '../../dist/serve/image-input.js';

// Shared slot chunks by pixel size, as the pool announces them (slot-pool.mjs).
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
    if (!slot) return parentPort.postMessage({ id, pixels }, [pixels.buffer]);
    // Over the body, which is no longer needed: the session reads the pixels from here.
    new Uint8Array(sab, slot.offset, pixels.length).set(pixels);
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
