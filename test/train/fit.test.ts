import t from 'tap';
import { device, fit, evaluate, lenet5, memory } from '../../lib/index.js';
import { smallLoader } from './helpers.js';

t.test('fit: callbacks, history, loss goes down, the event loop turns every batch', async (t) => {
  const loader = await smallLoader(1024, 64, 5);
  const m = lenet5({ seed: 2 });
  const events: string[] = [];
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const h = await fit(m, loader, {
    epochs: 3,
    optimizer: { lr: 0.05, momentum: 0.9 },
    callbacks: {
      onEpochBegin: (e) => void events.push(`begin ${e}`),
      onBatchEnd: (b, l) => {
        if (b === 0) events.push(`batch0 ${l.epoch}`);
        t.ok(Number.isFinite(l.loss) && l.imagesPerSec > 0);
      },
      onEpochEnd: (e) => void events.push(`end ${e}`),
    },
  });
  clearInterval(timer);
  t.same(events, ['begin 0', 'batch0 0', 'end 0', 'begin 1', 'batch0 1', 'end 1', 'begin 2', 'batch0 2', 'end 2']);
  t.equal(h.epochs.length, 3);
  t.equal(h.steps, 48);
  t.ok(h.epochs[2].loss < h.epochs[0].loss * 0.7, `loss ${h.epochs.map((e) => e.loss.toFixed(3)).join(' -> ')}`);
  t.ok(ticks >= 20, `a 0 ms timer fired ${ticks} times during 48 steps`);
  const ev = await evaluate(m, loader);
  t.ok(ev.accuracy > 0.5 && ev.count === 1024, `accuracy ${ev.accuracy}`);
  await loader.close();
  m.dispose();
  h.optimizer.dispose(); // fit() made it from options; its momentum buffers are ours to free
});

t.test('memory is flat across epochs (tensors and bytes)', async (t) => {
  const loader = await smallLoader(640, 32, 7);
  const m = lenet5({ seed: 3 });
  const snapshots: Array<{ tensors: number; storages: number; bytes: number }> = [];
  const h = await fit(m, loader, {
    epochs: 12, // 240 steps
    optimizer: { lr: 0.02, momentum: 0.9 },
    callbacks: {
      onEpochEnd: async () => {
        await device('cpu').synchronize();
        snapshots.push({ ...memory().devices['cpu:0'] });
      },
    },
  });
  // From the second epoch on (momentum buffers exist), nothing grows.
  for (let i = 2; i < snapshots.length; i++) t.same(snapshots[i], snapshots[1], `epoch ${i + 1} vs epoch 2`);
  await loader.close();
  m.dispose();
  h.optimizer.dispose();
});
