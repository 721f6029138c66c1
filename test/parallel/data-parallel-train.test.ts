// DataParallel where a model is used: fit() and evaluate() over CPU replicas equal one device,
// its checkpoints resume into one device and into replicas alike, the first gradient bucket's
// all-reduce runs while the backward pass is still going (from the streams' op trace), bad
// configurations are ND_ARG, and dropout masks differ per replica yet repeat from the seed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  DataParallel,
  type Device,
  Dropout,
  Linear,
  Model,
  ReLU,
  SGD,
  Sequential,
  Tensor,
  evaluate,
  fit,
  lenet5,
  restoreModel,
} from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { stateGap } from '../helpers/compare.js';
import { smallLoader } from '../train/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-dp-'));
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
const devices = ['cpu:1', 'cpu:2'] as const;

const worstGap = (a: Parameters<typeof stateGap>[0], b: Parameters<typeof stateGap>[1]) => stateGap(a, b).worst;

t.test('fit() and evaluate() over 2 replicas equal one device; the checkpoint resumes into one device and into replicas', async (t) => {
  // 600 samples in batches of 64: the last batch (24) splits too.
  const loader = await smallLoader(600, 64, 5);
  const single = lenet5({ seed: 3 });
  await fit(single, loader, { epochs: 2, optimizer: sgd });
  const straight = await single.stateDict();
  const evalSingle = await evaluate(single, loader);

  const path = join(dir, 'dp.safetensors');
  const dp = new DataParallel((device) => lenet5({ seed: 3, device }), { devices: [...devices] });
  const h = await fit(dp, loader, { epochs: 1, optimizer: sgd, checkpointPath: path, dataSeed: 5 });
  t.ok(h.optimizer.state().size > 0, 'the replicated optimizer keeps one set of momentum buffers (replica 0)');
  h.optimizer.dispose();
  dp.dispose();

  // Resume on one device.
  const { model: one, checkpoint } = await restoreModel(path);
  t.same(checkpoint.position, { epoch: 1, batch: 0, step: 10, seed: 5 });
  const opt1 = new SGD(one.parameters(), sgd);
  opt1.loadState(checkpoint.optimizer as never);
  await fit(one, loader, { epochs: 2, optimizer: opt1, startEpoch: 1, startStep: 10 });
  const gapOne = worstGap(straight, await one.stateDict());
  t.ok(gapOne <= 1e-5, `replicas for epoch 1, then one device for epoch 2 == one device throughout (worst ${gapOne.toExponential(2)})`);

  // Resume into replicas (3 of them this time: the checkpoint does not depend on the count).
  const dp3 = new DataParallel((device) => lenet5({ seed: 99, device }), { devices: ['cpu:1', 'cpu:2', 'cpu:3'] });
  const { model: fromFile } = await restoreModel(path);
  dp3.loadStateDict(await fromFile.stateDict());
  fromFile.dispose();
  const opt3 = dp3.createOptimizer(sgd);
  opt3.loadState(checkpoint.optimizer as never);
  await fit(dp3, loader, { epochs: 2, optimizer: opt3, startEpoch: 1, startStep: 10 });
  const gapDp = worstGap(straight, await dp3.stateDict());
  t.ok(gapDp <= 1e-5, `resumed into 3 replicas == one device throughout (worst ${gapDp.toExponential(2)})`);
  const evalDp = await evaluate(dp3, loader);
  t.equal(evalDp.count, evalSingle.count, 'evaluate() over replicas scores every sample');
  t.ok(Math.abs(evalDp.loss - evalSingle.loss) <= 1e-4, `evaluate() loss matches (${evalDp.loss} vs ${evalSingle.loss})`);
  t.ok(Math.abs(evalDp.accuracy - evalSingle.accuracy) <= 1 / evalSingle.count, 'evaluate() accuracy matches');

  for (const d of [single, one]) d.dispose();
  opt1.dispose();
  opt3.dispose();
  dp3.dispose();
  await loader.close();
});

