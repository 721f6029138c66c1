// A rank killed in the middle of data-parallel training over Gloo (`convkit train lenet5
// --process-group gloo`, one process per rank): the other rank fails with a coded error within a
// bound instead of hanging, the last checkpoint (written by rank 0) stays intact, and relaunching
// with `convkit launch ... --resume` continues from it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { restoreModel } from '../../lib/index.js';
import { MNIST } from '../cli/helpers.js';
import { freePort, glooSkip, repoRoot, startRanks } from './helpers.js';

const skip = glooSkip() || (!existsSync(MNIST) && `no ${MNIST}`);
const bin = join(repoRoot, 'bin', 'convkit.js');
const dir = mkdtempSync(join(tmpdir(), 'convkit-dp-kill-'));
const ckpt = join(dir, 'run.safetensors');
const train = ['train', 'lenet5', '--process-group', 'gloo', '--data', MNIST, '--limit', '1024', '--val-split', '0', '--batch', '32'];
const quiet = ['--prefetch', '0', '--json', '--save', ckpt];

t.test('a killed rank makes the other fail with a coded error; the checkpoint survives; --resume continues', { skip }, async (t) => {
  const ranks = await startRanks(bin, [...train, '--epochs', '1000', ...quiet], 2, {
    CONVKIT_NO_CUDA: '1',
    // Collectives give up on a silent peer after 10 s (a dead one is seen at once: its socket closes).
    CONVKIT_PG_TIMEOUT_MS: '10000',
  });
  // Wait for rank 0's second epoch line: the checkpoint of epoch 1 is on disk by then.
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (ranks[0].lines.filter((l) => l.type === 'epoch').length >= 2) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    void ranks[0].exit.then(() => {
      clearInterval(timer);
      reject(new Error(`rank 0 exited early: ${ranks[0].stderr}`));
    });
  });
  t.ok(existsSync(ckpt), 'rank 0 wrote a checkpoint');
  const killedAt = Date.now();
  ranks[1].child.kill('SIGKILL');
  const exit0 = await ranks[0].exit;
  const seconds = (Date.now() - killedAt) / 1000;
  t.not(exit0.code, 0, 'rank 0 fails');
  t.ok(seconds < 30, `rank 0 failed ${seconds.toFixed(1)} s after the kill (bound 30 s)`);
  t.match(ranks[0].stderr, /ND_CLOSED|ND_TIMEOUT/, 'with a coded error');
  const saved = await restoreModel(ckpt);
  t.ok(saved.resumable, 'the checkpoint pair loads and can be resumed');
  const epoch = saved.checkpoint.position.epoch;
  t.ok(epoch >= 1, `it holds epoch ${epoch}`);
  saved.model.dispose();

  // Relaunch both ranks from it for one more epoch.
  const port = await freePort();
  const relaunch = spawn(
    process.execPath,
    [
      bin,
      'launch',
      '--nproc',
      '2',
      '--master-port',
      String(port),
      bin,
      ...train,
      '--epochs',
      String(epoch + 1),
      '--resume',
      ckpt,
      ...quiet,
    ],
    { env: { ...process.env, CONVKIT_NO_CUDA: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  relaunch.stdout.on('data', (c: Buffer) => (out += c.toString()));
  relaunch.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => relaunch.once('exit', (c) => r(c)));
  t.equal(code, 0, `the relaunched run finishes ${err.slice(-1500)}`);
  t.match(out, /\[rank 0\].*"type":"resume"/, 'rank 0 resumed');
  t.match(out, /\[rank 1\].*"type":"resume"/, 'rank 1 resumed');
  const after = await restoreModel(ckpt);
  t.equal(after.checkpoint.position.epoch, epoch + 1, 'and saved the next epoch');
  after.model.dispose();
});
