// ops.allReduce / ops.broadcast over CPU streams (the shared-memory engine, native/comm): values
// against a float64 reference and against the fixed summation order (member 0 + 1 + 2 ...),
// identical bytes on every member, element ranges, odd sizes, stream order, a free JS thread,
// and that a failed earlier op or a refused enqueue never leaves the other members waiting.
import t from 'tap';
import { Tensor, device, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { randomArray } from '../helpers/rng.js';

/** What data() hands back. */
type Values = Float32Array | Int32Array;

const devs = (n: number) => Array.from({ length: n }, (_, i) => device(`cpu:${i}`));

function make(n: number, size: number, seed: number): { tensors: Tensor[]; inputs: Float32Array[] } {
  const inputs = devs(n).map((_, r) => Float32Array.from(randomArray(size, seed + r, -4, 4)));
  return { inputs, tensors: inputs.map((x, r) => Tensor.fromArray(x, [size], { device: `cpu:${r}` })) };
}

/** The result the engine must produce: float32 sums in member order, then one division. */
function expected(inputs: Float32Array[], op: 'sum' | 'mean', begin = 0, end = inputs[0].length): Float32Array {
  const out = Float32Array.from(inputs[0]);
  for (let i = begin; i < end; i++) {
    let acc = inputs[0][i];
    for (let r = 1; r < inputs.length; r++) acc = Math.fround(acc + inputs[r][i]);
    out[i] = op === 'mean' ? Math.fround(acc / inputs.length) : acc;
  }
  return out;
}

function maxErr64(got: Values, inputs: Float32Array[], op: 'sum' | 'mean'): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    let s = 0,
      mag = 0;
    for (const x of inputs) {
      s += x[i];
      mag += Math.abs(x[i]);
    }
    if (op === 'mean') {
      s /= inputs.length;
      mag /= inputs.length;
    }
    worst = Math.max(worst, Math.abs(got[i] - s) / (mag + 1e-30));
  }
  return worst;
}

function sameBytes(a: Values, b: Values): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const dispose = (ts: Tensor[]) => ts.forEach((x) => x.dispose());

for (const n of [2, 3]) {
  for (const size of [1, 7, 1_000_003]) {
    for (const op of ['sum', 'mean'] as const) {
      t.test(`allReduce ${op} over ${n} streams, ${size} elements`, async (t) => {
        const { tensors, inputs } = make(n, size, 100 * n + size);
        ops.allReduce(tensors, { op });
        const got = await Promise.all(tensors.map((x) => x.data()));
        const want = expected(inputs, op);
        t.ok(sameBytes(got[0], want), 'member 0 holds the member-order float32 sum');
        for (let r = 1; r < n; r++) t.ok(sameBytes(got[r], got[0]), `member ${r} holds the same bytes as member 0`);
        const err = maxErr64(got[0], inputs, op);
        t.ok(err < 1e-6, `relative error against float64 ${err.toExponential(2)}`);
        dispose(tensors);
      });
    }
  }
}

t.test('the same inputs give the same bytes at every run', async (t) => {
  const runs: Values[] = [];
  for (let k = 0; k < 3; k++) {
    const { tensors } = make(3, 4099, 7);
    ops.allReduce(tensors, { op: 'mean' });
    runs.push(await tensors[2].data());
    dispose(tensors);
  }
  t.ok(sameBytes(runs[0], runs[1]) && sameBytes(runs[1], runs[2]), 'three runs agree byte for byte');
});

t.test('a range reduces only its elements', async (t) => {
  const size = 5000;
  for (const [offset, length] of [
    [0, 1],
    [17, 333],
    [4000, 1000],
    [size, 0],
  ]) {
    const { tensors, inputs } = make(3, size, offset + 1);
    ops.allReduce(tensors, { op: 'sum', offset, length });
    const got = await Promise.all(tensors.map((x) => x.data()));
    const want = expected(inputs, 'sum', offset, offset + length);
    for (let r = 0; r < 3; r++) {
      let outsideKept = true;
      for (let i = 0; i < size; i++) if ((i < offset || i >= offset + length) && got[r][i] !== inputs[r][i]) outsideKept = false;
      t.ok(outsideKept, `[${offset}, +${length}) member ${r}: elements outside the range are untouched`);
      t.ok(
        sameBytes(got[r].subarray(offset, offset + length), want.subarray(offset, offset + length)),
        `member ${r}: the range is reduced`,
      );
    }
    dispose(tensors);
  }
});

t.test('broadcast copies the root into every member (whole tensor and a range)', async (t) => {
  const { tensors, inputs } = make(3, 1001, 42);
  ops.broadcast(tensors, { root: 1 });
  for (const [r, x] of tensors.entries()) t.ok(sameBytes(await x.data(), inputs[1]), `member ${r} holds the root's values`);
  dispose(tensors);

  const g = make(3, 1001, 43);
  ops.broadcast(g.tensors, { root: 2, offset: 100, length: 50 });
  for (const [r, x] of g.tensors.entries()) {
    const want = Float32Array.from(g.inputs[r]);
    want.set(g.inputs[2].subarray(100, 150), 100);
    t.ok(sameBytes(await x.data(), want), `member ${r}: only [100, 150) comes from the root`);
  }
  dispose(g.tensors);
});

