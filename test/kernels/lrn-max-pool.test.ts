import t from 'tap';
import { Tensor, device, ops, setIsa, supportedIsas } from '../../lib/index.js';
import type { LocalResponseNorm } from '../../lib/layers/index.js';
import { native } from '../../lib/native.js';
import type { LrnOptions } from '../../lib/ops/lrn.js';
import type { Pool2dOptions } from '../../lib/ops/pool.js';
import { randomTensor } from '../helpers/random-tensor.js';
import { convReluLrnPool, forwardEachLayer, matchesUnfusedChain } from '../helpers/layer-chain.js';

// lrnMaxPool2d (LocalResponseNorm + MaxPool2d in one op), its training form with the argmax and
// its backward (maxPool2dLrnBackward) against the ops they replace, bit for bit: batches split
// image by image across the pool, and the small batches that run the two kernels over the whole
// batch through one scratch tensor.

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

t.test('lrnMaxPool2dWithArgmax equals maxPool2d(lrnOutput(x)), values and argmax, at every ISA level', async (t) => {
  let seed = 4500;
  t.teardown(async () => {
    await device('cpu').synchronize();
    setIsa('auto');
  });
  for (const level of supportedIsas())
    for (const [name, shape, lrn, pool] of cases) {
      await device('cpu').synchronize();
      setIsa(level);
      const x = randomTensor(shape, seed++, { lo: -3, hi: 3 });
      const mid = ops.lrnOutput(x, lrn);
      const ref = ops.maxPool2d(mid, pool);
      const got = ops.lrnMaxPool2dWithArgmax(x, lrn, pool);
      t.same(got.argmax.shape, ref.argmax.shape, `${level}: ${name}: argmax shape`);
      t.same(await bytesOf(got.y), await bytesOf(ref.y), `${level}: ${name}: values`);
      t.same(await got.argmax.data(), await ref.argmax.data(), `${level}: ${name}: argmax`);
      for (const u of [x, mid, ref.y, ref.argmax, got.y, got.argmax]) u.dispose();
    }
});

t.test('maxPool2dLrnBackward equals lrnBackward(maxPool2dBackward(dy)) bit for bit, with and without the ReLU', async (t) => {
  let seed = 4600;
  t.teardown(async () => {
    await device('cpu').synchronize();
    setIsa('auto');
  });
  for (const level of supportedIsas())
    for (const [name, shape, lrn, pool] of cases)
      for (const reluInput of [false, true]) {
        await device('cpu').synchronize();
        setIsa(level);
        // With reluInput x is a ReLU's output: zeros (masked) among positive values.
        const raw = randomTensor(shape, seed++, { lo: -3, hi: 3 });
        const x = reluInput ? ops.relu(raw) : raw;
        const { y, argmax } = ops.lrnMaxPool2dWithArgmax(x, lrn, pool);
        const dy = randomTensor(y.shape, seed++);
        const dMid = ops.maxPool2dBackward(dy, argmax, x.shape);
        const ref = ops.lrnBackward(dMid, x, null, null, lrn, { reluInput });
        const got = ops.maxPool2dLrnBackward(dy, argmax, x, lrn, { reluInput });
        const label = `${level}: ${name}${reluInput ? ', through the ReLU' : ''}`;
        const refBytes = await bytesOf(ref);
        t.same(await bytesOf(got), refBytes, label);
        t.ok(
          (await ref.data()).some((v) => v !== 0),
          `${label}: some gradient flows`,
        );
        for (const u of new Set([raw, x, y, argmax, dy, dMid, ref, got])) u.dispose();
      }
});

