// Timing in turns and the spread of rounds, with fake runners whose "seconds" are chosen, so
// the checks are of the bookkeeping (order, calibration, statistics), never of the machine.
import t from 'tap';
import { itersFor, mapSpread, roundSpread, spread, timeInTurns, waitForQuiet, type Runner } from '../../lib/bench/timing.js';

t.test('spread: min, median (mean of the middle two when even), max', async (t) => {
  t.same(spread([3, 1, 2]), { min: 1, median: 2, max: 3 });
  t.same(spread([4, 1, 3, 2]), { min: 1, median: 2.5, max: 4 });
  t.same(spread([7]), { min: 7, median: 7, max: 7 });
  t.throws(() => spread([]), RangeError);
  t.same(
    mapSpread({ min: 1, median: 2, max: 4 }, (x) => 10 * x),
    { min: 10, median: 20, max: 40 },
  );
  t.same(
    mapSpread({ min: 1, median: 2, max: 4 }, (x) => 1 / x),
    { min: 0.25, median: 0.5, max: 1 },
    'a decreasing map keeps min <= max',
  );
  t.same(roundSpread({ min: 1.23456, median: 2.34567, max: 1234567 }, 3), { min: 1.23, median: 2.35, max: 1230000 });
});

t.test('itersFor: a round of about roundSeconds, at least one batch', async (t) => {
  t.equal(itersFor(0.01, 1), 100);
  t.equal(itersFor(5, 1), 1);
  t.equal(itersFor(NaN, 1), 1);
  t.equal(itersFor(0, 1), 1);
});

/** A runner taking `perBatch` fake seconds per batch; logs every call as [name, iters]. */
function fake(name: string, perBatch: number[] | number, log: Array<[string, number]>): Runner {
  let call = 0;
  return {
    async run(iters) {
      log.push([name, iters]);
      const p = Array.isArray(perBatch) ? perBatch[Math.min(call++, perBatch.length - 1)] : perBatch;
      return p * iters;
    },
  };
}

t.test('timeInTurns: calibrates each runner, then alternates rounds, rotating who goes first', async (t) => {
  const log: Array<[string, number]> = [];
  const a = fake('a', 0.01, log);
  const b = fake('b', 0.1, log);
  const [ra, rb] = await timeInTurns([a, b], { rounds: 3, warmup: 1, roundSeconds: 1 });
  t.same(log, [
    ['a', 1],
    ['a', 100], // calibration: one batch, then a warm-up round sized from it
    ['b', 1],
    ['b', 10],
    ['a', 100],
    ['b', 10], // round 0: a first
    ['b', 10],
    ['a', 100], // round 1: b first
    ['a', 100],
    ['b', 10], // round 2
  ]);
  t.equal(ra.iters, 100);
  t.equal(rb.iters, 10);
  t.same(
    ra.seconds.map((s) => +s.toFixed(9)),
    [1, 1, 1],
  );
  t.equal(rb.seconds.length, 3);
});

t.test('timeInTurns: rounds are sized on the fastest batch seen (a slow first call does not shrink them)', async (t) => {
  const log: Array<[string, number]> = [];
  // First call 0.5 s (cold), the warm-up round 0.01 s per batch, then 0.02 (a neighbour's burst).
  const r = fake('x', [0.5, 0.01, 0.02, 0.02], log);
  const [res] = await timeInTurns([r], { rounds: 2, warmup: 2, roundSeconds: 1 });
  t.same(
    log.map((l) => l[1]),
    [1, 2, 100, 100, 100],
    'cold call -> 2 batches; then sized on 0.01 s and kept',
  );
  t.equal(res.iters, 100);
});

t.test('timeInTurns: no runners, no rounds', async (t) => {
  t.same(await timeInTurns([], { rounds: 3, warmup: 1, roundSeconds: 1 }), []);
});

t.test('waitForQuiet: waits out busy windows, stops at the first quiet one, and never past maxMs', async (t) => {
  // The sampler is called once to start, then once per 10 ms window.
  const busy = [0, 30, 25, 12, 0.5, 40];
  let calls = 0;
  const waited = await waitForQuiet(1000, () => busy[calls++] ?? 0);
  t.equal(calls, 5, 'three busy windows, then the quiet one ends the wait');
  t.ok(waited >= 35 && waited < 900, `waited about four windows (${waited.toFixed(1)} ms)`);

  calls = 0;
  const capped = await waitForQuiet(60, () => (calls++ === 0 ? 0 : 50));
  t.ok(capped >= 60 && capped < 400, `a machine that stays busy is waited on for maxMs only (${capped.toFixed(1)} ms)`);

  const real = await waitForQuiet(300);
  t.ok(real >= 0 && real < 700, `the machine's own sampler works (${real.toFixed(1)} ms)`);
});

t.test('timeInTurns: waits for quiet before each turn when there are several runners', async (t) => {
  let samples = 0;
  const r: Runner = { run: async (n) => n * 0.001 };
  await timeInTurns([r, r], { rounds: 2, warmup: 0, roundSeconds: 0.01, settleMs: 50, busyMs: () => (samples++, 0) });
  t.equal(samples, 8, 'four turns, each a start sample and one quiet window');
});
