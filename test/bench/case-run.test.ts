// One case with fake contenders: skip and error lines, the figures from the rounds' seconds,
// convkit's ratio to each peer, and a convkit failure ending the run. No real timing.
import t from 'tap';
import { runCase, type CaseContext } from '../../lib/bench/case-run.js';
import type { Contender } from '../../lib/bench/contender.js';
import type { Line } from '../../lib/bench/lines.js';
import type { BenchCase } from '../../lib/bench/options.js';

const CASE: BenchCase = { model: 'lenet5', variant: 'modern', pass: 'train', batch: 10 };
const base = { convkit_version: '9.9.9', device: { name: 'cpu:0', model: 'Test CPU', threads: 2, isa: 'avx2', cpus: 2 } };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A contender whose batches take `perBatch` fake seconds; or that skips, throws, or fails a round. */
function fake(
  impl: string,
  o: { perBatch?: number; label?: string; skip?: string; prepareThrows?: boolean; failRound?: boolean },
): Contender & { released: number } {
  const c = {
    impl,
    label: o.label,
    version: '1.0',
    released: 0,
    async prepare() {
      if (o.prepareThrows) throw new Error(`${impl} cannot load`);
      if (o.skip) return o.skip;
      let calls = 0;
      return {
        async run(iters: number) {
          if (o.failRound && ++calls > 1) throw new Error(`${impl} crashed`);
          return o.perBatch! * iters;
        },
      };
    },
    async release() {
      c.released++;
    },
    async close() {},
  };
  return c;
}

function context(contenders: Contender[], ours: Contender, over: Partial<CaseContext> = {}): CaseContext & { lines: Json[] } {
  const lines: Json[] = [];
  return {
    contenders,
    ours,
    flop: 1e6,
    oursExtra: () => ({ path: 'compiled' }),
    ceiling: { M: 8, N: 8, K: 8, kernel: 'avx2', gflops: { min: 90, median: 100, max: 110 }, ms: { min: 1, median: 1, max: 1 } },
    base,
    timing: { rounds: 3, warmup: 1, roundSeconds: 0.1 },
    emit: (l: Line) => lines.push(l),
    lines,
    ...over,
  };
}

t.test('results, skips, errors and the ratios on convkit line', async (t) => {
  const ours = fake('convkit', { perBatch: 0.001 }); // 10,000 images/s at batch 10
  const tuned = fake('pytorch', { label: 'tuned', perBatch: 0.004 }); // 2,500
  const plain = fake('pytorch', { label: 'default', perBatch: 0.01 }); // 1,000
  const ort = fake('onnxruntime-node', { skip: 'onnxruntime-node runs inference only' });
  const broken = fake('brokenpeer', { prepareThrows: true });
  const flaky = fake('flakypeer', { perBatch: 0.001, failRound: true });
  const x = context([ours, tuned, plain, ort, broken, flaky], ours);
  await runCase(CASE, x);
  const by = (impl: string, label?: string) => x.lines.find((l) => l.impl === impl && l.label === label)!;
  t.match(by('onnxruntime-node'), { type: 'skip', reason: 'onnxruntime-node runs inference only', model: 'lenet5', batch: 10 });
  t.match(by('brokenpeer'), { type: 'error', reason: /could not prepare the case: brokenpeer cannot load/ });
  t.match(by('flakypeer'), { type: 'error', reason: 'flakypeer crashed' });
  const mine = by('convkit');
  t.match(mine, {
    type: 'result',
    convkit_version: '9.9.9',
    impl: 'convkit',
    impl_version: '1.0',
    path: 'compiled',
    rounds: 3,
    iters_per_round: 100,
  });
  t.equal(mine.images_per_s.median, 10_000);
  t.equal(mine.ms_per_batch.median, 1);
  t.equal(mine.gflops.median, 10, '10,000 images/s x 1 MFLOP');
  t.equal(mine.ceiling_share.median, 0.1, 'of a 100 GFLOP/s ceiling');
  t.same(mine.vs, { 'pytorch-tuned': 4, 'pytorch-default': 10 }, "our median over each peer's");
  t.equal(by('pytorch', 'tuned').images_per_s.median, 2500);
  t.equal(by('pytorch', 'default').vs, undefined, "ratios are on convkit's line only");
  for (const c of [ours, tuned, plain, ort, broken, flaky]) t.equal(c.released, 1, `${c.impl} ${c.label ?? ''} released once`);
});

t.test('convkit failing ends the case with its error (after releasing everyone)', async (t) => {
  const ours = fake('convkit', { perBatch: 0.001, failRound: true });
  const peer = fake('pytorch', { label: 'tuned', perBatch: 0.001 });
  const x = context([ours, peer], ours);
  await t.rejects(runCase(CASE, x), /convkit crashed/);
  t.same(x.lines, [], 'no lines for a case convkit could not finish');
  t.equal(peer.released, 1);
  const boom = fake('convkit', { prepareThrows: true });
  await t.rejects(runCase(CASE, context([boom], boom)), /convkit cannot load/);
});

t.test('no ceiling: the share is null', async (t) => {
  const ours = fake('convkit', { perBatch: 0.002 });
  const x = context([ours], ours, { ceiling: null });
  await runCase(CASE, x);
  t.equal(x.lines[0].ceiling_share, null);
  t.equal(x.lines[0].vs, undefined);
  t.equal(x.lines[0].images_per_s.median, 5000);
});

t.test('a ceiling timed in turns: each round is a share of the ceiling of the same round', async (t) => {
  // convkit and the ceiling both run at full speed in the first round and at half in the other
  // two (a neighbour's load): every round's share is the same, where the run's one ceiling
  // figure would have moved the share with the load.
  let round = 0;
  const slowAfterFirst = (perBatch: number, counts: boolean) => ({
    async run(iters: number) {
      const slow = round > 1 ? 2 : 1;
      if (counts) round++;
      return perBatch * iters * slow;
    },
  });
  const ours: Contender = {
    impl: 'convkit',
    version: '1.0',
    async prepare() {
      return slowAfterFirst(0.001, false); // 10,000 images/s x 1 MFLOP = 10 GFLOP/s, then 5
    },
    async release() {},
    async close() {},
  };
  // One ceiling call is 1e9 FLOP in 0.01 s (100 GFLOP/s), then 50; it counts the rounds.
  const ceilingTurns = { flopPerCall: 1e9, ...slowAfterFirst(0.01, true) };
  const x = context([ours], ours, { ceilingTurns, timing: { rounds: 3, warmup: 0, roundSeconds: 0.1 } });
  await runCase(CASE, x);
  const res = x.lines.find((l) => l.type === 'result')!;
  t.same(res.ceiling_gflops, { min: 50, median: 50, max: 100 }, 'the ceiling of each round');
  t.same(res.ceiling_share, { min: 0.1, median: 0.1, max: 0.1 }, '10% of the ceiling in every round');
  t.same(res.gflops, { min: 5, median: 5, max: 10 });
});
