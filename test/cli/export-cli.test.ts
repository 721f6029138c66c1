// `convkit export --onnx OUT --model FILE`: from a weights file alone (no .optim twin) to an ONNX
// file that onnxruntime-node runs with our outputs; usage errors exit 2, bad files exit 1 with a code.
import t from 'tap';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tensor, lenet5, saveTrainingCheckpoint } from '../../lib/index.js';
import { optimizerPath } from '../../lib/io/index.js';
// cliHere: main() in this process (stdout is not a TTY there: JSON lines).
import { cliHere as cli } from './helpers.js';

t.test('export a weights file alone to ONNX and run it', async (t) => {
  const dir = t.testdir();
  const m = lenet5({ variant: 'classic', seed: 5 });
  const weights = join(dir, 'lenet.safetensors');
  await saveTrainingCheckpoint(weights, m, null, { epoch: 0, batch: 0, step: 0 });
  await rm(optimizerPath(weights));
  const out = join(dir, 'lenet.onnx');
  const r = await cli('export', '--onnx', out, '--model', weights, '--probabilities', '--json');
  t.equal(r.code, 0, r.stderr);
  const line = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.match(line, { type: 'export', format: 'onnx', path: out, output: 'probabilities' });
  t.ok(existsSync(out));

  let ort: typeof import('onnxruntime-node') | null = null;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    t.comment(`SKIPPED: onnxruntime-node is not loadable here, so the exported file is not run: ${(e as Error).message}`);
  }
  if (ort) {
    const x = Tensor.randn([2, 1, 32, 32], { seed: 1 });
    const want = (await m.predictProbs(x).data()) as Float32Array;
    const s = await ort.InferenceSession.create(out);
    const got = (await s.run({ input: new ort.Tensor('float32', (await x.data()) as Float32Array, [2, 1, 32, 32]) })).output
      .data as Float32Array;
    t.ok(
      got.every((v, i) => Math.abs(v - want[i]) < 1e-5),
      'probabilities match predictProbs',
    );
    await s.release();
  }
  m.dispose();
});

t.test('usage and file errors', async (t) => {
  const dir = t.testdir();
  t.equal((await cli('export', '--model', 'x.safetensors')).code, 2, 'no --onnx: usage error');
  const bad = join(dir, 'bad.safetensors');
  await writeFile(bad, Buffer.from('not a safetensors file'));
  const r = await cli('export', '--onnx', join(dir, 'o.onnx'), '--model', bad);
  t.equal(r.code, 1);
  t.match(r.stderr, /ND_FORMAT/);
  t.notOk(existsSync(join(dir, 'o.onnx')), 'nothing written');
});
