// One rank of dp-ranks.test.ts (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set): LeNet-5 trained
// data-parallel over a Gloo process group for TEST_STEPS SGD steps on its shard of a fixed global
// batch (rank r takes the r-th contiguous slice), then prints its parameters' checksum and writes
// them (the flat value buffer) to TEST_OUT/rank-R.f32 for the parent to compare.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataParallel, lenet5 } from '../../lib/index.js';
import { initProcessGroup } from '../../lib/parallel/process-group.js';
import { globalBatch } from './dp-ranks-data.js';

const steps = Number(process.env.TEST_STEPS ?? 5);
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const pg = await initProcessGroup({ backend: 'gloo', timeoutMs: 30000, initTimeoutMs: 60000 });
// TEST_MISMATCH: rank 1 builds the classic form (other parameter shapes), which must fail at start-up.
const variant = process.env.TEST_MISMATCH && pg.rank === 1 ? 'classic' : 'modern';
const dp = new DataParallel((device) => lenet5({ variant, seed: 21 + pg.rank * 1000, device }), { devices: ['cpu:0'], processGroup: pg });
const sgd = dp.createOptimizer({ lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
const losses: number[] = [];
for (let s = 0; s < steps; s++) {
  const b = globalBatch(s);
  const per = b.x.length / b.n;
  const share = b.n / pg.worldSize;
  const first = pg.rank * share;
  try {
    await dp.checkRanks(share);
  } catch (e) {
    say({ rank: pg.rank, error: (e as { code?: string }).code, message: (e as Error).message });
    // Leave together: rank 0 serves the store, so it must not go before the others have read it.
    await pg.destroy().catch(() => {});
    process.exit(3);
  }
  const step = dp.trainBatch(b.x.subarray(first * per, (first + share) * per), [share, 1, 28, 28], b.labels.subarray(first, first + share));
  sgd.step();
  losses.push(await step.loss);
}
const values = (await dp.module.flat.values.data()) as Float32Array;
writeFileSync(join(process.env.TEST_OUT!, `rank-${pg.rank}.f32`), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
say({ rank: pg.rank, losses });
sgd.dispose();
dp.dispose();
await pg.destroy();
