import t from 'tap';
import { readdirSync } from 'node:fs';
import { copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { saveCheckpoint, loadCheckpoint, optimizerPath, readSafetensors, writeSafetensors, type Checkpoint } from '../../lib/io/index.js';
import { setCheckpointStepHook } from '../../lib/io/checkpoint.js';
import { randomArray } from '../helpers/rng.js';

function lenetLike(seed: number): Checkpoint {
  const f = (n: number, s: number): Float32Array => Float32Array.from(randomArray(n, seed * 100 + s));
  return {
    params: {
      'c1.weight': { shape: [6, 1, 5, 5], data: f(150, 1) },
      'c1.bias': { shape: [6], data: f(6, 2) },
      'f6.weight': { shape: [84, 120], data: f(84 * 120, 3) },
    },
    optimizer: {
      'c1.weight.momentum': { shape: [6, 1, 5, 5], data: f(150, 4) },
      'c1.bias.momentum': { shape: [6], data: f(6, 5) },
      step: { shape: [1], data: Int32Array.from([1234]) },
    },
    position: { epoch: 3, batch: 117, step: 1234 + seed, seed: 42 },
    meta: { model: 'lenet5', form: 'classic', lr: 0.01, history: [0.9, 0.95] },
  };
}

t.test('save then load gives back the same checkpoint', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'lenet.safetensors');
  const ck = lenetLike(1);
  const saved = await saveCheckpoint(path, ck);
  t.equal(saved.weightsPath, path);
  t.equal(saved.optimizerPath, join(dir, 'lenet.optim.safetensors'));
  t.match(saved.checkpointId, /^[0-9a-f]{32}$/);
  t.same((await readdir(dir)).sort(), ['lenet.optim.safetensors', 'lenet.safetensors']);

  const back = await loadCheckpoint(path);
  t.equal(back.checkpointId, saved.checkpointId);
  t.same(back.position, ck.position);
  t.same(back.meta, ck.meta);
  t.same(Object.keys(back.params), Object.keys(ck.params));
  for (const [name, p] of Object.entries(ck.params)) {
    t.same(back.params[name]!.shape, p.shape, `${name} shape`);
    t.same(Array.from(back.params[name]!.data), Array.from(p.data), `${name} data`);
  }
  t.ok(back.optimizer.step!.data instanceof Int32Array);
  t.same(Array.from(back.optimizer.step!.data), [1234]);
  t.same(Array.from(back.optimizer['c1.weight.momentum']!.data), Array.from(ck.optimizer['c1.weight.momentum']!.data));

  // The weights file is a plain safetensors file keyed by parameter name, as PyTorch expects.
  const w = await readSafetensors(path);
  t.same(Object.keys(w.tensors), ['c1.weight', 'c1.bias', 'f6.weight']);
  t.equal(w.metadata.format, 'pt');
  t.notOk('convkit.position' in w.metadata, 'the position lives in the optimizer file');
  const o = await readSafetensors(optimizerPath(path));
  t.same(JSON.parse(o.metadata['convkit.position']!), ck.position);
});

t.test('optimizerPath', async (t) => {
  t.equal(optimizerPath('/a/b/model.safetensors'), '/a/b/model.optim.safetensors');
  t.equal(optimizerPath('/a/b/model.ckpt'), '/a/b/model.ckpt.optim.safetensors');
});