t.test('stream order: earlier ops are seen, later ops see the result', async (t) => {
  const [d0, d1, d2] = devs(3);
  const ts = [d0, d1, d2].map((d) => Tensor.zeros([1000], { device: d }));
  // cpu:1 is late: its fill runs 150 ms after the others reach the collective.
  native.debugSleep(d1.stream, 150);
  ts.forEach((x, r) => ops.fillInPlace(x, r + 1));
  ops.allReduce(ts, { op: 'sum' });
  const after = ts.map((x) => ops.scale(x, 2));
  for (const [r, x] of ts.entries()) t.same(new Set(await x.data()), new Set([6]), `member ${r} reduced the fills (1 + 2 + 3)`);
  for (const [r, x] of after.entries()) t.same(new Set(await x.data()), new Set([12]), `an op queued after on member ${r} sees 6`);
  dispose([...ts, ...after]);
});

t.test('the call returns at once and the JS thread stays free while members wait', async (t) => {
  const [d0, d1] = devs(2);
  const { tensors } = make(2, 1 << 20, 5);
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  native.debugSleep(d1.stream, 250); // cpu:0 waits at the barrier meanwhile
  ops.allReduce(tensors, { op: 'mean' });
  t.ok(d0.pending() >= 1 && d1.pending() >= 2, 'the collective is still queued after the call returned');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  clearInterval(timer);
  t.ok(ticks >= 3, `timers fired ${ticks} times while the collective waited`);
  dispose(tensors);
});

t.test('disposing a member right after the call is safe (queued ops hold the storage)', async (t) => {
  const { tensors, inputs } = make(2, 777, 9);
  native.debugSleep(device('cpu:0').stream, 50);
  ops.allReduce(tensors, { op: 'sum' });
  tensors[0].dispose();
  t.ok(sameBytes(await tensors[1].data(), expected(inputs, 'sum')), 'the other member is reduced');
  tensors[1].dispose();
});

t.test('a failed earlier op does not hang the collective; its error surfaces at the next wait', async (t) => {
  const [d0, d1] = devs(2);
  const ts = [d0, d1].map((d, r) => Tensor.full([64], r + 1, { device: d }));
  native.debugFail(d1.stream, 'an earlier kernel failed');
  ops.allReduce(ts, { op: 'sum' });
  await t.resolves(d0.synchronize(), 'cpu:0 finishes the collective');
  await t.rejects(d1.synchronize(), { message: /debugFail: an earlier kernel failed/ }, 'cpu:1 reports the earlier failure');
  t.same(new Set(await ts[0].data()), new Set([3]), 'the failing stream still took part');
  t.same(new Set(await ts[1].data()), new Set([3]));
  // And the next collective on the same streams runs normally.
  ops.allReduce(ts, { op: 'mean' });
  t.same(new Set(await ts[1].data()), new Set([3]));
  dispose(ts);
});

t.test('a stream that is capturing is refused (ND_ARG) and nothing is queued', async (t) => {
  const [d0, d1] = devs(2);
  const ts = [d0, d1].map((d) => Tensor.full([8], 1, { device: d }));
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  native.captureBegin(d1.stream);
  try {
    t.throws(() => ops.allReduce(ts), { code: 'ND_ARG', message: /cpu:1 is capturing/ });
  } finally {
    native.captureRelease(native.captureEnd(d1.stream));
  }
  t.equal(d0.pending(), 0, 'nothing was queued on cpu:0');
  t.same(new Set(await ts[0].data()), new Set([1]));
  dispose(ts);
});

t.test('bad groups get ND_ARG before anything is queued', async (t) => {
  const [d0, d1] = devs(2);
  const a = Tensor.zeros([10], { device: d0 });
  const b = Tensor.zeros([10], { device: d1 });
  const a2 = Tensor.zeros([10], { device: d0 });
  const short = Tensor.zeros([9], { device: d1 });
  const ints = Tensor.full([10], 1, { device: d1, dtype: 'int32' });
  const arg = (message: RegExp) => ({ code: 'ND_ARG', message });
  t.throws(() => ops.allReduce([]), arg(/no devices/));
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  t.throws(() => ops.allReduce('x' as never), arg(/must be an array/));
  t.throws(() => ops.allReduce([a, a2]), arg(/tensors\[0\] and tensors\[1\] are both on cpu:0/));
  t.throws(() => ops.allReduce([a, short]), arg(/tensors\[1\] has 9 elements but tensors\[0\] has 10/));
  t.throws(() => ops.allReduce([a, ints]), arg(/'tensors\[1\]' must be float32, got int32/));
  t.throws(() => ops.allReduce([a, b], { offset: 11 }), arg(/'offset'/));
  t.throws(() => ops.allReduce([a, b], { offset: 5, length: 6 }), arg(/\[5, 11\) are outside tensors of 10 elements/));
  t.throws(() => ops.allReduce([a, b], { offset: -1 }), arg(/'offset'/));
  t.throws(() => ops.allReduce([a, b], { length: 1.5 }), arg(/'length'/));
  t.throws(() => ops.allReduce([a, b], { op: 'max' as never }), arg(/'op' must be 'sum' or 'mean'/));
  t.throws(() => ops.broadcast([a, b], { root: 2 }), arg(/'root'/));
  t.throws(() => ops.broadcast([a, b], undefined as never), arg(/options \{ root \} are required/));
  const gone = Tensor.zeros([10], { device: d1 });
  gone.dispose();
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  t.throws(() => ops.allReduce([a, gone]), { code: 'ND_DISPOSED' });
  t.equal(d0.pending() + d1.pending(), 0, 'nothing was queued');
  dispose([a, b, a2, short, ints]);
});

