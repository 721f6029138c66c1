// Model.compilePredictor: the recorded forward pass (ops.capture) must give exactly what
// predictProbs gives, follow in-place parameter updates, and refuse what it cannot do.
import t from 'tap';
import { Tensor, device, ops } from '../../lib/index.js';
import { lenet5 } from '../../lib/models/index.js';
import { SGD } from '../../lib/optim/sgd.js';

const labelsOf = (n: number) => Tensor.fromArray(Int32Array.from({ length: n }, (_, i) => (i * 7) % 10));

t.test('a compiled predictor equals predictProbs, for batch 1 and a larger batch', async (t) => {
  for (const variant of ['modern', 'classic'] as const) {
    const model = lenet5({ variant, seed: 3 });
    const side = variant === 'modern' ? 28 : 32;
    for (const batch of [1, 5]) {
      const p = model.compilePredictor(batch);
      // Every layer's op is recorded: modern, C1 and C3 each fused with their ReLU and pool, C5
      // with its ReLU, 2 linears, 1 ReLU and the softmax; classic, its 17 (scaled tanh is not fused).
      t.equal(p.opCount, variant === 'modern' ? 7 : 17, `${variant} batch ${batch}: ops recorded`);
      for (const seed of [1, 2]) {
        const x = Tensor.randn([batch, 1, side, side], { seed });
        const want = await model.predictProbs(x).data();
        const got = p.predict(x);
        t.same(got.shape, [batch, 10]);
        t.same(Array.from(await got.data()), Array.from(want), `${variant} batch ${batch} input ${seed}: identical`);
        x.dispose();
        got.dispose();
      }
      p.dispose();
    }
    model.dispose();
  }
});

t.test('replays see in-place parameter updates (SGD steps) and queued replays keep their own inputs', async (t) => {
  const model = lenet5({ seed: 4 });
  const p = model.compilePredictor(2);
  const x = Tensor.randn([2, 1, 28, 28], { seed: 5 });
  const before = await p.predict(x).data();
  const opt = new SGD(model.parameters(), { lr: 0.5 });
  const { loss, correct } = model.trainStep(x, labelsOf(2));
  opt.step();
  const after = await p.predict(x).data();
  t.notSame(Array.from(after), Array.from(before), 'the prediction moved with the weights');
  t.same(Array.from(after), Array.from(await model.predictProbs(x).data()), 'and equals the eager pass');
  // Several replays queued back to back, each with its own input, before any read.
  const xs = [1, 2, 3].map((s) => Tensor.randn([2, 1, 28, 28], { seed: 10 + s }));
  const outs = xs.map((xi) => p.predict(xi));
  for (const [i, xi] of xs.entries())
    t.same(Array.from(await outs[i].data()), Array.from(await model.predictProbs(xi).data()), `replay ${i}`);
  for (const u of [x, loss, correct, ...xs, ...outs]) u.dispose();
  p.dispose();
  opt.dispose?.();
  model.dispose();
});

t.test('the predictor and capture refuse bad use', async (t) => {
  const model = lenet5({ seed: 6 });
  const p = model.compilePredictor(3);
  t.throws(() => p.predict(Tensor.zeros([2, 1, 28, 28])), {
    code: 'ND_SHAPE',
    message: /lenet5.predict: input must be \[3, 1, 28, 28\] \(the compiled batch\), got \[2, 1, 28, 28\]/,
  });
  t.throws(() => p.predict([1, 2] as never), { code: 'ND_ARG', message: /lenet5.predict: 'x' must be a Tensor/ });
  t.throws(() => model.compilePredictor(0), { code: 'ND_ARG', message: /compilePredictor: 'batch'/ });
  p.dispose();
  t.throws(() => p.predict(Tensor.zeros([3, 1, 28, 28])), { code: 'ND_ARG', message: /replay: the captured ops were disposed/ });
  // Reading back while recording is refused, and the stream records nothing afterwards.
  const cpu = device('cpu');
  const y = Tensor.fromArray([1, 2, 3]);
  let read: Promise<unknown> | undefined;
  const none = ops.capture(cpu, () => {
    read = y.data();
  });
  await t.rejects(read!, { message: /cpu:0 is capturing: reading values back or waiting is not recorded/ });
  t.equal(none.ops.length, 0, 'nothing recorded');
  none.ops.dispose();
  t.throws(() => ops.capture(cpu, () => Promise.resolve(1)), { code: 'ND_ARG', message: /capture: fn must be synchronous/ });
  const z = ops.scale(y, 2);
  t.same(Array.from(await z.data()), [2, 4, 6], 'ops run again after a failed capture');
  // Replay pairs must match.
  const { ops: rec, result } = ops.capture(cpu, () => ops.scale(y, 3));
  t.equal(rec.length, 1);
  t.throws(() => rec.replay([[Tensor.zeros([4]), y]]), { code: 'ND_SHAPE', message: /replay: inputs\[0\] copies \[4\] into \[3\]/ });
  const out = Tensor.empty([3]);
  rec.replay([[Tensor.fromArray([5, 6, 7]), y]], [[result, out]]);
  t.same(Array.from(await out.data()), [15, 18, 21], 'a recorded op reads the copied input');
  rec.dispose();
  model.dispose();
});