t.test('a mismatched or incomplete pair is detected', async (t) => {
  const dir = t.testdir();
  const a = join(dir, 'a.safetensors');
  const b = join(dir, 'b.safetensors');
  await saveCheckpoint(a, lenetLike(1));
  await saveCheckpoint(b, lenetLike(2));

  // A save interrupted between its two renames: new optimizer file, old weights.
  await copyFile(optimizerPath(b), optimizerPath(a));
  await t.rejects(loadCheckpoint(a), {
    code: 'ND_FORMAT',
    message:
      /a\.safetensors \(checkpoint_id [0-9a-f]{32}\) and .*a\.optim\.safetensors \(checkpoint_id [0-9a-f]{32}\) come from different saves/,
  });

  // Saving again over the same path repairs the pair.
  await saveCheckpoint(a, lenetLike(3));
  t.equal((await loadCheckpoint(a)).position.step, 1237);

  await rm(optimizerPath(a));
  await t.rejects(loadCheckpoint(a), { code: 'ND_FORMAT', message: /has no optimizer\/position file beside it/ });

  // The two files swapped: each is checked for its kind.
  await copyFile(b, optimizerPath(a));
  await t.rejects(loadCheckpoint(a), { code: 'ND_FORMAT', message: /a\.optim\.safetensors: not a convkit checkpoint optimizer file/ });

  // A plain safetensors file is not a checkpoint.
  await writeSafetensors(join(dir, 'plain.safetensors'), { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
  await copyFile(optimizerPath(b), join(dir, 'plain.optim.safetensors'));
  await t.rejects(loadCheckpoint(join(dir, 'plain.safetensors')), {
    code: 'ND_FORMAT',
    message: /plain\.safetensors: not a convkit checkpoint weights file/,
  });

  // A corrupt weights file is reported as such.
  const bytes = await readFile(b);
  await writeFile(b, bytes.subarray(0, bytes.length - 10));
  await t.rejects(loadCheckpoint(b), {
    code: 'ND_FORMAT',
    message: /b\.safetensors: tensor "f6\.weight": .* run past the end of the file/,
  });
});

t.test('a save runs its protocol in order: pending optimizer file, weights (the commit), optimizer into place', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'order.safetensors');
  await saveCheckpoint(path, lenetLike(1));
  const seen: [string, string[]][] = [];
  let saveId = '';
  setCheckpointStepHook((step, id) => {
    saveId = id;
    // readdirSync: the hook is synchronous, and the listing must be the one at this very step.
    seen.push([step, readdirSync(dir).sort()]);
  });
  t.teardown(() => setCheckpointStepHook(null));
  const saved = await saveCheckpoint(path, lenetLike(2));
  setCheckpointStepHook(null);
  t.equal(saveId, saved.checkpointId, "the hook sees the save's id");
  const steps = seen.map(([s]) => s).filter((s, i, all) => s !== all[i - 1]);
  t.same(steps, [
    'begin',
    'recovered',
    'optim-chunk',
    'optim-synced',
    'weights-chunk',
    'weights-written',
    'weights-renamed',
    'committed',
    'optim-renamed',
    'done',
  ]);
  const at = (step: string): string[] => seen.find(([s]) => s === step)![1];
  const pending = `order.optim.safetensors.pending-${saved.checkpointId}`;
  t.same(
    at('optim-synced'),
    ['order.optim.safetensors', pending, 'order.safetensors'].sort(),
    'the new optimizer file waits under its pending name',
  );
  t.ok(
    at('weights-written').some((n) => n.startsWith('order.safetensors.tmp-')),
    'the weights go to a temporary file first',
  );
  t.same(
    at('committed'),
    ['order.optim.safetensors', pending, 'order.safetensors'].sort(),
    'after the commit the pending file is still there',
  );
  t.same(at('done'), ['order.optim.safetensors', 'order.safetensors']);
  t.equal((await loadCheckpoint(path)).checkpointId, saved.checkpointId);
});

t.test('a pair written by earlier versions loads, and the next save cleans up after them', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'old.safetensors');
  // What saveCheckpoint wrote before the pending-file protocol: both files under their final
  // names with the same id, and (after a crash) temporary files from writeSafetensors.
  const id = 'ab'.repeat(16);
  const ck = lenetLike(1);
  const f32 = (x: { shape: number[]; data: Float32Array | Int32Array }) => ({
    dtype: (x.data instanceof Int32Array ? 'I32' : 'F32') as 'F32',
    shape: x.shape,
    data: x.data as Float32Array,
  });
  await writeSafetensors(optimizerPath(path), Object.fromEntries(Object.entries(ck.optimizer).map(([k, v]) => [k, f32(v)])), {
    'convkit.kind': 'optimizer',
    'convkit.version': '1',
    'convkit.checkpoint_id': id,
    'convkit.position': JSON.stringify(ck.position),
  });
  await writeSafetensors(path, Object.fromEntries(Object.entries(ck.params).map(([k, v]) => [k, f32(v)])), {
    format: 'pt',
    'convkit.kind': 'weights',
    'convkit.version': '1',
    'convkit.checkpoint_id': id,
    'convkit.meta': JSON.stringify(ck.meta),
  });
  await writeFile(join(dir, 'old.optim.safetensors.tmp-123-abcdef'), 'half a file');
  await writeFile(join(dir, 'old.safetensors.tmp-456-012345'), 'half a file');
  await writeFile(join(dir, `old.optim.safetensors.pending-${'cd'.repeat(16)}`), 'a save that never committed');
  await writeFile(join(dir, 'other.safetensors.tmp-1-2'), 'not ours');
  const back = await loadCheckpoint(path);
  t.equal(back.checkpointId, id);
  t.same(back.position, ck.position);
  t.same(Array.from(back.params['c1.bias']!.data), Array.from(ck.params['c1.bias']!.data));
  t.equal((await readdir(dir)).length, 6, 'loading removed nothing');
  await saveCheckpoint(path, lenetLike(2));
  t.same(
    (await readdir(dir)).sort(),
    ['old.optim.safetensors', 'old.safetensors', 'other.safetensors.tmp-1-2'],
    'the save removed its own leftovers and only those',
  );
});

t.test('bad arguments', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'x.safetensors');
  const ck = lenetLike(1);
  await t.rejects(saveCheckpoint(path, { ...ck, position: { ...ck.position, batch: -1 } }), {
    code: 'ND_ARG',
    message: /position\.batch must be a non-negative integer/,
  });
  await t.rejects(saveCheckpoint(path, { ...ck, params: { w: { shape: [2], data: new Float32Array(3) } } }), {
    code: 'ND_SHAPE',
    message: /params "w" has shape \[2\] but 3 values/,
  });
  await t.rejects(saveCheckpoint(path, { ...ck, params: { w: { shape: [2], data: [1, 2] as unknown as Float32Array } } }), {
    code: 'ND_ARG',
  });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await t.rejects(saveCheckpoint(path, { ...ck, meta: cyclic }), { code: 'ND_ARG', message: /'meta' must be JSON-serializable/ });
  t.same(await readdir(dir), [], 'nothing was written');
});
