// A checkpoint pair written by the code before flat parameters (test/fixtures/checkpoint-v1,
// scripts/make-checkpoint-v1.mjs) still loads, momentum included, and the next step from it
// repeats what that code computed.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SGD, Tensor, loadMnist, restoreModel, type MnistData, type SGDOptions } from '../../lib/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '..', 'fixtures', 'checkpoint-v1');
const root = join(here, '..', '..');

interface Sample {
  index: number;
  value: number;
}
interface Expected {
  recipe: {
    optimizer: SGDOptions;
    data: { dir: string; split: 'train' | 'test'; batch: number; mean: number; std: number };
    stepsBefore: number[];
    nextBatch: number;
  };
  next: { loss: number; params: Record<string, Sample[]>; velocity: Record<string, Sample[]> };
}
const expected = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as Expected;

function batchOf(mnist: MnistData, b: number): { x: Tensor; labels: Tensor } {
  const { batch: n, mean, std } = expected.recipe.data;
  const px = mnist.rows * mnist.cols;
  const x = new Float32Array(n * px);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = b * n + i;
    for (let j = 0; j < px; j++) x[i * px + j] = (mnist.images[k * px + j] / 255 - mean) / std;
    labels[i] = mnist.labels[k];
  }
  return { x: Tensor.fromArray(x, [n, 1, mnist.rows, mnist.cols]), labels: Tensor.fromArray(labels, [n], { dtype: 'int32' }) };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

t.test('the v1 checkpoint loads and its next step matches the old code to 1e-6', async (t) => {
  const { model, checkpoint, resumable } = await restoreModel(join(fixture, 'lenet5.safetensors'));
  t.ok(resumable, 'the optimizer twin is found');
  t.same(checkpoint.position, { epoch: 0, batch: 3, step: 3, seed: 7 });
  const opt = new SGD(model.parameters(), expected.recipe.optimizer);
  opt.loadState(checkpoint.optimizer as never);
  t.equal(opt.state().size, model.parameters().length, 'a velocity per parameter, by name');
  const mnist = await loadMnist(join(root, expected.recipe.data.dir), { split: expected.recipe.data.split });
  const { x, labels } = batchOf(mnist, expected.recipe.nextBatch);
  const r = model.trainStep(x, labels);
  opt.step();
  const loss = (await r.loss.data())[0];
  t.ok(close(loss, expected.next.loss), `loss ${loss} vs ${expected.next.loss}`);
  const values = new Map(model.parameters().map((p) => [p.name, p.value]));
  t.same([...values.keys()].sort(), Object.keys(expected.next.params).sort(), 'the same parameter names');
  for (const [what, want, have] of [
    ['parameter', expected.next.params, values],
    ['velocity', expected.next.velocity, opt.state()],
  ] as const)
    for (const [name, samples] of Object.entries(want)) {
      const d = await have.get(name)!.data();
      for (const s of samples) t.ok(close(d[s.index], s.value), `${what} ${name}[${s.index}] ${d[s.index]} vs ${s.value}`);
    }
  for (const tensor of [r.loss, r.correct, x, labels]) tensor.dispose();
  opt.dispose();
  model.dispose();
});
