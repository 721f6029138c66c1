// Resuming from a checkpoint continues exactly where an uninterrupted run would be.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SGD, fit, lenet5, restoreModel, loadCheckpoint } from '../../lib/index.js';
import { smallLoader } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-resume-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('2 epochs straight == 1 epoch, checkpoint, resume, 1 epoch (within 1e-6)', async (t) => {
  const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
  const loader = await smallLoader(640, 64, 11);

  const a = lenet5({ seed: 4 });
  await fit(a, loader, { epochs: 2, optimizer: sgd });
  const straight = await a.stateDict();

  const path = join(dir, 'half.safetensors');
  const b = lenet5({ seed: 4 });
  await fit(b, loader, { epochs: 1, optimizer: sgd, checkpointPath: path, dataSeed: 11 });
  b.dispose();

  const { model: c, checkpoint } = await restoreModel(path);
  t.same(checkpoint.position, { epoch: 1, batch: 0, step: 10, seed: 11 });
  const opt = new SGD(c.parameters(), sgd);
  opt.loadState(checkpoint.optimizer as never);
  t.equal(opt.state().size, c.parameters().length, 'momentum buffers restored');
  await fit(c, loader, { epochs: 2, optimizer: opt, startEpoch: checkpoint.position.epoch, startStep: checkpoint.position.step });
  const resumed = await c.stateDict();
  let worst = 0;
  for (const [name, v] of Object.entries(straight)) {
    const r = resumed[name].data;
    for (let i = 0; i < v.data.length; i++) worst = Math.max(worst, Math.abs(v.data[i] - r[i]));
  }
  t.ok(worst <= 1e-6, `largest parameter difference ${worst}`);
  await loader.close();
  a.dispose();
  c.dispose();
  opt.dispose();
});

t.test('a diverging run stops with ND_NAN and keeps the last good checkpoint', async (t) => {
  const loader = await smallLoader(256, 64, 2);
  const path = join(dir, 'good.safetensors');
  const m = lenet5({ seed: 1 });
  await fit(m, loader, { epochs: 1, optimizer: { lr: 0.01 }, checkpointPath: path });
  const before = readFileSync(path);
  const opt = new SGD(m.parameters(), { lr: 1e30 });
  await t.rejects(fit(m, loader, { epochs: 3, optimizer: opt, startEpoch: 1, checkpointPath: path }), {
    code: 'ND_NAN',
    message: /loss became (NaN|Infinity|-Infinity) at epoch 1.*last good checkpoint is/,
  });
  t.ok(readFileSync(path).equals(before), 'the checkpoint on disk is the one from the good epoch');
  const ck = await loadCheckpoint(path);
  t.equal(ck.position.epoch, 1);
  await loader.close();
  m.dispose();
  opt.dispose();
});
