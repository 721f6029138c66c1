// `convkit predict` and `convkit evaluate` on a weights file alone (its .optim twin deleted): the
// weights' metadata rebuilds the model, so a server ships one file. Needs ../shared/data/mnist.
import t from 'tap';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { lenet5, saveTrainingCheckpoint } from '../../lib/index.js';
import { optimizerPath } from '../../lib/io/index.js';
import { MNIST, cliHere, jsonLines } from './helpers.js';

/** main() in this process, with its JSON lines. */
async function cli(...args: string[]): Promise<{ code: number; lines: Record<string, unknown>[]; stderr: string }> {
  const r = await cliHere(...args);
  return { code: r.code, lines: jsonLines(r.stdout), stderr: r.stderr };
}

t.test('predict and evaluate from a weights file alone', { skip: existsSync(MNIST) ? false : `no MNIST at ${MNIST}` }, async (t) => {
  const dir = t.testdir();
  const weights = join(dir, 'lenet.safetensors');
  const m = lenet5({ variant: 'classic', seed: 8 });
  await saveTrainingCheckpoint(weights, m, null, { epoch: 0, batch: 0, step: 0 });
  m.dispose();
  await rm(optimizerPath(weights));

  const p = await cli('predict', '--model', weights, '--data', MNIST, '--index', '0,1', '--json');
  t.equal(p.code, 0, p.stderr);
  t.same(
    p.lines.map((l) => [l.type, l.index]),
    [
      ['predict', 0],
      ['predict', 1],
    ],
  );
  for (const l of p.lines) t.equal((l.probabilities as number[]).length, 10);

  const e = await cli('evaluate', '--model', weights, '--data', MNIST, '--json');
  t.equal(e.code, 0, e.stderr);
  t.match(e.lines.at(-1), { type: 'evaluate', count: 10000 });

  const r = await cli('train', 'lenet5', '--data', MNIST, '--resume', weights, '--json');
  t.equal(r.code, 1, 'resuming needs the .optim twin');
  t.match(r.stderr, /ND_FORMAT.*needed only to resume/);
});
