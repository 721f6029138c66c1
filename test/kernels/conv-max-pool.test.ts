import t from 'tap';
import { Conv2d, MaxPool2d, ReLU, Sequential, Tensor, device, lenet5, ops, setIsa, supportedIsas } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import type { Conv2dOptions } from '../../lib/ops/conv.js';
import { randomTensor } from '../helpers/random-tensor.js';
import { forwardEachLayer } from '../helpers/layer-chain.js';

// conv2dMaxPool2x2 (eval mode's Conv2d + ReLU + MaxPool2d(2) in one op) against the two ops it
// replaces, bit for bit: the direct path's pooled copy out of its wide rows (both builds), and
// the im2col path's scratch buffer (strides, groups, or the fast path switched off).

const cases: [string, number[], number[], Conv2dOptions][] = [
  ["LeNet-5's C1: rows of 28, pooled to 14 (one partial vector)", [3, 1, 28, 28], [6, 1, 5, 5], { padding: 2 }],
  ["LeNet-5's C3: rows of 10, pooled to 5", [9, 6, 14, 14], [16, 6, 5, 5], {}],
  ['odd output 11x11 (the last row and column are not pooled)', [2, 3, 13, 13], [4, 3, 3, 3], {}],
  ['rows of 70 (two vectors and a tail of 3 per pooled row)', [2, 2, 36, 70], [3, 2, 3, 3], { padding: 1 }],
  ['stride 2 (the im2col path)', [2, 3, 15, 15], [5, 3, 3, 3], { stride: 2 }],
  ['groups 2 (the im2col path)', [2, 4, 9, 9], [6, 2, 3, 3], { padding: 1, groups: 2 }],
];

async function bytesOf(x: Tensor): Promise<Buffer> {
  return Buffer.from((await x.data()).buffer);
}

t.test('conv2dMaxPool2x2 equals maxPool2dValues(conv2d) bit for bit on every path', async (t) => {
  let seed = 9100;
  t.teardown(async () => {
    await device('cpu').synchronize(); // setIsa refuses while ops are queued
    setIsa('auto');
    native.convFastPath('auto');
  });
  for (const level of supportedIsas())
    for (const fast of ['auto', 'off'])
      for (const relu of [true, false])
        for (const [name, xs, ws, o] of cases) {
          await device('cpu').synchronize();
          setIsa(level);
          native.convFastPath(fast);
          const x = randomTensor(xs, seed++);
          const w = randomTensor(ws, seed++);
          const b = relu ? randomTensor([ws[0]], seed++) : undefined;
          const opts: Conv2dOptions & { activation?: 'relu' } = { ...o, bias: b, ...(relu ? { activation: 'relu' } : {}) };
          const full = ops.conv2d(x, w, opts);
          const ref = ops.maxPool2dValues(full, { kernelSize: 2 });
          const got = ops.conv2dMaxPool2x2(x, w, opts);
          const label = `${level}, fast path ${fast}${relu ? ', relu' : ', no relu, no bias'}: ${name}`;
          t.same(got.shape, ref.shape, `${label}: shape ${ref.shape.join('x')}`);
          t.same(await bytesOf(got), await bytesOf(ref), label);
          const r = await ref.data();
          if (relu) t.ok(r.some((v) => v === 0) && r.some((v) => v > 0), `${label}: the ReLU clips some outputs, not all`);
          else
            t.ok(
              r.some((v) => v < 0),
              `${label}: negative maxima survive without the ReLU`,
            );
          for (const u of [x, w, b, full, ref, got]) u?.dispose();
        }
});

t.test('NaN wins a window and -0 becomes +0 through the ReLU, as in the two ops', async (t) => {
  t.teardown(() => native.convFastPath('auto'));
  for (const fast of ['auto', 'off']) {
    await device('cpu').synchronize();
    native.convFastPath(fast);
    const xs = new Float32Array(2 * 1 * 28 * 28).map((_, i) => Math.sin(i) * (i % 3 === 0 ? -1 : 1));
    xs[100] = NaN;
    xs[28 * 28 + 400] = NaN;
    const x = Tensor.fromArray(xs, [2, 1, 28, 28]);
    // A 1x1 kernel of weight -0 makes every non-NaN output -0 (the ReLU's v + 0 gives +0).
    const w = Tensor.fromArray([-0], [1, 1, 1, 1]);
    const w5 = randomTensor([3, 1, 5, 5], 77);
    for (const [label, k, o] of [
      ['1x1 kernel of -0', w, {}],
      ['5x5, padding 2', w5, { padding: 2 }],
    ] as const) {
      for (const relu of [true, false]) {
        const opts = { ...o, ...(relu ? { activation: 'relu' as const } : {}) };
        const full = ops.conv2d(x, k, opts);
        const ref = ops.maxPool2dValues(full, { kernelSize: 2 });
        const got = ops.conv2dMaxPool2x2(x, k, opts);
        const r = await ref.data();
        t.ok(r.some(Number.isNaN), `${fast}, ${label}${relu ? ', relu' : ''}: some windows hold a NaN`);
        t.same(await bytesOf(got), await bytesOf(ref), `${fast}, ${label}${relu ? ', relu' : ''}: same bits`);
        for (const u of [full, ref, got]) u.dispose();
      }
    }
    for (const u of [x, w, w5]) u.dispose();
  }
});

