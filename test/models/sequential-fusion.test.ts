import t from 'tap';
import { Tensor, device, memory } from '../../lib/index.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../lib/layers/index.js';
import { alexnet } from '../../lib/models/index.js';
import { native } from '../../lib/native.js';
import { convReluLrnPool, forwardEachLayer, matchesUnfusedChain } from '../helpers/layer-chain.js';

const profile = native.profile as (on?: boolean) => { op: string; calls: number; ms: number }[];

// In eval mode Sequential runs Conv2d + ReLU as one fused op (ops.conv2d with activation 'relu'),
// and Conv2d + ReLU + MaxPool2d(2) as another (ops.conv2dMaxPool2x2).
// Its output must equal the unfused chain exactly. Training fuses the same pairs (the ReLU layer
// adopts the fused output for its backward), with gradients equal to the unfused chain's.
t.test('eval-mode Conv2d + ReLU fusion: same bits as the unfused chain, one op fewer', async (t) => {
  const net = new Sequential([
    new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, name: 'c1', seed: 1 }),
    new ReLU('r1'),
    new MaxPool2d({ kernelSize: 2 }),
    new Conv2d({ inChannels: 8, outChannels: 4, kernelSize: 3, name: 'c2', seed: 2 }),
    new ReLU('r2'),
    new Flatten(),
    new Linear({ inFeatures: 4 * 5 * 5, outFeatures: 3, name: 'fc', seed: 3 }),
  ]).train(false);
  const x = Tensor.randn([2, 3, 14, 14], { seed: 5 });
  profile(true);
  const fused = net.forward(x);
  const got = await fused.data();
  const ops = profile(false);
  const calls = (name: string) => ops.find((r) => r.op === name)?.calls ?? 0;
  // c1 + r1 + the 2x2 pool after them are one op (conv2dMaxPool2x2); c2 + r2 are conv2dRelu.
  t.equal(calls('conv2dReluMaxPool'), 1, 'the first convolution ran fused with its ReLU and pool');
  t.equal(calls('conv2dRelu'), 1, 'the second with its ReLU');
  t.equal(calls('relu') + calls('maxPool2d'), 0, 'no separate ReLU or pool op');

  // The same layers one by one: forward() of each, never fused.
  const cur = forwardEachLayer(net.layers, x);
  const want = await cur.data();
  t.same(Buffer.from(got.buffer), Buffer.from(want.buffer), 'fused output equals the layer-by-layer chain');
  for (const u of [x, fused, cur]) u.dispose();
  net.dispose();
});

t.test('training fuses too: forward, input gradient and weight gradients bit-identical to the unfused chain', async (t) => {
  const make = () =>
    new Sequential([
      new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, name: 'c', seed: 1 }),
      new ReLU('r'),
      new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: 3, name: 'c2', seed: 4 }),
      new ReLU('r2'),
    ]);
  const net = make();
  net.layers[0].needInputGrad = true;
  const x = Tensor.randn([2, 2, 7, 7], { seed: 2 });
  const dy = Tensor.randn([2, 2, 5, 5], { seed: 3 });
  profile(true);
  const y = net.forward(x);
  await device('cpu').synchronize();
  const ops = profile(false);
  const calls = (name: string) => ops.find((r) => r.op === name)?.calls ?? 0;
  t.equal(calls('conv2dRelu'), 2, 'both pairs ran fused while training');
  t.equal(calls('relu'), 0, 'no separate ReLU pass (and no pre-activation tensor kept)');
  const dx = net.backward(dy)!;
  t.equal(net.parameters().length, 4);
  await matchesUnfusedChain(t, make, { net, x, dy, y, dx });
  for (const u of [x, dy, y, dx]) u.dispose();
  net.dispose();
});

