// Sharding by rank (lib/data/shard.ts) and its wiring into DataLoader: shards are disjoint and
// cover the epoch, every rank computes the same reshuffle each epoch, uneven tails are dropped or
// padded, and a loader without a shard behaves as before.
import t from 'tap';
import { DataLoader, InMemoryDataset, epochOrder, shardLength, shardOrder, type Batch } from '../../lib/data/index.js';
import { checkShard } from '../../lib/data/shard.js';

/** count 1x1x1 samples labelled with their own index, so batches reveal which samples they hold. */
function dataset(count: number): InMemoryDataset {
  return new InMemoryDataset({
    images: new Uint8Array(count),
    labels: Array.from({ length: count }, (_, i) => i),
    count,
    channels: 1,
    height: 1,
    width: 1,
  });
}

async function labelsOf(loader: DataLoader, epoch: number): Promise<number[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out.flatMap((b) => Array.from(b.labels));
}

t.test("'drop': equal, disjoint shards that cover all but the tail of the epoch", async (t) => {
  const count = 103;
  const worldSize = 4;
  const order = epochOrder(count, 9, 2);
  const shards = Array.from({ length: worldSize }, (_, rank) => Array.from(shardOrder(order, { rank, worldSize, tail: 'drop' })));
  for (const s of shards) t.equal(s.length, Math.floor(count / worldSize), 'every rank gets floor(count / worldSize)');
  const all = shards.flat();
  t.equal(new Set(all).size, all.length, 'no sample is on two ranks');
  t.same(
    [...all].sort((a, b) => a - b),
    [...order.subarray(0, 100)].sort((a, b) => a - b),
    "together they are the epoch's order less its last 3",
  );
});

t.test("'pad': every rank gets ceil(count / worldSize), all samples are covered, the padding repeats the order's start", async (t) => {
  const count = 10;
  const worldSize = 4;
  const order = epochOrder(count, 3, 0);
  const shards = Array.from({ length: worldSize }, (_, rank) => Array.from(shardOrder(order, { rank, worldSize, tail: 'pad' })));
  for (const s of shards) t.equal(s.length, 3);
  const all = shards.flat();
  t.equal(new Set(all).size, count, 'every sample is on some rank');
  // Positions 10 and 11 of the evened-out order wrap to order[0] and order[1] (ranks 2 and 3's last).
  t.equal(shards[2]![2], order[0]);
  t.equal(shards[3]![2], order[1]);
  t.equal(shardLength(count, { rank: 0, worldSize, tail: 'pad' }), 3);
  t.equal(shardLength(count, { rank: 0, worldSize, tail: 'drop' }), 2);
});

t.test('DataLoader with a shard: each rank reads its shard, epoch-aware and identical across ranks', async (t) => {
  const count = 50;
  const worldSize = 3;
  const ds = dataset(count);
  const loaders = Array.from(
    { length: worldSize },
    (_, rank) => new DataLoader(ds, { batchSize: 4, seed: 11, prefetch: 0, shard: { rank, worldSize, tail: 'drop' } }),
  );
  t.teardown(() => Promise.all(loaders.map((l) => l.close())));
  for (const l of loaders) {
    t.equal(l.samplesPerEpoch, 16);
    t.equal(l.batchesPerEpoch, 4, 'batches per epoch come from the shard, so every rank takes as many steps');
  }
  const byEpoch: number[][][] = [];
  for (const epoch of [0, 1]) {
    const shards = await Promise.all(loaders.map((l) => labelsOf(l, epoch)));
    byEpoch.push(shards);
    const all = shards.flat();
    t.equal(new Set(all).size, 48, `epoch ${epoch}: disjoint shards`);
    const expected = epochOrder(count, 11, epoch);
    shards.forEach((s, rank) =>
      t.same(
        s,
        Array.from(shardOrder(expected, { rank, worldSize, tail: 'drop' })),
        `epoch ${epoch} rank ${rank}: the shard of the shared order`,
      ),
    );
  }
  t.notSame(byEpoch[0]![0], byEpoch[1]![0], 'a new epoch reshuffles');
  // The worker-thread path gives the same samples as the calling-thread path.
  const prefetched = new DataLoader(ds, { batchSize: 4, seed: 11, shard: { rank: 1, worldSize, tail: 'drop' } });
  t.teardown(() => prefetched.close());
  t.same(await labelsOf(prefetched, 1), byEpoch[1]![1], 'prefetching on a worker reads the same shard');
});

t.test('without a shard the loader is unchanged', async (t) => {
  const ds = dataset(23);
  const l = new DataLoader(ds, { batchSize: 5, seed: 4, prefetch: 0 });
  t.teardown(() => l.close());
  t.equal(l.shard, null);
  t.equal(l.samplesPerEpoch, 23);
  t.equal(l.batchesPerEpoch, 5);
  t.same(await labelsOf(l, 3), Array.from(epochOrder(23, 4, 3)));
});

t.test('bad shard options are ND_ARG', async (t) => {
  const ds = dataset(8);
  t.throws(() => new DataLoader(ds, { batchSize: 2, shard: { rank: 2, worldSize: 2 } }), {
    code: 'ND_ARG',
    message: /shard.rank must be an integer in \[0, 2\)/,
  });
  t.throws(() => new DataLoader(ds, { batchSize: 2, shard: { rank: 0, worldSize: 0 } }), { code: 'ND_ARG', message: /shard.worldSize/ });
  t.throws(() => checkShard('x', { rank: 0, worldSize: 2, tail: 'wrap' as 'pad' }), {
    code: 'ND_ARG',
    message: /shard.tail must be 'drop' or 'pad'/,
  });
  t.equal(checkShard('x', { rank: 1, worldSize: 2 })?.tail, 'pad', "the default tail is PyTorch's: pad");
});
