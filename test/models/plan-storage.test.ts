// A compiled plan names the storages it recorded. After model.to(), after a parameter's value is
// replaced by a new tensor, or after the model is disposed, a TrainPlan or Predictor must train
// and read the model's current storage (re-recording) or refuse with a coded error: never keep
// updating the old memory unnoticed (the bug of issue 10, item 4).
import t from 'tap';
import { Tensor, device, lenet5, type DeviceName } from '../../lib/index.js';
import type { Model } from '../../lib/models/model.js';
import { SGD } from '../../lib/optim/sgd.js';

const batchOf = (n: number, seed: number, dev: DeviceName = 'cpu:0') => ({
  x: Tensor.randn([n, 1, 28, 28], { seed }).to(dev),
  labels: Tensor.fromArray(
    Int32Array.from({ length: n }, (_, i) => (i * 3 + seed) % 10),
    [n],
    { dtype: 'int32' },
  ).to(dev),
});

const values = (m: Model) => Promise.all(m.parameters().map(async (p) => Array.from(await p.value.data())));

/** How many values differ (a count, not a deep diff: tap's diff of 60,000 numbers takes minutes). */
const differing = (a: number[][], b: number[][]) => a.reduce((n, row, i) => n + row.filter((v, j) => !Object.is(v, b[i][j])).length, 0);

t.test('a train plan compiled before model.to(cpu:1) trains the moved parameters', async (t) => {
  const model = lenet5({ seed: 7 });
  const opt = new SGD(model.parameters(), { lr: 0.05 });
  const plan = model.compileTrainStep(4, opt);
  const b0 = batchOf(4, 1);
  const r0 = plan.step(b0.x, b0.labels);
  await r0.loss.data();
  t.equal(plan.recordings, 1);

  // The reference: the same model (same values), moved, trained eagerly on cpu:1.
  const ref = lenet5({ seed: 7 });
  ref.loadStateDict(await model.stateDict());
  ref.to('cpu:1');
  const refOpt = new SGD(ref.parameters(), { lr: 0.05 });

  model.to('cpu:1');
  const start = await values(model);
  const b1 = batchOf(4, 2, 'cpu:1');
  t.throws(() => plan.step(b0.x, b0.labels), { code: 'ND_ARG', message: /lenet5.trainStep: 'x' and 'labels' must be on cpu:1/ });
  for (let s = 0; s < 2; s++) {
    const r = plan.step(b1.x, b1.labels);
    const e = ref.trainStep(b1.x, b1.labels);
    refOpt.step();
    t.equal(r.loss.device.name, 'cpu:1', 'the replay ran on cpu:1');
    t.same(Array.from(await r.loss.data()), Array.from(await e.loss.data()), `step ${s}: the loss of the moved model`);
    for (const u of [r.loss, r.correct, e.loss, e.correct]) u.dispose();
  }
  t.equal(plan.recordings, 2, 're-recorded once, after the move');
  const after = await values(model);
  t.ok(
    model.parameters().every((p) => p.value.device === device('cpu:1')),
    'the parameters are on cpu:1',
  );
  t.ok(differing(after, start) > 1000, 'the parameters on cpu:1 changed');
  t.equal(differing(after, await values(ref)), 0, 'and equal eager training of the moved model (the old storage played no part)');
  for (const u of [b0.x, b0.labels, b1.x, b1.labels, r0.loss, r0.correct]) u.dispose();
  plan.dispose();
  opt.dispose();
  refOpt.dispose();
  model.dispose();
  ref.dispose();
});

t.test('a train plan whose momentum stayed behind, or whose model was disposed, is refused with a code', async (t) => {
  const model = lenet5({ seed: 3 });
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const plan = model.compileTrainStep(2, opt);
  const b = batchOf(2, 4);
  const r = plan.step(b.x, b.labels);
  model.to('cpu:1');
  const moved = batchOf(2, 4, 'cpu:1');
  t.throws(() => plan.step(moved.x, moved.labels), {
    code: 'ND_ARG',
    message: /lenet5.trainStep: the optimizer's state for 'c1.weight' is on cpu:0 but lenet5's parameters are on cpu:1/,
  });
  plan.dispose();

  const m2 = lenet5({ seed: 3 });
  const o2 = new SGD(m2.parameters(), { lr: 0.05 });
  const p2 = m2.compileTrainStep(2, o2);
  const first = p2.step(b.x, b.labels);
  t.ok(Number.isFinite((await first.loss.data())[0]), 'the plan ran before the model was disposed');
  m2.dispose();
  t.throws(() => p2.step(b.x, b.labels), { code: 'ND_DISPOSED', message: /lenet5.trainStep: 'c1.weight' of lenet5 was disposed/ });
  p2.dispose();
  for (const u of [b.x, b.labels, moved.x, moved.labels, r.loss, r.correct, first.loss, first.correct]) u.dispose();
  opt.dispose();
  o2.dispose();
  model.dispose();
});