// No pool after the LRN here: with one, the pool's backward, the LRN's and the ReLU's are a
// single op (test/kernels/lrn-max-pool.test.ts).
t.test('ReLU + LRN backward in one pass: no reluBackward op, gradients bit-identical to the unfused chain', async (t) => {
  const make = () => convReluLrnPool({ inChannels: 2, outChannels: 12, lrn: { alphaConvention: 'per-size', alpha: 2 }, pool: null });
  const net = make();
  net.layers[0].needInputGrad = true;
  const x = Tensor.randn([2, 2, 8, 8], { seed: 12 });
  const dy = Tensor.randn([2, 12, 8, 8], { seed: 13 });
  const y = net.forward(x);
  profile(true);
  const dx = net.backward(dy)!;
  await device('cpu').synchronize();
  const ops = profile(false);
  const calls = (name: string) => ops.find((r) => r.op === name)?.calls ?? 0;
  t.equal(calls('lrnBackward'), 1, 'one LRN backward');
  t.equal(calls('reluBackward'), 0, "the ReLU's backward ran inside it");
  await matchesUnfusedChain(t, make, { net, x, dy, y, dx }, async (outs) => {
    const relu = await outs[1].data();
    t.ok(relu.some((v) => v === 0) && relu.some((v) => v > 0), 'the ReLU passes some values and zeroes others');
  });
  for (const u of [x, dy, y, dx]) u.dispose();
  net.dispose();
});

t.test('Conv2d takes the ReLU before it into its backward: no reluBackward op, gradients bit-identical', async (t) => {
  const make = () =>
    new Sequential([
      new Conv2d({ inChannels: 2, outChannels: 6, kernelSize: 3, padding: 1, name: 'c1', seed: 1 }),
      new ReLU('r1'),
      new Conv2d({ inChannels: 6, outChannels: 4, kernelSize: 3, padding: 1, groups: 2, name: 'c2', seed: 2 }),
      new ReLU('r2'),
      new Conv2d({ inChannels: 4, outChannels: 3, kernelSize: 3, name: 'c3', seed: 3 }),
    ]);
  const net = make();
  net.layers[0].needInputGrad = true;
  const x = Tensor.randn([3, 2, 9, 9], { seed: 22 });
  const dy = Tensor.randn([3, 3, 7, 7], { seed: 23 });
  const y = net.forward(x);
  profile(true);
  const dx = net.backward(dy)!;
  await device('cpu').synchronize();
  const ops = profile(false);
  t.equal(ops.find((r) => r.op === 'reluBackward')?.calls ?? 0, 0, "the ReLUs' backward ran inside the convolutions'");
  await matchesUnfusedChain(t, make, { net, x, dy, y, dx });
  for (const u of [x, dy, y, dx]) u.dispose();
  net.dispose();
});

t.test('AlexNet eval output is unchanged by fusion (both forms)', async (t) => {
  for (const variant of ['paper', 'owt'] as const) {
    const m = alexnet({ variant, seed: 7, numClasses: 10, fcWidth: 32 });
    m.eval();
    const x = Tensor.randn([1, ...m.inputShape], { seed: 8 });
    const fused = m.net.forward(x);
    const cur = forwardEachLayer(m.net.layers, x);
    const [a, b] = [await fused.data(), await cur.data()];
    t.same(Buffer.from(a.buffer), Buffer.from(b.buffer), `${variant}: logits`);
    for (const u of [x, fused, cur]) u.dispose();
    m.dispose();
  }
});

t.test("training frees an LRN's output once the max pool after it has read it (neither backward needs it)", async (t) => {
  const make = () =>
    convReluLrnPool({
      inChannels: 3,
      outChannels: 8,
      lrn: { alphaConvention: 'literal', alpha: 0.01 },
      pool: { kernelSize: 3, stride: 2 },
    });
  const net = make();
  net.layers[0].needInputGrad = true;
  const x = Tensor.randn([4, 3, 15, 15], { seed: 41 });
  const dy = Tensor.randn([4, 8, 7, 7], { seed: 42 });
  await device('cpu').synchronize();
  const before = memory().devices['cpu:0'];
  const y = net.forward(x);
  await device('cpu').synchronize();
  const after = memory().devices['cpu:0'];
  // Live now: the ReLU's output (the LRN's input, which its backward reads), the pool's output
  // and its argmax; not the LRN's output, of the ReLU's size.
  const reluBytes = 4 * 8 * 15 * 15 * 4,
    poolBytes = 4 * 8 * 7 * 7 * 4;
  t.equal(after.tensors - before.tensors, 3, 'three tensors more: ReLU output, pool output, argmax');
  t.equal(after.bytes - before.bytes, reluBytes + 2 * poolBytes, 'and only their bytes');
  const dx = net.backward(dy)!;
  await matchesUnfusedChain(t, make, { net, x, dy, y, dx });
  for (const u of [x, dy, y, dx]) u.dispose();
  net.dispose();
});