t.test('maxPool2dLrnBackward refuses bad arguments, and an argmax out of its plane fails the op, not the process', async (t) => {
  const x = randomTensor([1, 2, 5, 5], 7);
  const dy = randomTensor([1, 2, 3, 3], 8);
  const am = Tensor.fromArray(new Int32Array(18), [1, 2, 3, 3]);
  t.throws(() => ops.maxPool2dLrnBackward(dy, dy, x, paper), { code: 'ND_ARG', message: /maxPool2dLrnBackward: 'argmax' must be int32/ });
  const am1 = Tensor.fromArray(new Int32Array(9), [1, 1, 3, 3]);
  t.throws(() => ops.maxPool2dLrnBackward(dy, am1, x, paper), {
    code: 'ND_SHAPE',
    message: /maxPool2dLrnBackward: 'dy' \[1, 2, 3, 3\] and 'argmax'/,
  });
  const x3 = randomTensor([1, 3, 5, 5], 9);
  t.throws(() => ops.maxPool2dLrnBackward(dy, am, x3, paper), {
    code: 'ND_SHAPE',
    message: /maxPool2dLrnBackward: 'dy' \[1, 2, 3, 3\] and 'x' \[1, 3, 5, 5\] must agree on N and C/,
  });
  t.throws(() => ops.maxPool2dLrnBackward(dy, am, x, { ...paper, beta: Number.NaN }), {
    code: 'ND_ARG',
    message: /maxPool2dLrnBackward: 'beta'/,
  });
  t.throws(() => ops.maxPool2dLrnBackward(dy, am, x, paper, { reluInput: 1 as never }), {
    code: 'ND_ARG',
    message: /maxPool2dLrnBackward: 'reluInput'/,
  });
  const bad = Tensor.fromArray(
    Int32Array.from({ length: 18 }, (_, i) => (i === 5 ? 25 : 0)),
    [1, 2, 3, 3],
  );
  const dx = ops.maxPool2dLrnBackward(dy, bad, x, paper);
  await t.rejects(dx.data(), { code: 'ND_ARG', message: /maxPool2dLrnBackward: argmax holds 25, outside the input plane of 25 elements/ });
  const negative = Tensor.fromArray(
    Int32Array.from({ length: 18 }, (_, i) => (i === 17 ? -1 : 0)),
    [1, 2, 3, 3],
  );
  const dx2 = ops.maxPool2dLrnBackward(dy, negative, x, paper);
  await t.rejects(dx2.data(), { code: 'ND_ARG', message: /argmax holds -1/ });
  // The stream goes on: a good call after the failures gives the two ops' result.
  const ok = ops.maxPool2dLrnBackward(dy, am, x, paper);
  const dMid = ops.maxPool2dBackward(dy, am, x.shape);
  const ref = ops.lrnBackward(dMid, x, null, null, paper);
  t.same(await bytesOf(ok), await bytesOf(ref), 'a later call works');
  for (const u of [x, dy, am, am1, x3, bad, dx, negative, dx2, ok, dMid, ref]) u.dispose();
});

t.test('Sequential runs LocalResponseNorm + MaxPool2d as one op in both modes, and their backward as one op while training', async (t) => {
  const make = () =>
    convReluLrnPool({
      inChannels: 3,
      outChannels: 10,
      lrn: { alphaConvention: 'literal', alpha: 0.01 },
      pool: { kernelSize: 3, stride: 2 },
    });
  const calls = (rows: { op: string; calls: number }[], op: string) => rows.find((r) => r.op === op)?.calls ?? 0;
  const x = Tensor.randn([4, 3, 13, 13], { seed: 31 });

  const net = make().train(false);
  profile(true);
  const fused = net.forward(x);
  const got = await bytesOf(fused);
  const evalOps = profile(false);
  t.equal(calls(evalOps, 'lrnMaxPool2d'), 1, 'eval: the LRN and its pool ran as one op');
  t.equal(calls(evalOps, 'lrn') + calls(evalOps, 'maxPool2d'), 0, 'eval: no separate LRN or pool op');
  const cur = forwardEachLayer(net.layers, x);
  t.same(got, await bytesOf(cur), 'fused output equals the layer-by-layer chain');

  // Training: forward and backward fused, against each layer's own forward and backward.
  const trained = make();
  const dy = Tensor.randn(fused.shape, { seed: 32 });
  profile(true);
  const y = trained.forward(x);
  const dx = trained.backward(dy)!;
  await device('cpu').synchronize();
  const trainOps = profile(false);
  t.equal(calls(trainOps, 'lrnMaxPool2d'), 1, 'training: the LRN and its pool ran as one op');
  t.equal(calls(trainOps, 'maxPool2dLrnBackward'), 1, "training: their backward (and the ReLU's) ran as one op");
  for (const op of ['lrn', 'maxPool2d', 'lrnBackward', 'maxPool2dBackward', 'reluBackward'])
    t.equal(calls(trainOps, op), 0, `training: no separate ${op}`);
  t.same(await bytesOf(y), got, 'training-mode forward gives the same values');
  await matchesUnfusedChain(t, make, { net: trained, x, dy, y, dx }, async (outs) => {
    t.ok(
      (await outs[0].data()).some((v) => v < 0),
      'the conv output has negatives for the ReLU to mask',
    );
  });
  t.ok(
    trained.parameters().every((p) => p.grad !== null),
    'every parameter has a gradient',
  );
  for (const u of [x, fused, cur, y, dy, dx]) u.dispose();
  for (const n of [trained, net]) n.dispose();
});

t.test('a forward whose fused pool is never backpropagated leaves nothing held, and the next step works', async (t) => {
  const net = convReluLrnPool({
    inChannels: 2,
    outChannels: 4,
    lrn: { alphaConvention: 'per-size', alpha: 1e-3 },
    pool: { kernelSize: 2 },
  });
  const x = Tensor.randn([2, 2, 8, 8], { seed: 41 });
  const y1 = net.forward(x); // training mode, no backward
  const y2 = net.forward(x);
  const dx = net.backward(Tensor.randn(y2.shape, { seed: 42 }))!;
  t.same(dx.shape, [2, 2, 8, 8], 'backward after a repeated forward');
  t.throws(() => (net.layers[2] as LocalResponseNorm).backwardThroughMaxPool(y2, false), {
    code: 'ND_ARG',
    message: /norm: backwardThroughMaxPool\(\) without a training-mode forwardThenMaxPool\(\)/,
  });
  for (const u of [x, y1, y2, dx]) u.dispose();
  net.dispose();
});
