// A checkpoint restores AlexNet exactly: weights, momentum and where each dropout layer's mask
// stream stands, so the step after a resume equals the step of an uninterrupted run.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dropout, SGD, Tensor, alexnet, restoreModel, saveTrainingCheckpoint, type Model } from '../../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-alexnet-resume-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function step(m: Model, opt: SGD, x: Tensor, y: Tensor): void {
  const r = m.trainStep(x, y);
  opt.step();
  r.loss.dispose();
  r.correct.dispose();
}

t.test('resume = uninterrupted, dropout masks included', async (t) => {
  const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
  const x = Tensor.randn([2, 3, 224, 224], { seed: 5 });
  const y = Tensor.fromArray(Int32Array.from([1, 3]));
  const a = alexnet({ variant: 'owt', numClasses: 4, fcWidth: 8, seed: 2 });
  const optA = new SGD(a.parameters(), sgd);
  step(a, optA, x, y);
  step(a, optA, x, y);
  const path = join(dir, 'a.safetensors');
  await saveTrainingCheckpoint(path, a, optA, { epoch: 0, batch: 2, step: 2 });

  const { model: b, checkpoint } = await restoreModel(path);
  t.same(checkpoint.meta.dropoutOffsets, { drop6: 2, drop7: 2 });
  t.same(
    b.net.layers.filter((l) => l instanceof Dropout).map((l) => (l as Dropout).offset),
    [2, 2],
    'offsets restored',
  );
  const optB = new SGD(b.parameters(), sgd);
  optB.loadState(checkpoint.optimizer as never);

  step(a, optA, x, y);
  step(b, optB, x, y);
  const sa = await a.stateDict();
  const sb = await b.stateDict();
  let worst = 0;
  for (const [name, v] of Object.entries(sa))
    for (let i = 0; i < v.data.length; i++) worst = Math.max(worst, Math.abs(v.data[i] - sb[name].data[i]));
  t.equal(worst, 0, 'the third step is the same in both runs');

  // Without the offsets the masks would repeat: the check above can fail.
  const c = (await restoreModel(path)).model;
  for (const l of c.net.layers) if (l instanceof Dropout) l.offset = 0;
  const optC = new SGD(c.parameters(), sgd);
  optC.loadState(checkpoint.optimizer as never);
  step(c, optC, x, y);
  const sc = await c.stateDict();
  let diff = 0;
  for (const i of sa['fc7.weight'].data.keys()) diff = Math.max(diff, Math.abs(sa['fc7.weight'].data[i] - sc['fc7.weight'].data[i]));
  t.ok(diff > 0, `restarting the mask streams changes the step (fc7 differs by ${diff.toExponential(1)})`);

  for (const m of [a, b, c]) m.dispose();
  for (const o of [optA, optB, optC]) o.dispose();
  x.dispose();
  y.dispose();
});
