// Modern LeNet-5 vs the same net written with torch.nn (scripts/fixtures/lenet5.py): for the same
// weights and batch, logits, loss, every parameter gradient and one SGD step must agree.
import t from 'tap';
import { Tensor } from '../../lib/index.js';
import { lenet5 } from '../../lib/models/index.js';
import { SGD } from '../../lib/optim/sgd.js';
import { f32FromB64 } from '../helpers/b64.js';
import { mismatch } from '../helpers/compare.js';
import { loadFixture } from '../helpers/fixtures.js';

interface Fixture {
  cases: Array<{
    x: string;
    xShape: number[];
    labels: number[];
    logits: number[];
    loss: number;
    params: Record<string, { shape: number[]; data: string; grad: string }>;
    afterStep: Record<string, string>;
  }>;
}

t.test('modern LeNet-5 matches PyTorch: logits, loss, gradients, one SGD step', async (t) => {
  const c = loadFixture<Fixture>('lenet5').cases[0];
  const model = lenet5({ seed: 0 });
  model.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, { shape: v.shape, data: f32FromB64(v.data) }])));
  const x = Tensor.fromArray(f32FromB64(c.x), c.xShape);
  const labels = Tensor.fromArray(Int32Array.from(c.labels));

  const probs = model.predictProbs(x);
  const p = await probs.data();
  // softmax of the fixture's logits
  const ref = new Float64Array(p.length);
  for (let n = 0; n < c.xShape[0]; n++) {
    const row = c.logits.slice(n * 10, n * 10 + 10);
    const m = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
    for (let k = 0; k < 10; k++) ref[n * 10 + k] = Math.exp(row[k] - m) / z;
  }
  t.equal(mismatch(p, ref, { rtol: 1e-4, atol: 1e-6 }), null, 'probabilities');

  const { loss } = model.trainStep(x, labels);
  t.ok(Math.abs((await loss.data())[0] - c.loss) < 1e-4 * Math.max(1, c.loss), `loss ${(await loss.data())[0]} vs ${c.loss}`);
  for (const prm of model.parameters()) {
    const want = f32FromB64(c.params[prm.name].grad);
    t.equal(mismatch(await prm.grad!.data(), want, { rtol: 1e-3, atol: 1e-5 }), null, `grad ${prm.name}`);
  }
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, decayAll: true });
  opt.step();
  for (const prm of model.parameters())
    t.equal(
      mismatch(await prm.value.data(), f32FromB64(c.afterStep[prm.name]), { rtol: 1e-4, atol: 1e-6 }),
      null,
      `after step ${prm.name}`,
    );
  opt.dispose();
  model.dispose();
});
