// Process groups over Gloo on loopback: 2 and 3 ranks all-reduce (sum, mean, a range) and
// broadcast to the float64 reference, a barrier, a rank that never arrives (ND_TIMEOUT naming
// it), ranks that disagree on the model (ND_ARG naming them), and a rank killed in a loop of
// all-reduces: every other rank fails with a coded error within a bound.
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { glooSkip, here, startRanks } from './helpers.js';

const child = join(here, 'gloo-child.ts');
const skip = glooSkip();

function values(rank: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.fround((rank + 1) * 0.5 + i * 0.25 - (i % 7) * (rank + 2)));
}

function close(t: Test, got: unknown, want: number[], what: string): void {
  const g = got as number[];
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(g[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  t.equal(g.length, want.length, `${what}: length`);
  t.ok(worst <= 1e-5, `${what}: worst relative error ${worst.toExponential(2)} <= 1e-5`);
}

for (const worldSize of [2, 3]) {
  t.test(`${worldSize} ranks: all-reduce (sum, mean, a range), broadcast and barrier match the reference`, { skip }, async (t) => {
    const ranks = await startRanks(child, ['collectives'], worldSize, { TEST_GLOO_TIMEOUT_MS: '20000' });
    const exits = await Promise.all(ranks.map((r) => r.exit));
    exits.forEach((e, r) => t.equal(e.code, 0, `rank ${r} exited cleanly ${ranks[r]!.stderr}`));
    const n = 1000;
    const per = Array.from({ length: worldSize }, (_, r) => values(r, n));
    const sum = per[0]!.map((_, i) => per.reduce((s, v) => s + v[i]!, 0));
    for (const [r, rank] of ranks.entries()) {
      const out = rank.lines.find((l) => 'sum' in l)!;
      t.ok(out, `rank ${r} reported`);
      close(t, out.sum, sum, `rank ${r} sum`);
      close(
        t,
        out.mean,
        sum.map((s) => s / worldSize),
        `rank ${r} mean`,
      );
      const ranged = values(r, n).map((v, i) => (i >= 100 && i < 150 ? sum[i]! : v));
      close(t, out.ranged, ranged, `rank ${r} all-reduce of elements [100, 150) only`);
      t.same(out.broadcast, values(worldSize - 1, 10), `rank ${r} got rank ${worldSize - 1}'s broadcast`);
      t.ok(
        rank.lines.some((l) => l.done === r),
        `rank ${r} left the group`,
      );
    }
  });
}

t.test('a rank that never arrives: the others fail with ND_TIMEOUT naming it', { skip }, async (t) => {
  const started = Date.now();
  // 8 s: long enough for rank 1 to start and arrive on a loaded machine, so only rank 2 is missing.
  const ranks = await startRanks(child, ['collectives'], 3, { TEST_GLOO_INIT_TIMEOUT_MS: '8000' }, [0, 1]);
  const exits = await Promise.all(ranks.map((r) => r.exit));
  for (const [i, r] of ranks.entries()) {
    t.not(exits[i]!.code, 0, `rank ${i} failed`);
    t.match(r.stderr, /ND_TIMEOUT/, `rank ${i}'s error is coded`);
    t.match(r.stderr, /ranks 2 of 3 never arrived/, `rank ${i} names the missing rank`);
  }
  t.ok(Date.now() - started < 40000, `within a bound (${Date.now() - started} ms)`);
});

t.test('ranks that build different models fail at start-up naming the ranks and values', { skip }, async (t) => {
  const ranks = await startRanks(child, ['mismatch'], 2, { TEST_GLOO_TIMEOUT_MS: '10000' });
  await Promise.all(ranks.map((r) => r.exit));
  for (const [i, r] of ranks.entries()) {
    const line = r.lines.find((l) => 'failed' in l);
    t.ok(line, `rank ${i} failed ${r.stderr}`);
    t.equal(line?.failed, 'ND_ARG');
    t.match(String(line?.message), /disagree on model \(rank 0: "2 tensors, batch 64, [^"]+"; rank 1: "2 tensors, batch 32/);
  }
});

t.test('a rank killed during all-reduces makes every other rank fail, coded, within a bound', { skip }, async (t) => {
  const gloTimeout = 5000;
  const ranks = await startRanks(child, ['loop'], 3, { TEST_GLOO_TIMEOUT_MS: String(gloTimeout) });
  await Promise.all(ranks.map((r) => r.waitFor('steady')));
  const killed = Date.now();
  ranks[1]!.child.kill('SIGKILL');
  const survivors = [ranks[0]!, ranks[2]!];
  const failures = await Promise.all(survivors.map((r) => r.waitFor('failed')));
  const elapsed = Date.now() - killed;
  for (const [i, f] of failures.entries()) {
    t.ok(
      f.failed === 'ND_CLOSED' || f.failed === 'ND_TIMEOUT',
      `survivor ${i} failed with a coded error (${String(f.failed)}): ${String(f.message)}`,
    );
    t.match(String(f.message), /allReduce on rank \d of 3/, 'the error names the op and the rank');
  }
  t.ok(elapsed < 20000, `the survivors failed ${elapsed} ms after the kill (bound 20 s, Gloo timeout ${gloTimeout} ms)`);
  const exits = await Promise.all(survivors.map((r) => r.exit));
  for (const e of exits) t.equal(e.code, 3, 'each survivor exited with its failure code, nothing hung');
});

t.test(
  'a rank that goes silent (stopped, its sockets open): the others fail with ND_TIMEOUT after the Gloo timeout',
  { skip },
  async (t) => {
    const gloTimeout = 3000;
    const ranks = await startRanks(child, ['loop'], 2, { TEST_GLOO_TIMEOUT_MS: String(gloTimeout) });
    t.teardown(() => void ranks[1]!.child.kill('SIGKILL'));
    await Promise.all(ranks.map((r) => r.waitFor('steady')));
    const stopped = Date.now();
    ranks[1]!.child.kill('SIGSTOP');
    const f = await ranks[0]!.waitFor('failed');
    const elapsed = Date.now() - stopped;
    t.equal(f.failed, 'ND_TIMEOUT', String(f.message));
    t.match(String(f.message), /allReduce on rank 0 of 2 \(a peer did not answer within the timeout\)/);
    t.ok(elapsed < gloTimeout + 15000, `failed ${elapsed} ms after the stop (Gloo timeout ${gloTimeout} ms)`);
    ranks[1]!.child.kill('SIGKILL');
    t.equal((await ranks[0]!.exit).code, 3, 'the survivor exited by itself');
  },
);
