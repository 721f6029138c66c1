import t from 'tap';
import { Tensor, tidy, keep, memory, ops, device, backends } from '../../lib/index.js';

t.test('fromArray round-trips float32 and int32', async (t) => {
  const a = Tensor.fromArray([1.5, -2, 3, 4.25], [2, 2]);
  t.same(Array.from(await a.data()), [1.5, -2, 3, 4.25]);
  t.same(a.shape, [2, 2]);
  const b = Tensor.fromArray(new Int32Array([7, -8, 9]));
  t.equal(b.dtype, 'int32');
  t.same(Array.from(b.dataSync()), [7, -8, 9]);
  a.dispose();
  b.dispose();
});

t.test('zeros, ones, full', async (t) => {
  const z = Tensor.zeros([3, 5]);
  const o = Tensor.ones([4]);
  const f = Tensor.full([2], -3.5);
  t.same(Array.from(await z.data()), new Array(15).fill(0));
  t.same(Array.from(await o.data()), [1, 1, 1, 1]);
  t.same(Array.from(await f.data()), [-3.5, -3.5]);
  for (const x of [z, o, f]) x.dispose();
});

t.test('seeded randn and uniform are reproducible and have the right moments', async (t) => {
  const a = Tensor.randn([20000], { seed: 42 });
  const b = Tensor.randn([20000], { seed: 42 });
  const c = Tensor.randn([20000], { seed: 43 });
  const da = await a.data();
  const db = await b.data();
  const dc = await c.data();
  t.same(Array.from(da.slice(0, 100)), Array.from(db.slice(0, 100)));
  t.notSame(Array.from(da.slice(0, 100)), Array.from(dc.slice(0, 100)));
  let m = 0;
  let v = 0;
  for (const x of da) m += x;
  m /= da.length;
  for (const x of da) v += (x - m) ** 2;
  v /= da.length;
  t.ok(Math.abs(m) < 0.03, `mean ${m}`);
  t.ok(Math.abs(v - 1) < 0.05, `variance ${v}`);
  const u = Tensor.uniform([20000], { seed: 1, low: 2, high: 4 });
  const du = await u.data();
  let lo = Infinity;
  let hi = -Infinity;
  let mu = 0;
  for (const x of du) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
    mu += x;
  }
  t.ok(lo >= 2 && hi < 4, `range [${lo}, ${hi}]`);
  t.ok(Math.abs(mu / du.length - 3) < 0.02, `mean ${mu / du.length}`);
  for (const x of [a, b, c, u]) x.dispose();
});

t.test('dispose is idempotent and a disposed tensor is refused with ND_DISPOSED', async (t) => {
  const a = Tensor.ones([3]);
  a.dispose();
  a.dispose();
  t.ok(a.disposed);
  t.throws(() => a.dataSync(), { code: 'ND_DISPOSED' });
  t.throws(() => ops.add(a, a), { code: 'ND_DISPOSED', message: /add: 'a'/ });
});

t.test('Symbol.dispose', async (t) => {
  const before = memory().devices['cpu:0'].tensors;
  {
    using x = Tensor.ones([8]);
    t.equal(memory().devices['cpu:0'].tensors, before + 1);
    t.equal(x.size, 8);
  }
  t.equal(memory().devices['cpu:0'].tensors, before);
});

t.test('tidy disposes intermediates and keeps results', async (t) => {
  const before = memory().devices['cpu:0'].tensors;
  let kept: Tensor | undefined;
  const out = tidy(() => {
    const a = Tensor.ones([4]);
    const b = ops.scale(a, 3);
    kept = keep(Tensor.zeros([2]));
    return { y: ops.add(a, b) };
  });
  t.equal(memory().devices['cpu:0'].tensors, before + 2);
  t.same(Array.from(await out.y.data()), [4, 4, 4, 4]);
  out.y.dispose();
  kept!.dispose();
  t.equal(memory().devices['cpu:0'].tensors, before);
  t.throws(
    () =>
      tidy(() => {
        Tensor.ones([1]);
        throw new Error('inner');
      }),
    /inner/,
  );
  t.equal(memory().devices['cpu:0'].tensors, before, 'a throwing tidy still disposes');
});

t.test('reshape shares storage', async (t) => {
  const a = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = a.reshape([3, 2]);
  t.same(b.shape, [3, 2]);
  ops.fillInPlace(a, 9);
  t.same(Array.from(await b.data()), [9, 9, 9, 9, 9, 9]);
  t.throws(() => a.reshape([4]), { code: 'ND_SHAPE', message: /reshape: cannot view \[2, 3\] as \[4\]/ });
  a.dispose();
  t.same(Array.from(await b.data()), [9, 9, 9, 9, 9, 9], 'the view keeps the bytes alive');
  b.dispose();
});

t.test('bad input to constructors', async (t) => {
  t.throws(() => Tensor.fromArray([1, 2, 3], [2, 2]), { code: 'ND_SHAPE', message: /3 values do not fill shape \[2, 2\]/ });
  t.throws(() => Tensor.zeros([2, -1]), { code: 'ND_ARG' });
  t.throws(() => Tensor.fromArray([1.5], [1], { dtype: 'int32' }), { code: 'ND_ARG' });
  t.throws(() => device('gpu' as never), { code: 'ND_ARG' });
  t.throws(() => device('cpu:64'), { code: 'ND_ARG' });
  // Without a usable GPU (CPU build, or no device), cuda:0 is refused with the reason.
  if (backends().find((b) => b.name === 'cuda')?.available) t.throws(() => device('cuda:64'), { code: 'ND_ARG' });
  else t.throws(() => device('cuda:0'), { code: 'ND_NO_CUDA' });
  t.throws(() => Tensor.randn([2], { seed: -1 }), TypeError);
});

t.test('elementwise ops against plain JS', async (t) => {
  const a = Tensor.fromArray([1, 2, 3]);
  const b = Tensor.fromArray([4, 5, 6]);
  t.same(Array.from(await ops.add(a, b).data()), [5, 7, 9]);
  t.same(Array.from(await ops.mul(a, b).data()), [4, 10, 18]);
  t.same(Array.from(await ops.scale(a, -2).data()), [-2, -4, -6]);
  const y = ops.clone(b);
  ops.axpbyInPlace(a, y, 2, 0.5);
  t.same(Array.from(await y.data()), [4, 6.5, 9]);
  t.same(Array.from(await ops.sum(b).data()), [15]);
  t.throws(() => ops.add(a, Tensor.ones([4])), { code: 'ND_SHAPE', message: /add: 'a' \[3\] and 'b' \[4\]/ });
  t.throws(() => ops.add(a, Tensor.ones([3], { device: 'cpu:1' })), { code: 'ND_ARG', message: /cpu:1/ });
  t.throws(() => ops.scale(a, NaN), { code: 'ND_ARG' });
  t.throws(() => ops.add(a, [1, 2, 3] as never), { code: 'ND_ARG', message: /must be a Tensor/ });
});
