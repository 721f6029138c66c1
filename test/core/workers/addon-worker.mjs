// Loads the addon inside a worker thread and uses it: the addon must be context-aware.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const nb = require('node-gyp-build')(workerData.root);
const s = workerData.stream;
const a = nb.fromBytes(s, new Float32Array([1, 2, 3]));
const b = nb.fromBytes(s, new Float32Array([4, 5, 6]));
const y = nb.alloc(s, 12);
nb.add(s, a, b, y, 3);
const sum = Array.from(new Float32Array(await nb.read(s, y)));
if (workerData.leavePending) {
  // Queue a slow op and a read, then let the worker be terminated while they are pending.
  nb.debugSleep(s, 200);
  nb.read(s, y);
}
parentPort.postMessage({ sum });
