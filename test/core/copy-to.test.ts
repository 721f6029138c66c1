// tensor.to(device) between CPU streams goes through the device contract (native/core/device.h,
// copyFrom): queued natively, ordered after the writes already queued on the source and before
// the ops queued later on the destination, and never waiting on the JS thread.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { Tensor, backends, device, memory, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';

const cpu0 = device('cpu:0');
const cpu1 = device('cpu:1');
// Long enough that the copy below is certainly still queued when to() returns, even on a
// contended machine: the assertions read queue state, not clocks.
const kLongMs = 400;

t.test('the copy sees the writes queued on the source before it', async (t) => {
  const x = Tensor.zeros([5], { device: cpu0 });
  native.debugSleep(cpu0.stream, kLongMs);
  native.fill(cpu0.stream, x.handle(), 5, 7); // runs only after the sleep
  const y = x.to(cpu1);
  t.equal(y.device, cpu1, 'on the destination device');
  t.same(Array.from(await y.data()), [7, 7, 7, 7, 7], 'the fill queued before to() is in the copy');
  // Written after to(): the copy was taken in the source's stream order, before this write.
  native.fill(cpu0.stream, x.handle(), 5, -1);
  t.same(Array.from(await y.data()), [7, 7, 7, 7, 7], 'a later write on the source does not reach the copy');
  t.same(Array.from(await x.data()), [-1, -1, -1, -1, -1], 'the source has its own later write');
  x.dispose();
  y.dispose();
});

t.test('ops queued later on the destination see the copy', async (t) => {
  const x = Tensor.fromArray([1, -2, 3, -4], [4], { device: cpu0 });
  native.debugSleep(cpu0.stream, kLongMs);
  native.fill(cpu0.stream, x.handle(), 4, 2);
  const y = x.to(cpu1);
  const z = ops.add(y, y); // queued on cpu:1 at once, behind the copy's wait
  t.same(Array.from(await z.data()), [4, 4, 4, 4], 'cpu:1 waited for the copy before its own op');
  for (const v of [x, y, z]) v.dispose();
});

t.test('to() returns before the copy has run, and the event loop keeps turning', async (t) => {
  const x = Tensor.fromArray([1, 2, 3], [3], { device: cpu0 });
  native.debugSleep(cpu0.stream, kLongMs);
  const y = x.to(cpu1);
  t.ok(cpu0.pending() > 0, 'the source still has the sleep and the copy queued');
  t.ok(cpu1.pending() > 0, 'the destination still waits for the copy');
  const first = await Promise.race([sleep(20).then(() => 'timer'), y.data().then(() => 'copy')]);
  t.equal(first, 'timer', 'a 20 ms timer fires while the copy waits behind the long op');
  t.same(Array.from(await y.data()), [1, 2, 3], 'and the copy lands afterwards');
  x.dispose();
  y.dispose();
});

t.test('disposing the source right after to() is safe', async (t) => {
  const x = Tensor.zeros([1000], { device: cpu0 });
  native.debugSleep(cpu0.stream, kLongMs);
  native.fill(cpu0.stream, x.handle(), 1000, 3.5);
  const y = x.to(cpu1);
  x.dispose();
  const values = await y.data();
  t.equal(values.length, 1000);
  t.ok(
    values.every((v) => v === 3.5),
    'the queued copy kept the source alive until it ran',
  );
  y.dispose();
});

t.test('copies both ways between two busy streams all land (no cycle of waits)', async (t) => {
  const a = Tensor.full([3], 1, { device: cpu0 });
  const b = Tensor.full([3], 2, { device: cpu1 });
  native.debugSleep(cpu0.stream, 100);
  native.debugSleep(cpu1.stream, 100);
  const ab = a.to(cpu1);
  const ba = b.to(cpu0);
  native.fill(cpu0.stream, a.handle(), 3, 5);
  native.fill(cpu1.stream, b.handle(), 3, 6);
  const ab2 = a.to(cpu1);
  const ba2 = b.to(cpu0);
  t.same(Array.from(await ab.data()), [1, 1, 1], 'cpu:0 -> cpu:1 before the fill');
  t.same(Array.from(await ba.data()), [2, 2, 2], 'cpu:1 -> cpu:0 before the fill');
  t.same(Array.from(await ab2.data()), [5, 5, 5], 'cpu:0 -> cpu:1 after the fill');
  t.same(Array.from(await ba2.data()), [6, 6, 6], 'cpu:1 -> cpu:0 after the fill');
  for (const v of [a, b, ab, ba, ab2, ba2]) v.dispose();
});

t.test('int32 tensors, empty tensors and chains of copies', async (t) => {
  const ints = Tensor.fromArray(Int32Array.from([7, -8, 2147483647]), [3], { dtype: 'int32', device: cpu0 });
  const moved = ints.to(cpu1);
  t.equal(moved.dtype, 'int32');
  t.same(Array.from(await moved.data()), [7, -8, 2147483647], 'int32 bytes copied exactly');
  const empty = Tensor.zeros([0], { device: cpu0 }).to(cpu1);
  t.same(Array.from(await empty.data()), [], 'an empty tensor copies to an empty tensor');
  const x = Tensor.fromArray([1.5, -2.5], [2], { device: cpu0 });
  const back = x.to(cpu1).to('cpu:2').to(cpu0);
  t.same(Array.from(await back.data()), [1.5, -2.5], 'cpu:0 -> cpu:1 -> cpu:2 -> cpu:0');
  for (const v of [ints, moved, empty, x, back]) v.dispose();
});

t.test('copies leak nothing on either stream', async (t) => {
  await Promise.all([cpu0.synchronize(), cpu1.synchronize()]);
  const before = memory().devices;
  const x = Tensor.randn([333], { seed: 11, device: cpu0 });
  for (let i = 0; i < 200; i++) {
    const y = x.to(cpu1);
    const z = y.to(cpu0);
    y.dispose();
    z.dispose();
  }
  x.dispose();
  await Promise.all([cpu0.synchronize(), cpu1.synchronize()]);
  const after = memory().devices;
  for (const name of ['cpu:0', 'cpu:1'] as const) {
    t.equal(after[name]?.storages ?? 0, before[name]?.storages ?? 0, `${name}: native storages`);
    t.equal(after[name]?.bytes ?? 0, before[name]?.bytes ?? 0, `${name}: bytes`);
  }
});

t.test('bad destinations and capturing streams are coded errors', async (t) => {
  const x = Tensor.fromArray([1, 2], [2], { device: cpu0 });
  t.throws(() => native.copyTo(cpu0.stream, x.handle(), 9999), { code: 'ND_ARG' }, 'a stream id that names no device');
  const cuda = backends().find((b) => b.name === 'cuda');
  if (!cuda?.available) t.throws(() => native.copyTo(cpu0.stream, x.handle(), 256), { code: 'ND_NO_CUDA' }, 'cuda:0 without a GPU');
  native.captureBegin(cpu0.stream);
  try {
    t.throws(() => native.copyTo(cpu0.stream, x.handle(), cpu1.stream), { code: 'ND_ARG' }, 'the source is capturing');
  } finally {
    native.captureRelease(native.captureEnd(cpu0.stream));
  }
  native.captureBegin(cpu1.stream);
  try {
    t.throws(() => native.copyTo(cpu0.stream, x.handle(), cpu1.stream), { code: 'ND_ARG' }, 'the destination is capturing');
  } finally {
    native.captureRelease(native.captureEnd(cpu1.stream));
  }
  t.same(Array.from(await x.to(cpu1).data()), [1, 2], 'both streams copy again once the captures end');
  x.dispose();
});
