// A worker that queues ops in a loop with reads in flight, until it is terminated. It loads
// only the binding (dist/native.js: the package's one loader) so that 24 workers start quickly.
import { parentPort, workerData } from 'node:worker_threads';
import { native as nb } from '../../../dist/native.js';

const s = workerData.stream;
const n = 1 << 15;
const a = nb.fromBytes(s, new Float32Array(n).fill(1));
const y = nb.alloc(s, n * 4);
parentPort.postMessage('running');
for (let i = 0; ; i++) {
  nb.add(s, a, a, y, n);
  nb.debugSleep(s, 1); // keeps ops running when termination lands
  const pending = nb.read(s, y); // left in flight on purpose
  if (i % 4 === 0) await pending;
}
