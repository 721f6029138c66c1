// DataParallel across processes over Gloo on loopback: 2 and 3 processes, each a replica on its
// shard, end with the same parameters as one process on the whole batch after 5 SGD steps
// (LeNet-5, dropout off, 1e-5), every rank holding identical bytes; the whole batch's loss is the
// same on every rank. Ranks seeded differently start equal through the broadcast of rank 0's values.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SGD, Tensor, lenet5 } from '../../lib/index.js';
import { globalBatch } from './dp-ranks-data.js';
import { glooSkip, here, startRanks } from './helpers.js';

const skip = glooSkip();
const STEPS = 5;

async function reference(): Promise<{ values: Float32Array; losses: number[] }> {
  const m = lenet5({ seed: 21 });
  const sgd = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const b = globalBatch(s);
    const x = Tensor.fromArray(b.x, [b.n, 1, 28, 28]);
    const labels = Tensor.fromArray(b.labels, [b.n], { dtype: 'int32' });
    const r = m.trainStep(x, labels);
    sgd.step();
    losses.push((await r.loss.data())[0]);
    for (const u of [x, labels, r.loss, r.correct]) u.dispose();
  }
  const values = (await m.flat.values.data()) as Float32Array;
  sgd.dispose();
  m.dispose();
  return { values, losses };
}

for (const worldSize of [2, 3])
  t.test(`${worldSize} processes over Gloo equal one process on the whole batch after ${STEPS} steps`, { skip }, async (t) => {
    const ref = await reference();
    const out = mkdtempSync(join(tmpdir(), 'convkit-dp-ranks-'));
    const ranks = await startRanks(join(here, 'dp-ranks-child.ts'), [], worldSize, { TEST_OUT: out, TEST_STEPS: String(STEPS) });
    const exits = await Promise.all(ranks.map((r) => r.exit));
    exits.forEach((e, r) => t.equal(e.code, 0, `rank ${r} exited cleanly ${ranks[r].stderr.slice(-2000)}`));
    const got = ranks.map((_, r) => new Float32Array(readFileSync(join(out, `rank-${r}.f32`)).buffer.slice(0)));
    let worst = 0;
    for (let i = 0; i < ref.values.length; i++) worst = Math.max(worst, Math.abs(got[0][i] - ref.values[i]));
    t.ok(worst <= 1e-5, `rank 0's parameters are within 1e-5 of one process (worst ${worst.toExponential(2)})`);
    for (let r = 1; r < worldSize; r++)
      t.ok(Buffer.from(got[r].buffer).equals(Buffer.from(got[0].buffer)), `rank ${r} holds the same bytes as rank 0`);
    for (const [r, rank] of ranks.entries()) {
      const losses = rank.lines.find((l) => 'losses' in l)?.losses as number[];
      const gap = Math.max(...losses.map((l, i) => Math.abs(l - ref.losses[i])));
      t.ok(gap <= 1e-5, `rank ${r} reports the whole batch's loss (worst gap ${gap.toExponential(2)})`);
    }
  });

t.test('a rank with another model fails at start-up with ND_ARG naming the ranks', { skip }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'convkit-dp-ranks-'));
  const ranks = await startRanks(join(here, 'dp-ranks-child.ts'), [], 2, { TEST_OUT: out, TEST_MISMATCH: '1' });
  const exits = await Promise.all(ranks.map((r) => r.exit));
  for (const [r, rank] of ranks.entries()) {
    t.equal(exits[r].code, 3, `rank ${r} stops before training`);
    const e = rank.lines.find((l) => 'error' in l);
    t.equal(e?.error, 'ND_ARG', `rank ${r}: ND_ARG`);
    t.match(String(e?.message), /rank/, `rank ${r}: the message names the ranks (${String(e?.message).slice(0, 200)})`);
  }
});
