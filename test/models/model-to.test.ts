// model.to(device) and tensor.to(device) between CPU streams: the same code path that moves a
// model to cuda:N (Tensor.to waits for the source stream, then copies), checked here without a
// GPU. A moved model must give the very same training step as the original.
import t from 'tap';
import { Conv2d, RBFOutput, Tensor, device, lenet5, memory } from '../../lib/index.js';

t.test('tensor.to: a view on the same device, a copy on another', async (t) => {
  const a = Tensor.fromArray([1, 2, 3, 4], [2, 2]);
  const same = a.to('cpu');
  t.equal(same.device, a.device);
  const other = a.to('cpu:1');
  t.equal(other.device, device('cpu:1'));
  t.same(other.shape, [2, 2]);
  a.dispose();
  t.same(Array.from(await same.data()), [1, 2, 3, 4], 'the view keeps the bytes');
  t.same(Array.from(await other.data()), [1, 2, 3, 4]);
  const ints = Tensor.fromArray(Int32Array.from([7, -8]), [2], { dtype: 'int32' }).to('cpu:1');
  t.equal(ints.dtype, 'int32');
  t.same(Array.from(await ints.data()), [7, -8]);
  for (const x of [same, other, ints]) x.dispose();
});

t.test('model.to moves parameters, the C3 mask and the RBF codes, and trains the same', async (t) => {
  const before = memory().devices['cpu:1']?.storages ?? 0;
  const a = lenet5({ variant: 'classic', seed: 3 });
  const b = lenet5({ variant: 'classic', seed: 3 }).to('cpu:1');
  t.equal(b.device, device('cpu:1'));
  for (const p of b.parameters()) t.equal(p.value.device.name, 'cpu:1', `${p.name} moved`);
  const c3 = b.net.layers.find((l) => l.name === 'c3') as Conv2d;
  t.equal(c3.mask?.device.name, 'cpu:1', 'the connection mask moved');
  const out = b.net.layers.find((l) => l instanceof RBFOutput) as RBFOutput;
  t.equal(out.codes.device.name, 'cpu:1', 'the RBF codes moved');

  const xs = Tensor.randn([4, 1, 32, 32], { seed: 9 });
  const labels = Tensor.fromArray(Int32Array.from([0, 3, 5, 9]), [4], { dtype: 'int32' });
  const ra = a.trainStep(xs, labels);
  const xb = xs.to('cpu:1');
  const lb = labels.to('cpu:1');
  const rb = b.trainStep(xb, lb);
  t.same(await rb.loss.data(), await ra.loss.data(), 'same loss');
  for (const [i, p] of a.parameters().entries())
    t.same(await b.parameters()[i].grad!.data(), await p.grad!.data(), `same gradient of ${p.name}`);
  t.throws(() => b.trainStep(xs, labels), { code: 'ND_ARG' }, 'a batch on another device is refused');
  for (const x of [xs, labels, xb, lb, ra.loss, ra.correct, rb.loss, rb.correct]) x.dispose();
  a.dispose();
  b.dispose();
  await device('cpu:1').synchronize();
  t.equal(memory().devices['cpu:1']?.storages ?? 0, before, 'nothing left on cpu:1');
});
