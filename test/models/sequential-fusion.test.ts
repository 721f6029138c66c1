import t from 'tap';
import { Tensor, device } from '../../lib/index.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../lib/layers/index.js';
import { alexnet } from '../../lib/models/index.js';
import { native } from '../../lib/native.js';

const profile = native.profile as (on?: boolean) => { op: string; calls: number; ms: number }[];

// In eval mode Sequential runs Conv2d + ReLU as one fused op (ops.conv2d with activation 'relu').
// Its output must equal the unfused chain exactly, and training mode must not fuse (the ReLU
// layer keeps its output for backward).
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
  t.equal(calls('conv2dRelu'), 2, 'both convolutions ran fused');
  t.equal(calls('relu'), 0, 'no separate ReLU op');

  // The same layers one by one: forward() of each, never fused.
  let cur = x;
  for (const l of net.layers) {
    const next = l.forward(cur);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  const want = await cur.data();
  t.same(Buffer.from(got.buffer), Buffer.from(want.buffer), 'fused output equals the layer-by-layer chain');
  for (const u of [x, fused, cur]) u.dispose();
  net.dispose();
});

t.test('training mode does not fuse (ReLU keeps its output for backward)', async (t) => {
  const net = new Sequential([new Conv2d({ inChannels: 1, outChannels: 2, kernelSize: 3, name: 'c', seed: 1 }), new ReLU('r')]);
  const x = Tensor.randn([1, 1, 6, 6], { seed: 2 });
  profile(true);
  const y = net.forward(x);
  await device('cpu').synchronize();
  const ops = profile(false);
  t.notOk(
    ops.some((r) => r.op === 'conv2dRelu'),
    'no fused op while training',
  );
  const dy = Tensor.ones(y.shape);
  const dx = net.backward(dy);
  t.ok(dx, 'backward runs');
  for (const u of [x, y, dy, dx!]) u.dispose();
});

t.test('AlexNet eval output is unchanged by fusion (both forms)', async (t) => {
  for (const variant of ['paper', 'owt'] as const) {
    const m = alexnet({ variant, seed: 7, numClasses: 10, fcWidth: 32 });
    m.eval();
    const x = Tensor.randn([1, ...m.inputShape], { seed: 8 });
    const fused = m.net.forward(x);
    let cur = x;
    for (const l of m.net.layers) {
      const next = l.forward(cur);
      if (cur !== x) cur.dispose();
      cur = next;
    }
    const [a, b] = [await fused.data(), await cur.data()];
    t.same(Buffer.from(a.buffer), Buffer.from(b.buffer), `${variant}: logits`);
    for (const u of [x, fused, cur]) u.dispose();
    m.dispose();
  }
});
