// One process of processes.mjs: joins the Gloo process group from torchrun's variables, trains
// its replica for `steps` steps on its share of a fixed global batch, and prints one JSON line:
// images/s of the whole group (its share times the world size) and the time its stream spent in
// Gloo all-reduces per step (from the op trace: Gloo blocks the stream while it runs).
import { DataParallel, alexnet, initProcessGroup, lenet5 } from '../../dist/index.js';
import { native } from '../../dist/native.js';

const [name, batchArg, stepsArg, threadsArg] = process.argv.slice(2);
const batch = Number(batchArg);
const steps = Number(stepsArg);
const build = {
  lenet5: { make: (device) => lenet5({ seed: 1, device }), sample: [1, 28, 28], classes: 10 },
  alexnet: { make: (device) => alexnet({ seed: 1, device, dropout: 0 }), sample: [3, 227, 227], classes: 1000 },
}[name];
const pg = await initProcessGroup({ backend: 'gloo', timeoutMs: 120000 });
const share = batch / pg.worldSize;
const per = build.sample.reduce((a, b) => a * b, 1);
const x = Float32Array.from({ length: share * per }, (_, i) => Math.sin(i * 0.37 + pg.rank));
const labels = Int32Array.from({ length: share }, (_, i) => (i + pg.rank) % build.classes);
const dp = new DataParallel(build.make, { devices: ['cpu:0'], processGroup: pg, threadsPerReplica: Number(threadsArg) });
const sgd = dp.createOptimizer({ lr: 0.001, momentum: 0.9 });
const shape = [share, ...build.sample];
await dp.checkRanks(share); // the same model and batch on every rank, then rank 0's values
for (let i = 0; i < 2; i++) {
  const s = dp.trainBatch(x, shape, labels);
  sgd.step();
  await s.loss;
}
await pg.barrier();
native.trace(true);
const t0 = performance.now();
let last = null;
for (let i = 0; i < steps; i++) {
  const s = dp.trainBatch(x, shape, labels);
  sgd.step();
  if (last) await last.loss;
  last = s;
}
await last.loss;
const seconds = (performance.now() - t0) / 1000;
// Every Gloo all-reduce on this stream: the gradient buckets and the 3-float metrics one (which
// the trace cannot tell apart by name), waits for the slower peer included.
const rows = native.trace(false).filter((r) => r.op === 'allReduce' && r.stream === 0);
const reduceMs = rows.reduce((a, r) => a + (r.endNs - r.startNs) / 1e6, 0);
process.stdout.write(
  `${JSON.stringify({ rank: pg.rank, worldSize: pg.worldSize, imagesPerSec: (steps * batch) / seconds, allReduceMsPerStep: reduceMs / steps, stepMs: (seconds * 1000) / steps, bytesPerStep: dp.module.flat.size * 4 })}\n`,
);
sgd.dispose();
dp.dispose();
await pg.destroy();
