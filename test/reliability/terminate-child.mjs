// Run by workers-terminate.test.ts in its own process: starts 4 workers running ops in a loop
// (ops-loop-worker.mjs), terminates them mid-op, over several rounds; then checks that this
// (main) thread still computes correctly and exits 0. Before the fix, a completion settling a
// promise in a worker's dying environment threw Napi::Error out of CallJsInternal: SIGABRT.
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, ops } from '../../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.argv[2] ?? 6);
const WORKERS = 4;

for (let round = 0; round < ROUNDS; round++) {
  const workers = [];
  for (let k = 0; k < WORKERS; k++) {
    // Streams 0..3: workers share cpu:0 with the main thread, and each other's streams across rounds.
    const wk = new Worker(join(here, 'workers', 'ops-loop-worker.mjs'), { workerData: { stream: (k + round) % 4 } });
    workers.push(
      new Promise((resolve, reject) => {
        wk.once('message', () => resolve(wk));
        wk.once('error', reject);
      }),
    );
  }
  const started = await Promise.all(workers);
  await new Promise((r) => setTimeout(r, 15 + 10 * round)); // terminate at varying points mid-loop
  await Promise.all(started.map((wk) => wk.terminate()));
}

// The main thread's addon instance and the shared streams still work and compute correctly.
const a = Tensor.fromArray([1, -2, 3, -4], [1, 1, 2, 2]);
const k = Tensor.fromArray([2], [1, 1, 1, 1]);
const y = ops.relu(ops.conv2d(a, k));
const got = Array.from(await y.data());
if (JSON.stringify(got) !== JSON.stringify([2, 0, 6, 0])) {
  console.error(`wrong result after the rounds: ${JSON.stringify(got)}`);
  process.exit(3);
}
process.stdout.write(`rounds ${ROUNDS} ok ${JSON.stringify(got)}\n`);
