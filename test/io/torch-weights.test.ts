// PyTorch weights in: test/io/torch_export.py (Debian's python3-torch) writes random weights of
// torchvision's AlexNet layout and of the torch.nn LeNet-5 twin as safetensors state dicts, an
// input batch and torch's logits; we load them through the documented key mapping and must give
// torch's logits. Skipped, saying why, where python3-torch is not installed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Tensor,
  alexnet,
  lenet5,
  loadTorchWeights,
  readSafetensors,
  readTorchSafetensors,
  TORCH_LENET5,
  TORCHVISION_ALEXNET,
  type Model,
} from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';

const here = dirname(fileURLToPath(import.meta.url));
const PY = process.env.CONVKIT_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
const noTorch =
  probe.status === 0
    ? false
    : `python3-torch is not installed (${PY} -c "import torch": ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}); apt-get install python3-torch to run this test`;

async function logits(m: Model, x: Tensor): Promise<Float32Array> {
  m.net.train(false);
  const y = m.net.forward(x);
  const out = (await y.data()) as Float32Array;
  y.dispose();
  return out;
}

t.test('torch weights load through the mapping and give torch logits', { skip: noTorch }, async (t) => {
  const dir = t.testdir();
  const r = spawnSync(PY, [join(here, 'torch_export.py'), dir], { encoding: 'utf8', timeout: 300_000 });
  t.equal(r.status, 0, `torch_export.py ran: ${r.stderr.slice(-500)}`);
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { parameters: Record<string, number> };

  const cases: [string, Model][] = [
    ['alexnet', alexnet({ variant: 'owt', seed: 1 })],
    ['lenet5', lenet5({ seed: 1 })],
  ];
  for (const [name, m] of cases) {
    const ours = m.parameters().reduce((a, p) => a + p.value.size, 0);
    t.equal(ours, info.parameters[name], `${name}: as many parameters as the torch module (${ours})`);
    await loadTorchWeights(m, join(dir, `${name}.safetensors`));
    const io = await readSafetensors(join(dir, `${name}.io.safetensors`));
    const x = Tensor.fromArray(io.tensors.x.data as Float32Array, io.tensors.x.shape);
    const want = io.tensors.logits.data as Float32Array;
    const got = await logits(m, x);
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    // float32 with different summation orders: 1e-4 of the largest logit (stated, not tuned).
    t.equal(
      mismatch(got, want, { rtol: 0, atol: 1e-4 * scale + 1e-6 }),
      null,
      `${name}: logits match torch (max |logit| ${scale.toPrecision(3)})`,
    );
    x.dispose();
    m.dispose();
  }

  // Half-precision state dicts convert to float32 on load.
  const f32 = await readTorchSafetensors(join(dir, 'lenet5.safetensors'), TORCH_LENET5);
  for (const dtype of ['f16', 'bf16']) {
    const half = await readTorchSafetensors(join(dir, `lenet5.${dtype}.safetensors`), TORCH_LENET5);
    const rel = dtype === 'f16' ? 1e-3 : 8e-3;
    for (const [k, v] of Object.entries(f32)) t.equal(mismatch(half[k].data, v.data, { rtol: rel, atol: 1e-4 }), null, `${dtype} ${k}`);
  }

  // A state dict that does not fit the mapping is refused by key, not half loaded.
  await t.rejects(readTorchSafetensors(join(dir, 'lenet5.safetensors'), TORCHVISION_ALEXNET), {
    code: 'ND_FORMAT',
    message: /'c1\.weight' has no entry in the key mapping/,
  });
  const owt = alexnet({ variant: 'owt', fcWidth: 8, seed: 0 });
  await t.rejects(
    loadTorchWeights(owt, join(dir, 'alexnet.safetensors')),
    { code: 'ND_SHAPE', message: /fc6\.weight/ },
    'shapes are still checked',
  );
  owt.dispose();
  const paper = alexnet({ fcWidth: 8 });
  await t.rejects(loadTorchWeights(paper, join(dir, 'alexnet.safetensors')), {
    code: 'ND_ARG',
    message: /no built-in PyTorch key mapping/,
  });
  paper.dispose();
});