t.test('conv2dMaxPool2x2 refuses what the two ops would, and takes a mask on either path', async (t) => {
  const x = randomTensor([1, 2, 6, 6], 5);
  t.throws(() => ops.conv2dMaxPool2x2(x, Tensor.zeros([3, 2, 6, 6])), {
    code: 'ND_SHAPE',
    message: /conv2dMaxPool2x2: the convolution's output 1x1 is smaller than the 2x2 pooling window/,
  });
  t.throws(() => ops.conv2dMaxPool2x2(x, Tensor.zeros([3, 2, 3, 3]), { activation: 'tanh' as never }), {
    code: 'ND_ARG',
    message: /conv2dMaxPool2x2: 'activation' must be 'relu' or null/,
  });
  t.throws(() => ops.conv2dMaxPool2x2(x, Tensor.zeros([3, 3, 3, 3])), { code: 'ND_SHAPE', message: /conv2dMaxPool2x2: 'w'/ });
  const w = randomTensor([3, 2, 3, 3], 6);
  const mask = Tensor.fromArray([1, 0, 0, 1, 1, 1], [3, 2]);
  t.teardown(() => native.convFastPath('auto'));
  for (const fast of ['auto', 'off']) {
    await device('cpu').synchronize();
    native.convFastPath(fast);
    const full = ops.conv2d(x, w, { mask, activation: 'relu' });
    const ref = ops.maxPool2dValues(full, { kernelSize: 2 });
    const got = ops.conv2dMaxPool2x2(x, w, { mask, activation: 'relu' });
    t.same(await bytesOf(got), await bytesOf(ref), `fast path ${fast}, with a mask: the same as the two ops`);
    for (const u of [full, ref, got]) u.dispose();
  }
  for (const u of [x, w, mask]) u.dispose();
});

t.test('Sequential fuses Conv2d + ReLU + MaxPool2d(2) in eval mode only, with the same outputs', async (t) => {
  const build = () =>
    new Sequential([
      new Conv2d({ inChannels: 1, outChannels: 6, kernelSize: 5, padding: 2, name: 'c1', seed: 3 }),
      new ReLU('r1'),
      new MaxPool2d({ kernelSize: 2, name: 'p1' }),
      new Conv2d({ inChannels: 6, outChannels: 16, kernelSize: 5, name: 'c3', seed: 4 }),
      new ReLU('r3'),
      new MaxPool2d({ kernelSize: 2, stride: 1, name: 'p3' }), // stride 1: not fusable
    ]);
  const net = build();
  net.eval();
  const x = randomTensor([4, 1, 28, 28], 11);
  await device('cpu').synchronize(); // the layers' initialisation ops are queued: not traced
  native.trace(true);
  const y = net.forward(x);
  await y.data();
  const traced = native.trace(false).map((r) => r.op);
  t.same(traced, ['conv2dReluMaxPool', 'conv2dRelu', 'maxPool2d'], 'the first triple is one op; the stride-1 pool is not fused');
  // The same layers one by one (each layer's own forward) give the same bits.
  const cur = forwardEachLayer(net.layers, x);
  t.same(await bytesOf(y), await bytesOf(cur), 'the layers one at a time: the same bits');
  net.train();
  native.trace(true);
  const yt = net.forward(x);
  await yt.data();
  t.notOk(
    native.trace(false).some((r) => r.op === 'conv2dReluMaxPool'),
    'training keeps the pool separate (its backward needs the argmax)',
  );
  for (const u of [x, y, cur, yt]) u.dispose();
  net.dispose();
});

t.test('LeNet-5 in eval mode takes the fused op for C1 and C3; its compiled predictor gives the same bits', async (t) => {
  const model = lenet5({ variant: 'modern', seed: 5 });
  const x = randomTensor([8, ...model.inputShape], 12, { lo: 0, hi: 1 });
  await device('cpu').synchronize();
  native.trace(true);
  const probs = model.predictProbs(x);
  await probs.data();
  const ops1 = native.trace(false).map((r) => r.op);
  t.equal(ops1.filter((o) => o === 'conv2dReluMaxPool').length, 2, 'C1 and C3 with their ReLU and pool are one op each');
  t.notOk(ops1.includes('maxPool2d'), 'no separate pool runs');
  const predictor = model.compilePredictor(8);
  const out = await predictor.run(x);
  t.same(Buffer.from(out.buffer), await bytesOf(probs), 'the compiled predictor: the same bits');
  for (const u of [x, probs, predictor]) u.dispose();
  model.dispose();
});
