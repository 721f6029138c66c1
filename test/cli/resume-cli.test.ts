// Issue 9, finding 5: a run resumed past a learning-rate milestone must train at the scheduled
// rate, not the saved (already divided) rate divided again. Three CLI runs on a small slice:
// 4 epochs straight; 3 epochs; the 3-epoch checkpoint resumed to 4. Milestones after epochs 1
// and 2, so the resumed epoch runs at 0.05 / 25 = 0.002 and both final models must agree.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../lib/index.js';
import { MNIST, cli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-resume-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('resume past a milestone equals an uninterrupted run (1e-6)', async (t) => {
  const common = [
    'train',
    'lenet5',
    '--data',
    MNIST,
    '--limit',
    '256',
    '--val-split',
    '100',
    '--lr-milestones',
    '1,2',
    '--seed',
    '7',
    '--prefetch',
    '0',
  ];
  const a = cli([...common, '--epochs', '4', '--save', join(dir, 'straight.safetensors')]);
  t.equal(a.code, 0, a.stderr);
  t.same(
    a.lines.filter((l) => l.type === 'epoch').map((l) => l.lr),
    [0.05, 0.01, 0.002, 0.002],
  );
  const b = cli([...common, '--epochs', '3', '--save', join(dir, 'half.safetensors')]);
  t.equal(b.code, 0, b.stderr);
  const half = await loadCheckpoint(join(dir, 'half.safetensors'));
  t.same(
    half.meta.schedule,
    { kind: 'piecewise', baseLr: 0.05, milestones: [1, 2], factor: 5 },
    'the schedule, base included, travels in the checkpoint',
  );
  t.same(half.meta.run, { batchSize: 64, valSplit: 100, limit: 256 });
  t.ok(Math.abs((half.meta.optimizer as { lr: number }).lr - 0.002) < 1e-12, 'the optimizer lr saved is the scheduled one');

  // The resumed run names only what it changes: variant, seed, batch, split, limit and schedule come from the file.
  const c = cli([
    'train',
    'lenet5',
    '--data',
    MNIST,
    '--resume',
    join(dir, 'half.safetensors'),
    '--epochs',
    '4',
    '--save',
    join(dir, 'resumed.safetensors'),
    '--prefetch',
    '0',
  ]);
  t.equal(c.code, 0, c.stderr);
  t.match(c.lines[0], { type: 'resume', epoch: 3, lr: 0.002 });
  const epochs = c.lines.filter((l) => l.type === 'epoch');
  t.same(
    epochs.map((l) => l.epoch),
    [3],
    'only the remaining epoch runs',
  );
  t.ok(
    Math.abs((epochs[0].lr as number) - 0.002) < 1e-12,
    `the resumed epoch runs at 0.002 (got ${epochs[0].lr as number}; the bug gave 0.002 / 25)`,
  );

  const [x, y] = await Promise.all([loadCheckpoint(join(dir, 'straight.safetensors')), loadCheckpoint(join(dir, 'resumed.safetensors'))]);
  t.same(Object.keys(y.params).sort(), Object.keys(x.params).sort());
  let worst = 0;
  for (const [name, p] of Object.entries(x.params)) {
    const q = y.params[name].data as Float32Array;
    const d = p.data as Float32Array;
    for (let i = 0; i < d.length; i++) worst = Math.max(worst, Math.abs(d[i] - q[i]));
  }
  t.ok(worst <= 1e-6, `largest weight difference ${worst}`);
  t.same(y.position, x.position, 'same position (epoch, step, seed)');
  const va = a.lines.find((l) => l.type === 'test')!.accuracy;
  const vc = c.lines.find((l) => l.type === 'test')!.accuracy;
  t.equal(vc, va, 'the same test accuracy');

  const mismatch = cli([
    'train',
    'lenet5',
    '--data',
    MNIST,
    '--resume',
    join(dir, 'half.safetensors'),
    '--epochs',
    '4',
    '--batch',
    '32',
    '--no-save',
    '--prefetch',
    '0',
  ]);
  t.equal(mismatch.code, 2, 'a different batch size would shift the position: refused');
  t.match(mismatch.stderr, /a resumed run must keep them/);
});
