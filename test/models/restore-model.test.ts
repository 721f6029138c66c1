// restoreModel from a weights file alone; custom Sequential models through the layer registry;
// forged metadata refused before anything is allocated, and nothing left alive on any failure.
import t from 'tap';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Conv2d,
  Flatten,
  Linear,
  MaxPool2d,
  Model,
  ReLU,
  Sequential,
  Tanh,
  Tensor,
  alexnet,
  device,
  lenet5,
  memory,
  restoreModel,
  saveTrainingCheckpoint,
} from '../../lib/index.js';
import { optimizerPath, readSafetensors, writeSafetensors, type SafetensorsEntry } from '../../lib/io/index.js';
import { sequentialModel, type LayerSpec } from '../../lib/models/index.js';

async function probs(m: Model, seed: number): Promise<Float32Array> {
  const x = Tensor.randn([2, ...m.inputShape], { seed });
  const p = m.predictProbs(x);
  const out = (await p.data()) as Float32Array;
  x.dispose();
  p.dispose();
  return out;
}

/** Rewrites a weights file's meta (and optionally its tensors) as a forger would. */
async function forge(
  src: string,
  dst: string,
  edit: (meta: Record<string, unknown>, tensors: Record<string, SafetensorsEntry>) => void,
): Promise<void> {
  const f = await readSafetensors(src);
  const meta = JSON.parse(f.metadata['convkit.meta']!);
  const tensors: Record<string, SafetensorsEntry> = {};
  for (const [k, v] of Object.entries(f.tensors)) tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data as Float32Array };
  edit(meta, tensors);
  await writeSafetensors(dst, tensors, { ...f.metadata, 'convkit.meta': JSON.stringify(meta) });
}

/** Live tensors and pool bytes once queued ops (which hold references) have run. */
async function live(): Promise<{ tensors: number; bytes: number }> {
  await device('cpu').synchronize();
  const d = memory().devices['cpu:0'];
  return { tensors: d.tensors, bytes: memory().hostPool.liveBytes };
}

t.test('a weights file alone rebuilds and runs LeNet-5 (both variants) and AlexNet', async (t) => {
  const dir = t.testdir();
  const models: [string, Model][] = [
    ['lenet5-modern', lenet5({ seed: 3 })],
    ['lenet5-classic', lenet5({ variant: 'classic', seed: 4 })],
    ['alexnet-paper', alexnet({ fcWidth: 8, numClasses: 5, seed: 1 })],
  ];
  for (const [name, m] of models) {
    const path = join(dir, `${name}.safetensors`);
    await saveTrainingCheckpoint(path, m, null, { epoch: 1, batch: 0, step: 7 });
    await rm(optimizerPath(path));
    const r = await restoreModel(path);
    t.equal(r.resumable, false, `${name}: not resumable without the .optim twin`);
    t.equal(r.model.name, m.name);
    t.same(await probs(r.model, 9), await probs(m, 9), `${name}: same predictions as the saved model`);
    t.throws(
      () => r.checkpoint.position,
      { code: 'ND_FORMAT', message: /needed only to resume/ },
      `${name}: position is refused with a reason`,
    );
    t.equal(r.checkpoint.meta, r.meta, 'meta is still there for predict');
    r.model.dispose();
    m.dispose();
  }
});

t.test('a stale .optim twin does not block predicting, and resuming from it is refused', async (t) => {
  const dir = t.testdir();
  const m = lenet5({ seed: 2 });
  const a = join(dir, 'a.safetensors');
  const b = join(dir, 'b.safetensors');
  await saveTrainingCheckpoint(a, m, null, { epoch: 0, batch: 0, step: 1 });
  await saveTrainingCheckpoint(b, m, null, { epoch: 0, batch: 0, step: 2 });
  await copyFile(optimizerPath(a), optimizerPath(b)); // b's twin now comes from another save
  const r = await restoreModel(b);
  t.equal(r.resumable, false);
  t.same(await probs(r.model, 3), await probs(m, 3), 'the weights still load and run');
  t.throws(() => r.checkpoint.position, { code: 'ND_FORMAT', message: /different saves/ });
  const ok = await restoreModel(a);
  t.equal(ok.resumable, true, 'a matching pair is resumable');
  t.equal(ok.checkpoint.position.step, 1);
  r.model.dispose();
  ok.model.dispose();
  m.dispose();
});