t.test('the native layer refuses what would hang or read out of bounds', async (t) => {
  const [d0, d1] = devs(2);
  const a = Tensor.zeros([10], { device: d0 });
  const b = Tensor.zeros([10], { device: d1 });
  const [ha, hb] = [a.handle(), b.handle()];
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  t.throws(() => native.allReduce([0, 0], [ha, hb], 0, 10, 0), { code: 'ND_ARG', message: /cpu:0 appears twice/ });
  t.throws(() => native.allReduce([0, 1], [ha, hb], 5, 6, 0), { code: 'ND_ARG', message: /range ends at byte 44/ });
  t.throws(() => native.allReduce([0, 1], [ha, ha], 0, 10, 0), { code: 'ND_ARG', message: /share memory/ });
  t.throws(() => native.allReduce([0, 1], [ha], 0, 10, 0), { code: 'ND_ARG', message: /2 streams for 1 tensors/ });
  t.throws(() => native.allReduce([0, 1], [ha, hb], 0, 10, 2 as never), { code: 'ND_ARG', message: /'op'/ });
  t.throws(() => native.broadcast([0, 1], [ha, hb], 0, 10, 2), { code: 'ND_ARG', message: /root 2 is not a member/ });
  t.throws(() => native.allReduce([0, 256], [ha, hb], 0, 10, 0), { code: /ND_NO_CUDA|ND_ARG/ });
  t.equal(d0.pending() + d1.pending(), 0, 'nothing was queued');
  dispose([a, b]);
});

t.test('the trace shows each stream running the collective, and when', async (t) => {
  const [d0, d1] = devs(2);
  const { tensors } = make(2, 1 << 16, 3);
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  native.trace(true);
  native.debugSleep(d1.stream, 60); // a "late backward" on cpu:1
  ops.allReduce(tensors, { op: 'mean' });
  await Promise.all([d0.synchronize(), d1.synchronize()]);
  const rows = native.trace(false);
  const row = (stream: number, op: string) => rows.find((r) => r.stream === stream && r.op === op);
  for (const s of [0, 1]) {
    const whole = row(s, 'allReduce');
    const part = row(s, 'allReduce.reduce');
    t.ok(whole && whole.startNs <= whole.endNs, `cpu:${s} ran allReduce (start <= end)`);
    t.ok(part && whole && part.startNs >= whole.startNs && part.endNs <= whole.endNs, `cpu:${s}'s share of the reduction lies inside it`);
  }
  const sleep = row(1, 'debugSleep');
  t.ok(sleep && row(0, 'allReduce')!.startNs < sleep.endNs, "cpu:0's collective started before cpu:1's earlier op ended");
  t.ok(row(0, 'allReduce.reduce')!.startNs >= sleep!.endNs, 'and reduced only after cpu:1 arrived');
  t.same(native.trace(), [], 'rows are taken once; tracing is off again');
  dispose(tensors);
});

t.test('a refused enqueue on one member releases the others (child: CONVKIT_MAX_QUEUED_OPS=4)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const code = `
    import { Tensor, device, ops } from './lib/index.ts';
    import { native } from './lib/native.ts';
    const [d0, d1] = [device('cpu:0'), device('cpu:1')];
    const ts = [d0, d1].map((d) => Tensor.full([16], 1, { device: d }));
    await Promise.all([d0.synchronize(), d1.synchronize()]);
    for (let i = 0; i < 4; i++) native.debugSleep(d1.stream, 30);
    let code = null;
    try { ops.allReduce(ts); } catch (e) { code = e.code; }
    await Promise.all([d0.synchronize(), d1.synchronize()]);
    const v0 = (await ts[0].data())[0];
    ops.allReduce(ts);
    const v1 = (await ts[1].data())[0];
    console.log(JSON.stringify({ code, v0, v1 }));`;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CONVKIT_NO_CUDA: '1', CONVKIT_MAX_QUEUED_OPS: '4' },
  });
  t.equal(r.status, 0, `the child exited (no hang): ${r.stderr.slice(-1500)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { code?: string; v0?: number; v1?: number };
  t.equal(out.code, 'ND_BUSY', 'the full stream refused the collective');
  t.equal(out.v0, 1, 'the member already queued did nothing');
  t.equal(out.v1, 2, 'a later collective runs normally');
});
