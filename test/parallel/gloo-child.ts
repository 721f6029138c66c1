// One rank of gloo.test.ts, started with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set. Its mode
// (argv[2]) picks what it does; it prints one JSON line per result for the parent to check.
//   collectives: all-reduce sum and mean, a ranged all-reduce, broadcast, barrier
//   loop:        all-reduces forever (the parent kills one rank and times the others' failure)
//   mismatch:    checkSame with a value that differs on rank 1
import { Tensor } from '../../lib/tensor/tensor.js';
import { initProcessGroup, shapeSignature } from '../../lib/parallel/process-group.js';

const mode = process.argv[2];
const timeoutMs = Number(process.env.TEST_GLOO_TIMEOUT_MS ?? 10000);
// Joining waits for the slowest rank's start-up (loading the addon on a loaded machine), which
// has nothing to do with the collectives' timeout under test.
const initTimeoutMs = Number(process.env.TEST_GLOO_INIT_TIMEOUT_MS ?? 60000);
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

/** The values rank r contributes: deterministic, different per rank and element. */
function values(rank: number, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.fround((rank + 1) * 0.5 + i * 0.25 - (i % 7) * (rank + 2));
  return v;
}

const pg = await initProcessGroup({ backend: 'gloo', timeoutMs, initTimeoutMs });
say({ joined: pg.rank, worldSize: pg.worldSize, localRank: pg.localRank });
if (mode === 'collectives') {
  const n = 1000;
  const sum = Tensor.fromArray(values(pg.rank, n), [n]);
  pg.allReduce(sum);
  const mean = Tensor.fromArray(values(pg.rank, n), [n]);
  pg.allReduce(mean, { op: 'mean' });
  const ranged = Tensor.fromArray(values(pg.rank, n), [n]);
  pg.allReduce(ranged, { offset: 100, length: 50 });
  const b = Tensor.fromArray(values(pg.rank, 10), [10]);
  pg.broadcast(b, pg.worldSize - 1);
  await pg.barrier();
  say({
    rank: pg.rank,
    sum: [...(await sum.data())],
    mean: [...(await mean.data())],
    ranged: [...(await ranged.data())],
    broadcast: [...(await b.data())],
  });
} else if (mode === 'loop') {
  const x = Tensor.fromArray(values(pg.rank, 4096), [4096]);
  say({ looping: pg.rank });
  try {
    for (let i = 0; ; i++) {
      pg.allReduce(x, { op: 'mean' });
      await x.device.synchronize();
      if (i === 3) say({ steady: pg.rank });
    }
  } catch (err) {
    const e = err as { code?: string; message: string };
    say({ rank: pg.rank, failed: e.code, message: e.message });
    process.exit(3);
  }
} else if (mode === 'mismatch') {
  try {
    await pg.checkSame('model', shapeSignature([[6, 1, 5, 5], [6]], pg.rank === 1 ? 32 : 64));
    say({ rank: pg.rank, agreed: true });
  } catch (err) {
    const e = err as { code?: string; message: string };
    say({ rank: pg.rank, failed: e.code, message: e.message });
  }
}
await pg.destroy();
say({ done: pg.rank });
