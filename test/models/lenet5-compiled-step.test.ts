// Model.compileTrainStep: a recorded trainStep + SGD step must train exactly as the eager calls,
// follow lr changes and optimizer state loads, and refuse what it cannot replay.
import t from 'tap';
import { Tensor } from '../../lib/index.js';
import { Flatten, Linear, Dropout, Sequential } from '../../lib/layers/index.js';
import { lenet5 } from '../../lib/models/index.js';
import { Model } from '../../lib/models/model.js';
import { SGD } from '../../lib/optim/sgd.js';

const batchOf = (n: number, seed: number) => ({
  x: Tensor.randn([n, 1, 28, 28], { seed }),
  labels: Tensor.fromArray(Int32Array.from({ length: n }, (_, i) => (i * 3 + seed) % 10)),
});

async function params(m: Model): Promise<number[][]> {
  return Promise.all(m.parameters().map(async (p) => Array.from(await p.value.data())));
}

t.test('a compiled step trains exactly as trainStep + opt.step, across lr changes and state loads', async (t) => {
  const eager = lenet5({ seed: 7 });
  const compiled = lenet5({ seed: 7 });
  const o1 = new SGD(eager.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 });
  const o2 = new SGD(compiled.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 });
  const plan = compiled.compileTrainStep(6, o2);
  for (let step = 0; step < 5; step++) {
    if (step === 2) o1.lr = o2.lr = 0.02; // a schedule: the plan re-records
    if (step === 3) {
      // Reloading the optimizer state replaces the velocity tensors: re-recorded too.
      const state = Object.fromEntries(
        await Promise.all([...o2.state()].map(async ([k, v]) => [k, { shape: v.shape, data: (await v.data()) as Float32Array }] as const)),
      );
      o2.loadState(state);
    }
    const { x, labels } = batchOf(6, 20 + step);
    const a = eager.trainStep(x, labels);
    o1.step();
    const b = plan.step(x, labels);
    t.same(Array.from(await b.loss.data()), Array.from(await a.loss.data()), `step ${step}: loss`);
    t.same(Array.from(await b.correct.data()), Array.from(await a.correct.data()), `step ${step}: correct`);
    for (const u of [x, labels, a.loss, a.correct, b.loss, b.correct]) u.dispose();
  }
  t.same(await params(compiled), await params(eager), 'same parameters after 5 steps');
  const grads = compiled.parameters().map((p) => p.grad);
  t.ok(
    grads.every((g) => g !== null),
    'parameter grads are set',
  );
  t.same(Array.from(await grads[0]!.data()), Array.from(await eager.parameters()[0].grad!.data()), 'and equal the eager ones');
  plan.dispose();
  for (const m of [eager, compiled]) m.dispose();
  o1.dispose();
  o2.dispose();
});

t.test('compileTrainStep refuses dropout and wrong batches', async (t) => {
  const m = lenet5({ seed: 1 });
  const opt = new SGD(m.parameters(), { lr: 0.1 });
  const plan = m.compileTrainStep(4, opt);
  const { x, labels } = batchOf(3, 1);
  t.throws(() => plan.step(x, labels), {
    code: 'ND_SHAPE',
    message: /lenet5.trainStep: input must be \[4, 1, 28, 28\] \(the compiled batch\), got \[3, 1, 28, 28\]/,
  });
  const good = batchOf(4, 2);
  t.throws(() => plan.step(good.x, Tensor.zeros([4])), { code: 'ND_SHAPE', message: /labels must be int32 \[4\], got float32 \[4\]/ });
  t.throws(() => m.compileTrainStep(0, opt), { code: 'ND_ARG', message: /compileTrainStep: 'batch'/ });
  const withDropout = new Model(
    'tiny',
    new Sequential([new Flatten('flat'), new Linear({ name: 'fc', inFeatures: 4, outFeatures: 3 }), new Dropout({ name: 'drop' })]),
    [1, 2, 2],
    'softmax-cross-entropy',
    {},
  );
  t.throws(() => withDropout.compileTrainStep(2, new SGD(withDropout.parameters(), { lr: 0.1 })), {
    code: 'ND_ARG',
    message: /tiny.compileTrainStep: the model has dropout/,
  });
  plan.dispose();
  m.dispose();
  withDropout.dispose();
});
