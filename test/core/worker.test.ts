import t from 'tap';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, device } from '../../lib/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const script = join(here, 'workers', 'addon-worker.mjs');

function run(workerData: Record<string, unknown>): Promise<{ msg: { sum: number[] }; worker: Worker; exited: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: { root, ...workerData } });
    const exited = new Promise<number>((r) => worker.once('exit', r));
    worker.once('message', (msg) => resolve({ msg, worker, exited }));
    worker.once('error', reject);
  });
}

t.test('the addon loads and computes in worker threads', async (t) => {
  const results = await Promise.all([run({ stream: 0 }), run({ stream: 2 })]);
  for (const { msg, exited } of results) {
    t.same(msg.sum, [5, 7, 9]);
    t.equal(await exited, 0, 'the worker exits on its own: no pending wait keeps it alive');
  }
  // The main thread's addon instance is unaffected.
  const x = Tensor.fromArray([1, 2]);
  t.same(Array.from(await x.data()), [1, 2]);
  x.dispose();
});

t.test('terminating a worker with pending reads does not crash the process', async (t) => {
  const { msg, worker } = await run({ stream: 3, leavePending: true });
  t.same(msg.sum, [5, 7, 9]);
  await worker.terminate();
  await device('cpu:3').synchronize(); // the stream finishes the orphaned work
  await new Promise((r) => setTimeout(r, 50));
  t.pass('process still alive after the orphaned completion');
});