t.test('an eager step between replays writes the same gradient views (no re-record) and stays exact', async (t) => {
  const a = lenet5({ seed: 5 });
  const b = lenet5({ seed: 5 });
  const oa = new SGD(a.parameters(), { lr: 0.02 });
  const ob = new SGD(b.parameters(), { lr: 0.02 });
  const plan = a.compileTrainStep(3, oa);
  for (let s = 0; s < 3; s++) {
    const { x, labels } = batchOf(3, 10 + s);
    const ra = s === 1 ? a.trainStep(x, labels) : plan.step(x, labels);
    if (s === 1) oa.step();
    const rb = b.trainStep(x, labels);
    ob.step();
    t.same(Array.from(await ra.loss.data()), Array.from(await rb.loss.data()), `step ${s}`);
    for (const u of [x, labels, ra.loss, ra.correct, rb.loss, rb.correct]) u.dispose();
  }
  // With flat gradients the eager backward overwrites the very views the recording writes, so
  // there is nothing to record again (before flat buffers it made new tensors: 2 recordings).
  t.equal(plan.recordings, 1, 'the eager step replaced no storage');
  t.equal(a.parameters()[0].grad, a.parameters()[0].gradView, 'its gradient is the flat view');
  t.equal(differing(await values(a), await values(b)), 0, 'same parameters');
  t.same(Array.from(await a.parameters()[0].grad!.data()), Array.from(await b.parameters()[0].grad!.data()), 'grads are the replay’s');
  // A gradient tensor assigned from outside is a replaced storage: the next replay records again.
  const p0 = a.parameters()[0];
  p0.grad = Tensor.zeros(p0.value.shape);
  const { x, labels } = batchOf(3, 30);
  const r = plan.step(x, labels);
  await r.loss.data();
  t.equal(plan.recordings, 2, 'recorded again after a gradient tensor was assigned');
  t.equal(p0.grad, p0.gradView, 'and the recording wrote the flat view again');
  for (const u of [x, labels, r.loss, r.correct]) u.dispose();
  plan.dispose();
  for (const o of [oa, ob]) o.dispose();
  a.dispose();
  b.dispose();
});

t.test('a predictor follows model.to(cpu:1) and replaced parameter tensors, and refuses a disposed model', async (t) => {
  const model = lenet5({ seed: 8 });
  const p = model.compilePredictor(2);
  const x0 = Tensor.randn([2, 1, 28, 28], { seed: 1 });
  const y0 = p.predict(x0);
  await y0.data();
  model.to('cpu:1');
  const x1 = x0.to('cpu:1');
  t.throws(() => p.predict(x0), { code: 'ND_ARG', message: /lenet5.predict: 'x' is on cpu:0 but lenet5 is on cpu:1/ });
  const y1 = p.predict(x1);
  t.equal(y1.device.name, 'cpu:1');
  t.equal(p.rerecords, 1, 're-recorded after the move');
  t.same(Array.from(await y1.data()), Array.from(await model.predictProbs(x1).data()), 'equals the eager pass on cpu:1');

  // New weights in new tensors (not copied in place): the recording must follow them.
  const f7 = model.parameters().find((q) => q.name === 'f7.weight')!;
  const old = f7.value;
  f7.value = Tensor.randn(old.shape, { seed: 99 }).to('cpu:1');
  old.dispose();
  const y2 = p.predict(x1);
  t.equal(p.rerecords, 2, 're-recorded after the replacement');
  const want = await model.predictProbs(x1).data();
  t.same(Array.from(await y2.data()), Array.from(want), 'reads the new tensor');
  t.notSame(Array.from(want), Array.from(await y1.data()), 'which changed the prediction');
  const y3 = p.predict(x1);
  t.equal(p.rerecords, 2, 'no re-recording while nothing changes');

  model.dispose();
  t.throws(() => p.predict(x1), { code: 'ND_DISPOSED', message: /lenet5.predict: 'c1.weight' of lenet5 was disposed/ });
  p.dispose();
  for (const u of [x0, x1, y0, y1, y2, y3]) u.dispose();
});
