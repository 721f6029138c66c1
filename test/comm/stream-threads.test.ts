// The per-stream thread budget (device.setThreads, native/core/thread_pool.h): data-parallel
// replicas on CPU streams take a share of the intra-op pool each, so that two replicas of one
// thread run side by side on a 2-core machine instead of both spreading over every core.
import t from 'tap';
import { Tensor, device, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { randomArray } from '../helpers/rng.js';

const pool = native.threads();

/** What the stream's next op sees: [pool size its kernels get, threads that worked on a 64-piece job]. */
function threadUse(stream: number): Tensor {
  const y = Tensor.zeros([2], { device: `cpu:${stream}` });
  native.debugThreadUse(stream, y.handle());
  return y;
}

t.test('a budget of one thread makes every kernel of the stream serial', async (t) => {
  const d = device('cpu:3');
  t.equal(d.setThreads(1), 0, 'the default was the whole pool (0)');
  const y = threadUse(3);
  t.same(Array.from(await y.data()), [1, 1], 'size() is 1 and one thread ran all 64 pieces');
  t.equal(d.setThreads(0), 1, 'setThreads returns the previous request');
  const z = threadUse(3);
  const [size, used] = await z.data();
  t.equal(size, pool, `without a budget the stream sees the whole pool (${pool})`);
  t.ok(used >= 1 && used <= pool, `${used} threads worked, at most the pool's ${pool}`);
  y.dispose();
  z.dispose();
});

t.test(
  'a budget between 1 and the pool bounds the threads a job uses',
  { skip: pool < 3 ? `the pool has ${pool} threads` : false },
  async (t) => {
    const d = device('cpu:4');
    d.setThreads(2);
    const y = threadUse(4);
    const [size, used] = await y.data();
    t.equal(size, 2);
    t.ok(used <= 2, `${used} threads worked on the job`);
    d.setThreads(0);
    y.dispose();
  },
);

t.test('the budget is stream-ordered: ops queued before keep theirs', async (t) => {
  const d = device('cpu:5');
  await d.synchronize();
  native.debugSleep(d.stream, 30);
  const before = threadUse(5);
  d.setThreads(1);
  const after = threadUse(5);
  t.equal((await before.data())[0], pool, 'the op queued before setThreads saw the whole pool');
  t.equal((await after.data())[0], 1, 'the op queued after saw one thread');
  d.setThreads(0);
  t.equal((await threadUse(5).data())[0], pool, 'other streams and later ops are unaffected once lifted');
  before.dispose();
  after.dispose();
});

t.test('two one-thread streams run their GEMMs at the same time, with the same results', async (t) => {
  const n = 384;
  const a = Float32Array.from(randomArray(n * n, 1));
  const b = Float32Array.from(randomArray(n * n, 2));
  const ref = ops.gemm(Tensor.fromArray(a, [n, n]), Tensor.fromArray(b, [n, n]));
  const want = await ref.data();
  const [d0, d1] = [device('cpu:0'), device('cpu:1')];
  d0.setThreads(1);
  d1.setThreads(1);
  const inputs = [d0, d1].map((d) => [Tensor.fromArray(a, [n, n], { device: d }), Tensor.fromArray(b, [n, n], { device: d })]);
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  native.trace(true);
  // Several GEMMs each, so that the two streams' runs must overlap unless one waits for the other.
  const outs = inputs.map(([x, w]) => Array.from({ length: 4 }, () => ops.gemm(x, w)));
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  const rows = native.trace(false).filter((r) => r.op === 'gemm');
  d0.setThreads(0);
  d1.setThreads(0);
  const span = (s: number) => {
    const mine = rows.filter((r) => r.stream === s);
    return { start: Math.min(...mine.map((r) => r.startNs)), end: Math.max(...mine.map((r) => r.endNs)), count: mine.length };
  };
  const [s0, s1] = [span(0), span(1)];
  t.same([s0.count, s1.count], [4, 4], 'the trace holds every GEMM of both streams');
  t.ok(Math.max(s0.start, s1.start) < Math.min(s0.end, s1.end), 'the two streams were computing at the same time');
  for (const list of outs)
    for (const y of list) {
      const got = await y.data();
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      t.ok(worst < 1e-3, `a one-thread GEMM agrees with the pool's (max diff ${worst.toExponential(2)})`);
      y.dispose();
    }
  for (const pair of inputs) pair.forEach((x) => x.dispose());
  ref.dispose();
});

t.test('bad budgets get ND_ARG', async (t) => {
  const d = device('cpu:0');
  t.throws(() => d.setThreads(-1), { code: 'ND_ARG' });
  t.throws(() => d.setThreads(1.5), { code: 'ND_ARG' });
  t.throws(() => d.setThreads(5000), { code: 'ND_ARG' });
  t.throws(() => native.setStreamThreads(256, 1), { code: /ND_ARG|ND_NO_CUDA/ });
});
