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

parentPort.on('message', async ({ id, bytes, shape }) => {
  try {
    const pixels = await imageToPixels(bytes, shape);
    parentPort.postMessage({ id, pixels }, [pixels.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
