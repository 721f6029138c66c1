// A decode worker of decode-pool.mjs: encoded JPEG/PNG bytes in, one network input out
// (float32 CHW), through convkit's imageToSample (AlexNet: the image pipeline's test-time
// crop and mean; LeNet-5: grey, resized). Several workers keep one slow image from delaying
// the others, and keep decoding off the HTTP thread.
import { parentPort } from 'node:worker_threads';
// The module alone, not 'convkit': a decode worker needs sharp, not the native addon.
import { imageToSample } from '../../dist/serve/image-input.js';

parentPort.on('message', async ({ id, bytes, shape }) => {
  try {
    const x = await imageToSample(bytes, shape);
    parentPort.postMessage({ id, x }, [x.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