t.test('custom Sequential models save and restore without code: from specs and from layer objects', async (t) => {
  const dir = t.testdir();
  const specs: LayerSpec[] = [
    { kind: 'conv2d', name: 'a', inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1, mask: [[1], [0], [1], [1]] },
    { kind: 'tanh', name: 'a.act' },
    { kind: 'avgpool2d', name: 'p', kernelSize: 2 },
    { kind: 'lrn', name: 'n', size: 3, alpha: 1e-3, beta: 0.75, k: 1, alphaConvention: 'per-size' },
    { kind: 'flatten', name: 'flat' },
    { kind: 'dropout', name: 'd', p: 0.25, seed: 5 },
    { kind: 'linear', name: 'fc', inFeatures: 64, outFeatures: 3 },
  ];
  const a = sequentialModel(specs, { inputShape: [1, 8, 8], name: 'tiny', seed: 11 });
  const byHand = new Model(
    'hand',
    new Sequential([
      new Conv2d({ name: 'k', inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, bias: false, seed: 2 }),
      new ReLU('k.relu'),
      new MaxPool2d({ name: 'mp', kernelSize: 2, stride: 1 }),
      new Flatten('fl'),
      new Linear({ name: 'out', inFeatures: 27, outFeatures: 2, seed: 3 }),
    ]),
    [2, 9, 9],
    'softmax-cross-entropy',
    {},
  );
  for (const m of [a, byHand]) {
    const path = join(dir, `${m.name}.safetensors`);
    await saveTrainingCheckpoint(path, m, null, { epoch: 0, batch: 0, step: 0 });
    await rm(optimizerPath(path));
    const r = await restoreModel(path);
    t.equal((r.meta.model as Record<string, unknown>).model, 'sequential');
    t.equal(r.model.net.layers.length, m.net.layers.length, `${m.name}: same layer count`);
    t.same(
      r.model.net.layers.map((l) => l.constructor.name),
      m.net.layers.map((l) => l.constructor.name),
      `${m.name}: same layer kinds`,
    );
    t.same(await probs(r.model, 4), await probs(m, 4), `${m.name}: same predictions`);
    r.model.dispose();
    m.dispose();
  }
  // A layer kind outside the registry is refused at save time with a coded error.
  class Custom extends Tanh {}
  const odd = new Model('odd', new Sequential([new Flatten('f'), new Custom('c')]), [4], 'softmax-cross-entropy', {});
  await t.rejects(saveTrainingCheckpoint(join(dir, 'odd.safetensors'), odd, null, { epoch: 0, batch: 0, step: 0 }), {
    code: 'ND_ARG',
    message: /not in the layer registry/,
  });
  odd.dispose();
});

t.test('forged metadata fails before anything is allocated, and every failure frees what it made', async (t) => {
  const dir = t.testdir();
  const m = alexnet({ variant: 'owt', fcWidth: 8, numClasses: 4, seed: 1 });
  const good = join(dir, 'good.safetensors');
  await saveTrainingCheckpoint(good, m, null, { epoch: 0, batch: 0, step: 0 });
  m.dispose();
  const base = await live();

  // The case: a small file whose metadata says fcWidth 65536 (gigabytes if built first).
  const wide = join(dir, 'wide.safetensors');
  await forge(good, wide, (meta) => ((meta.model as Record<string, unknown>).fcWidth = 65536));
  const before = memory().hostPool.peakBytes;
  await t.rejects(restoreModel(wide), { code: 'ND_FORMAT', message: /65536/ });
  t.same(await live(), base, 'no live tensors or bytes after the refusal');
  t.ok(memory().hostPool.peakBytes - before < 64 << 20, 'nothing near the claimed size was allocated');

  const cases: [string, (meta: Record<string, unknown>, tensors: Record<string, SafetensorsEntry>) => void, RegExp][] = [
    ['unbounded width', (meta) => ((meta.model as Record<string, unknown>).fcWidth = 2 ** 40), /fcWidth/],
    ['unknown model', (meta) => (meta.model = { model: 'resnet' }), /names no model/],
    ['missing tensor', (_m, ts) => delete ts['fc8.bias'], /'fc8\.bias' \[4\].*is not in the file/],
    [
      'extra tensor',
      (_m, ts) => (ts['fc9.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) }),
      /'fc9\.weight' is not a parameter/,
    ],
    [
      'unknown layer kind',
      (meta) =>
        (meta.model = { model: 'sequential', inputShape: [4], criterion: 'softmax-cross-entropy', layers: [{ kind: 'eval', name: 'x' }] }),
      /unknown kind "eval"/,
    ],
  ];
  for (const [what, edit, message] of cases) {
    const p = join(dir, `${what.replace(/ /g, '-')}.safetensors`);
    await forge(good, p, edit);
    await t.rejects(restoreModel(p), { code: 'ND_FORMAT', message }, what);
    t.same(await live(), base, `${what}: nothing left alive`);
  }

  // Shapes that agree tensor by tensor but do not chain (conv expects 2 channels, input has 1):
  // this fails after building, and the built layers must be freed.
  const chain = join(dir, 'chain.safetensors');
  const seq = sequentialModel(
    [
      { kind: 'conv2d', name: 'c', inChannels: 2, outChannels: 2, kernelSize: 1 },
      { kind: 'flatten', name: 'f' },
      { kind: 'linear', name: 'l', inFeatures: 8, outFeatures: 2 },
    ],
    { inputShape: [2, 2, 2] },
  );
  await saveTrainingCheckpoint(chain, seq, null, { epoch: 0, batch: 0, step: 0 });
  seq.dispose();
  const base2 = await live();
  await forge(chain, chain, (meta) => ((meta.model as Record<string, unknown>).inputShape = [1, 2, 2]));
  await t.rejects(restoreModel(chain), { code: 'ND_SHAPE' }, 'a chain that does not fit is a shape error');
  t.same(await live(), base2, 'the layers built before the shape check were freed');
});
