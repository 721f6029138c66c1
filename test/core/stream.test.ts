// Devices are in-order streams: ops return at once, run in order off the JS thread, and the only
// waits are synchronize() and reads. Kernel errors surface at the next wait, with the op's name.
import t from 'tap';
import { Tensor, device, ops, memory } from '../../lib/index.js';
import { native } from '../../lib/native.js';

t.test('an op returns before it runs; synchronize waits for it', async (t) => {
  const cpu = device('cpu');
  await cpu.synchronize();
  native.debugSleep(cpu.stream, 150);
  const y = Tensor.full([4], 7); // queued behind the sleep
  t.ok(cpu.pending() >= 2, `pending ${cpu.pending()} right after enqueue`);
  await cpu.synchronize();
  t.equal(cpu.pending(), 0);
  t.same(Array.from(y.dataSync()), [7, 7, 7, 7]);
  y.dispose();
});

t.test('the event loop keeps turning while a stream works', async (t) => {
  const cpu = device('cpu');
  native.debugSleep(cpu.stream, 200);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await cpu.synchronize();
  clearInterval(timer);
  t.ok(ticks >= 3, `timers fired ${ticks} times during a 200 ms op`);
});

t.test('ops run in the order they were queued', async (t) => {
  // y <- 2*y + x_i for i = 1..60: the result depends on the order of the updates.
  const y = Tensor.zeros([3]);
  let expected = 0;
  const xs: Tensor[] = [];
  for (let i = 1; i <= 60; i++) {
    const x = Tensor.full([3], i % 7);
    xs.push(x);
    ops.axpbyInPlace(x, y, 1, 2 / 3);
    expected = (2 / 3) * Math.fround(expected) + (i % 7);
    expected = Math.fround(expected);
  }
  const got = await y.data();
  for (const v of got) t.ok(Math.abs(v - expected) < 1e-4, `${v} vs ${expected}`);
  for (const x of xs) x.dispose();
  y.dispose();
});

t.test('two cpu streams run concurrently and independently', async (t) => {
  const a = device('cpu:0');
  const b = device('cpu:1');
  native.debugSleep(a.stream, 300);
  const z = Tensor.full([2], 3, { device: b });
  const vals = await z.data();
  t.ok(a.pending() > 0, 'cpu:0 is still busy when cpu:1 has already answered');
  t.same(Array.from(vals), [3, 3]);
  await a.synchronize();
  z.dispose();
});

t.test('a kernel error surfaces at the next wait with the op name, then clears', async (t) => {
  const cpu = device('cpu');
  native.debugFail(cpu.stream, 'injected failure');
  const y = Tensor.full([2], 1); // later ops still run
  await t.rejects(cpu.synchronize(), { code: 'ND_INTERNAL', message: /debugFail: injected failure/ });
  t.same(Array.from(await y.data()), [1, 1]);
  native.debugFail(cpu.stream, 'second');
  await t.rejects(y.data(), { message: /debugFail: second/ }, 'a read is a wait too');
  t.throws(
    () => {
      native.debugFail(cpu.stream, 'sync');
      cpu.synchronizeSync();
    },
    { message: /debugFail: sync/ },
  );
  await cpu.synchronize();
  y.dispose();
});

t.test('disposing a tensor that a queued op still reads is safe', async (t) => {
  const cpu = device('cpu');
  native.debugSleep(cpu.stream, 100);
  const a = Tensor.fromArray([1, 2, 3]);
  const b = Tensor.fromArray([10, 20, 30]);
  const y = ops.add(a, b);
  a.dispose();
  b.dispose();
  t.ok(cpu.pending() > 0, 'the add has not run yet');
  t.same(Array.from(await y.data()), [11, 22, 33]);
  y.dispose();
  await cpu.synchronize();
});

t.test('no leak across 1,000 op calls', async (t) => {
  const cpu = device('cpu');
  await cpu.synchronize();
  const before = memory().devices['cpu:0'];
  const x = Tensor.randn([257], { seed: 5 });
  for (let i = 0; i < 1000; i++) {
    const y = ops.scale(x, 1.0001);
    const z = ops.add(x, y);
    y.dispose();
    z.dispose();
  }
  x.dispose();
  await cpu.synchronize();
  const after = memory().devices['cpu:0'];
  t.equal(after.tensors, before.tensors, 'tensor objects');
  t.equal(after.storages, before.storages, 'native storages');
  t.equal(after.bytes, before.bytes, 'bytes');
});

t.test('the caching allocator reuses blocks instead of mapping new ones', async (t) => {
  const cpu = device('cpu');
  const warm = Tensor.zeros([1 << 20]);
  warm.dispose();
  await cpu.synchronize();
  const os0 = memory().hostPool.osAllocs;
  for (let i = 0; i < 50; i++) {
    Tensor.zeros([1 << 20]).dispose();
    await cpu.synchronize(); // the fill has run, so the block is back in the cache
  }
  t.equal(memory().hostPool.osAllocs, os0, '50 allocations of 4 MiB came from the cache');
});