t.test("the first bucket's all-reduce starts before the backward pass has ended (op trace)", async (t) => {
  // Small caps so that LeNet-5 has three buckets: fc layers first, c5, then c3 + c1.
  const dp = new DataParallel((device) => lenet5({ seed: 1, device }), {
    devices: [...devices],
    firstBucketBytes: 4096,
    bucketBytes: 65536,
  });
  t.ok(dp.buckets.length >= 2, `${dp.buckets.length} buckets`);
  const n = 8;
  const x = Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  await dp.trainBatch(x, [n, 1, 28, 28], labels).loss; // warm up
  native.trace(true);
  let rows: ReturnType<typeof native.trace>;
  try {
    await dp.trainBatch(x, [n, 1, 28, 28], labels).loss;
    await Promise.all(dp.devices.map((d) => d.synchronize()));
  } finally {
    rows = native.trace(false);
  }
  for (const d of dp.devices) {
    const mine = rows.filter((r) => r.stream === d.stream);
    const firstReduce = mine.find((r) => r.op === 'allReduce');
    const backward = mine.filter((r) => /Backward/.test(r.op));
    t.ok(firstReduce && backward.length, `${d.name}: the trace holds all-reduces and backward ops`);
    if (!firstReduce) continue;
    const lastBackwardEnd = Math.max(...backward.map((r) => r.endNs));
    t.ok(firstReduce.startNs < lastBackwardEnd, `${d.name}: the first all-reduce starts before the last backward op ends`);
    t.ok(
      backward.some((r) => r.startNs > firstReduce.startNs),
      `${d.name}: backward ops (of earlier layers) run after the first all-reduce has started`,
    );
  }
  dp.dispose();
});

t.test('bad configurations are ND_ARG', async (t) => {
  const f = (device: Device) => lenet5({ device });
  t.throws(() => new DataParallel(f, { devices: [] }), { code: 'ND_ARG', message: /at least one device/ });
  t.throws(() => new DataParallel(f, { devices: ['cpu:1', 'cpu:1'] }), { code: 'ND_ARG', message: /listed twice/ });
  t.throws(() => new DataParallel(f, { devices: ['cpu', 'cpu:0'] }), { code: 'ND_ARG', message: /cpu:0 is listed twice/ });
  t.throws(() => new DataParallel(f, { devices: ['cpu:1', 'cuda:0'] }), { code: 'ND_ARG', message: /mixes kinds/ });
  t.throws(() => new DataParallel(f, { devices: ['cpu:1'], bucketBytes: 0 }), { code: 'ND_ARG', message: /bucketBytes/ });
  t.throws(() => new DataParallel(f, { devices: ['cpu:1'], threadsPerReplica: 0 }), { code: 'ND_ARG', message: /threadsPerReplica/ });
  t.throws(
    () =>
      new DataParallel((device, r) => (r === 0 ? lenet5({ device }) : lenet5({ variant: 'classic', device })), { devices: [...devices] }),
    { code: 'ND_ARG', message: /replica 1 .* does not have replica 0's parameters/ },
  );
  const dp = new DataParallel(f, { devices: ['cpu:1', 'cpu:2', 'cpu:3'] });
  t.throws(() => dp.trainBatch(new Float32Array(2 * 784), [2, 1, 28, 28], new Int32Array(2)), {
    code: 'ND_ARG',
    message: /batch of 2 cannot be split over 3 replicas/,
  });
  t.throws(() => dp.trainBatch(new Float32Array(5), [3, 1, 28, 28], new Int32Array(3)), { code: 'ND_ARG', message: /needs 2352 values/ });
  dp.dispose();
  t.throws(() => dp.trainBatch(new Float32Array(3 * 784), [3, 1, 28, 28], new Int32Array(3)), { code: 'ND_ARG', message: /disposed/ });
});

t.test('dropout masks differ per replica and repeat from the seed', async (t) => {
  const build = (device: Device) =>
    new Model(
      'tiny',
      new Sequential([
        new Linear({ inFeatures: 64, outFeatures: 64, seed: 1, device, name: 'fc1' }),
        new ReLU('relu'),
        new Dropout({ p: 0.5, seed: 7, name: 'drop' }),
        new Linear({ inFeatures: 64, outFeatures: 4, seed: 2, device, name: 'fc2' }),
      ]),
      [64],
      'softmax-cross-entropy',
      {},
    );
  const outputs = async (dp: DataParallel) => {
    const out: Float32Array[] = [];
    for (const [r, m] of dp.replicas.entries()) {
      const x = Tensor.fromArray(
        Float32Array.from({ length: 64 }, (_, i) => 1 + i / 64),
        [1, 64],
        { device: dp.devices[r] },
      );
      m.net.train(true);
      const y = m.net.forward(x);
      out.push((await y.data()) as Float32Array);
      m.net.releaseSaved();
      y.dispose();
      x.dispose();
    }
    return out;
  };
  const a = new DataParallel(build, { devices: [...devices] });
  const first = await outputs(a);
  a.dispose();
  const b = new DataParallel(build, { devices: [...devices] });
  const again = await outputs(b);
  b.dispose();
  t.notSame(Array.from(first[0]), Array.from(first[1]), 'replica 0 and replica 1 drop different units of the same input');
  t.same(Array.from(again[0]), Array.from(first[0]), 'replica 0 draws the same masks from the same seed');
  t.same(Array.from(again[1]), Array.from(first[1]), 'replica 1 draws the same masks from the same seed');
});
