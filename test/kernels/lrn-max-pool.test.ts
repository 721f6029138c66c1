import t from 'tap';
import { Tensor, device, ops, setIsa, supportedIsas } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import type { LrnOptions } from '../../lib/ops/lrn.js';
import type { Pool2dOptions } from '../../lib/ops/pool.js';
import { randomTensor } from '../helpers/random-tensor.js';
import { convReluLrnPool, forwardEachLayer } from '../helpers/layer-chain.js';

// lrnMaxPool2d (eval mode's LocalResponseNorm + MaxPool2d in one op) against the two ops it
// replaces, bit for bit: batches split image by image across the pool, and the small batches
// that run the two kernels over the whole batch through one scratch tensor.

const profile = native.profile as (on?: boolean) => { op: string; calls: number; ms: number }[];
const bytesOf = async (x: Tensor) => Buffer.from((await x.data()).buffer);
const paper: LrnOptions = { alphaConvention: 'literal', size: 5, alpha: 1e-4, beta: 0.75, k: 2 };

const cases: [string, number[], LrnOptions, Pool2dOptions][] = [
  ["AlexNet's norm1 -> pool1 form, 8 images (image by image)", [8, 12, 15, 15], { ...paper, alpha: 0.05 }, { kernelSize: 3, stride: 2 }],
  ['one image (the whole-batch path)', [1, 7, 11, 13], { ...paper, alpha: 0.05 }, { kernelSize: 3, stride: 2 }],
  ['three images (an uneven share: the whole-batch path on two threads)', [3, 6, 9, 9], paper, { kernelSize: 2 }],
  [
    'nine images, per-size alpha, beta 0.5 (the portable LRN loop)',
    [9, 5, 7, 8],
    { alphaConvention: 'per-size', size: 3, alpha: 2, beta: 0.5, k: 1 },
    { kernelSize: 3, stride: 2, padding: 1, ceilMode: true },
  ],
  [
    'a window wider than the channels',
    [4, 3, 6, 6],
    { alphaConvention: 'per-size', size: 7, alpha: 1, beta: 0.75, k: 1 },
    { kernelSize: [2, 3], stride: [1, 2] },
  ],
];

t.test('lrnMaxPool2d equals maxPool2dValues(lrnOutput(x)) bit for bit at every ISA level', async (t) => {
  let seed = 4400;
  t.teardown(async () => {
    await device('cpu').synchronize(); // setIsa refuses while ops are queued
    setIsa('auto');
  });
  for (const level of supportedIsas())
    for (const [name, shape, lrn, pool] of cases) {
      await device('cpu').synchronize();
      setIsa(level);
      const x = randomTensor(shape, seed++, { lo: -3, hi: 3 });
      const mid = ops.lrnOutput(x, lrn);
      const ref = ops.maxPool2dValues(mid, pool);
      const got = ops.lrnMaxPool2d(x, lrn, pool);
      t.same(got.shape, ref.shape, `${level}: ${name}: shape ${ref.shape.join('x')}`);
      t.same(await bytesOf(got), await bytesOf(ref), `${level}: ${name}`);
      // The LRN must have changed the values, or the comparison would not see it.
      const [a, b] = [await x.data(), await mid.data()];
      t.ok(
        a.some((v, i) => v !== b[i]),
        `${level}: ${name}: the LRN changes its input`,
      );
      for (const u of [x, mid, ref, got]) u.dispose();
    }
});

t.test('NaN and infinity go through as in the two ops', async (t) => {
  const values = new Float32Array(6 * 4 * 8 * 8).map((_, i) => Math.sin(i * 0.7) * 4);
  values[10] = NaN;
  values[300] = Infinity;
  values[1000] = -Infinity;
  const x = Tensor.fromArray(values, [6, 4, 8, 8]);
  const pool = { kernelSize: 3, stride: 2 };
  const mid = ops.lrnOutput(x, paper);
  const ref = ops.maxPool2dValues(mid, pool);
  const got = ops.lrnMaxPool2d(x, paper, pool);
  t.ok((await ref.data()).some(Number.isNaN), 'some windows hold a NaN');
  t.same(await bytesOf(got), await bytesOf(ref), 'same bits');
  for (const u of [x, mid, ref, got]) u.dispose();
});

t.test('lrnMaxPool2d refuses what either op would', async (t) => {
  const x = randomTensor([2, 3, 6, 6], 5);
  t.throws(() => ops.lrnMaxPool2d(x, { size: 5 } as never, { kernelSize: 2 }), {
    code: 'ND_ARG',
    message: /lrnMaxPool2d: alphaConvention/,
  });
  t.throws(() => ops.lrnMaxPool2d(x, { ...paper, k: 0 }, { kernelSize: 2 }), { code: 'ND_ARG', message: /lrnMaxPool2d: 'k' must be > 0/ });
  t.throws(() => ops.lrnMaxPool2d(x, paper, { kernelSize: 7 }), { code: 'ND_SHAPE', message: /lrnMaxPool2d: input \[2, 3, 6, 6\]/ });
  t.throws(() => ops.lrnMaxPool2d(x, paper, { kernelSize: 3, padding: 2 }), { code: 'ND_ARG', message: /lrnMaxPool2d: padding/ });
  const flat = randomTensor([2, 3, 36], 6);
  t.throws(() => ops.lrnMaxPool2d(flat, paper, { kernelSize: 2 }), { code: 'ND_SHAPE', message: /lrnMaxPool2d: 'x'/ });
  for (const u of [x, flat]) u.dispose();
});

t.test('Sequential runs LocalResponseNorm + MaxPool2d as one op in eval mode only, with the same output', async (t) => {
  const make = () =>
    convReluLrnPool({
      inChannels: 3,
      outChannels: 10,
      lrn: { alphaConvention: 'literal', alpha: 0.01 },
      pool: { kernelSize: 3, stride: 2 },
    });
  const net = make().train(false);
  const x = Tensor.randn([4, 3, 13, 13], { seed: 31 });
  profile(true);
  const fused = net.forward(x);
  const got = await bytesOf(fused);
  const evalOps = profile(false);
  const calls = (rows: typeof evalOps, op: string) => rows.find((r) => r.op === op)?.calls ?? 0;
  t.equal(calls(evalOps, 'lrnMaxPool2d'), 1, 'eval: the LRN and its pool ran as one op');
  t.equal(calls(evalOps, 'lrn') + calls(evalOps, 'maxPool2d'), 0, 'eval: no separate LRN or pool op');

  const cur = forwardEachLayer(net.layers, x);
  t.same(got, await bytesOf(cur), 'fused output equals the layer-by-layer chain');

  const trained = make(); // training mode: the pool needs its argmax, the LRN backward its input
  profile(true);
  const y = trained.forward(x);
  await device('cpu').synchronize();
  const trainOps = profile(false);
  t.equal(calls(trainOps, 'lrnMaxPool2d'), 0, 'training: not fused');
  t.equal(calls(trainOps, 'lrn'), 1, 'training: the LRN ran on its own');
  t.same(await bytesOf(y), got, 'training-mode forward gives the same values');
  for (const u of [x, fused, cur, y]) u.dispose();
  trained.dispose();
  net.dispose();
});
