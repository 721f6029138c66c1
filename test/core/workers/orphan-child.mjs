// Run by worker.test.ts in a child process, so that a crash is an exit status the test can see
// instead of the death of the test runner. A worker queues a slow op and a read on cpu:3 and is
// terminated while they are pending; this thread then waits for the orphaned completion and
// checks that the addon still computes here. Prints one JSON line; exit status 0 on success.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const require = createRequire(import.meta.url);
const nb = require('node-gyp-build')(root);

const worker = new Worker(join(here, 'addon-worker.mjs'), { workerData: { root, stream: 3, leavePending: true } });
const msg = await new Promise((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});
await worker.terminate();
await nb.synchronize(3); // the stream finishes the orphaned work (its 200 ms sleep and read)
await new Promise((r) => setTimeout(r, 300)); // room for a late completion callback to misfire
// The main thread's instance still computes, on the stream the worker used and on another.
const sums = [];
for (const s of [3, 0]) {
  const a = nb.fromBytes(s, new Float32Array([1, 2, 3]));
  const b = nb.fromBytes(s, new Float32Array([10, 20, 30]));
  const y = nb.alloc(s, 12);
  nb.add(s, a, b, y, 3);
  sums.push(Array.from(new Float32Array(await nb.read(s, y))));
  for (const h of [a, b, y]) nb.release(h);
}
process.stdout.write(JSON.stringify({ workerSum: msg.sum, sums, pending: nb.pending(3) }) + '\n');
