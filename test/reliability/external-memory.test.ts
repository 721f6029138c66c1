// Issue 9, finding 9: undisposed tensors must be collected under native memory pressure, not
// only under JS heap pressure. Each handle reports its storage's bytes to V8
// (napi_adjust_external_memory), so V8 collects forgotten tensors as native bytes grow. Here
// 10,000 relu outputs of 64 KiB (625 MiB in all) are made and dropped without dispose() and
// without a forced GC; the loop yields every 100 tensors as a real program would (finalizers
// run between turns). Native bytes must stay far below the total.
import t from 'tap';
import { Tensor, device, memory, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';

t.test('undisposed relu outputs are collected under native memory pressure', async (t) => {
  const x = Tensor.randn([16384], { seed: 1 }); // 64 KiB
  const base = memory().devices['cpu:0'].bytes;
  const reportedBase = native.memoryStats(0, 0).reportedToV8;
  const COUNT = 10_000;
  const bytesEach = x.byteLength;
  let peak = 0;
  for (let i = 0; i < COUNT; i++) {
    ops.relu(x); // dropped on purpose: no dispose()
    if (i % 100 === 99) {
      await device('cpu').synchronize();
      await new Promise((r) => setImmediate(r));
      peak = Math.max(peak, memory().devices['cpu:0'].bytes - base);
    }
  }
  const total = COUNT * bytesEach;
  t.comment(`peak native bytes of the dropped outputs: ${(peak / 2 ** 20).toFixed(1)} MiB of ${(total / 2 ** 20).toFixed(0)} MiB made`);
  t.ok(
    peak < total / 4,
    `native bytes stayed bounded: peak ${(peak / 2 ** 20).toFixed(1)} MiB < a quarter of ${(total / 2 ** 20).toFixed(0)} MiB`,
  );
  t.ok(native.memoryStats(0, 0).reportedToV8 - reportedBase <= peak + bytesEach * 200, 'what V8 was told tracks the live bytes');
  x.dispose();
});

t.test('dispose() takes back what the handle reported; views report nothing', async (t) => {
  const before = native.memoryStats(0, 0).reportedToV8;
  const a = Tensor.zeros([1000]);
  t.equal(native.memoryStats(0, 0).reportedToV8 - before, 4000, 'a new tensor reports its 4000 bytes');
  const v = a.reshape([10, 100]);
  t.equal(native.memoryStats(0, 0).reportedToV8 - before, 4000, 'a view of it reports nothing more');
  a.dispose();
  v.dispose();
  t.equal(native.memoryStats(0, 0).reportedToV8 - before, 0, 'dispose gives the bytes back');
});
