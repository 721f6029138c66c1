// Issue 9, findings 7 and 8 (the tensor/ops half): silently wrong results and uncoded errors.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { Tensor, device, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `uncoded ${(e as Error).name}: ${(e as Error).message}`;
  }
  return undefined;
}

t.test('rbfBackward refuses dy on another device (it read it before that stream wrote it)', async (t) => {
  const x = Tensor.randn([4, 7], { seed: 1 });
  const w = Tensor.randn([9, 7], { seed: 2 });
  const dy = Tensor.randn([4, 9], { seed: 3, device: 'cpu:1' });
  t.throws(() => ops.rbfBackward(dy, x, w), { code: 'ND_ARG', message: /rbfBackward: 'dy' is on cpu:1 but 'x' is on cpu:0/ });
  // On the same device it still computes: dx = 2 * sum_i dy[n,i] (x[n,:] - w[i,:]).
  const dy0 = dy.to('cpu:0');
  const dx = ops.rbfBackward(dy0, x, w);
  const [xv, wv, dv, got] = [await x.data(), await w.data(), await dy0.data(), await dx.data()];
  let worst = 0;
  for (let n = 0; n < 4; n++)
    for (let j = 0; j < 7; j++) {
      let s = 0;
      for (let i = 0; i < 9; i++) s += 2 * dv[n * 9 + i] * (xv[n * 7 + j] - wv[i * 7 + j]);
      worst = Math.max(worst, Math.abs(got[n * 7 + j] - s));
    }
  t.ok(worst < 1e-4, `same-device rbfBackward matches the reference (max error ${worst})`);
  for (const z of [x, w, dy, dy0, dx]) z.dispose();
});

t.test('int32 fromArray refuses values it would wrap', async (t) => {
  t.throws(() => Tensor.fromArray([2 ** 40, 2 ** 31, 3e9], [3], { dtype: 'int32' }), {
    code: 'ND_ARG',
    message: /int32 value 1099511627776 at index 0 is not an integer in \[-2\^31, 2\^31 - 1\]/,
  });
  t.throws(() => Tensor.fromArray([1, 2 ** 31], [2], { dtype: 'int32' }), { code: 'ND_ARG', message: /2147483648 at index 1/ });
  t.throws(() => Tensor.fromArray([1.5], [1], { dtype: 'int32' }), { code: 'ND_ARG' });
  const ok = Tensor.fromArray([-(2 ** 31), 2 ** 31 - 1, 0], [3], { dtype: 'int32' });
  t.same(Array.from(await ok.data()), [-(2 ** 31), 2 ** 31 - 1, 0], 'the int32 extremes are kept exactly');
  ok.dispose();
});

t.test('fromArray: null, non-numbers, huge lengths and shared memory', async (t) => {
  for (const bad of [null, undefined, 5, 'abc'])
    t.equal(
      code(() => Tensor.fromArray(bad as never)),
      'ND_ARG',
      `fromArray(${String(bad)})`,
    );
  t.equal(
    code(() => Tensor.fromArray({ length: -1 } as never)),
    'ND_ARG',
    'a negative length',
  );
  t.equal(
    code(() => Tensor.fromArray({ length: 1.5 } as never)),
    'ND_ARG',
    'a fractional length',
  );
  t.equal(
    code(() => Tensor.fromArray([1, 'x' as never, 3])),
    'ND_ARG',
    'a string value',
  );
  // {length: 2^31}: 8 GiB of float32 is allocated lazily, and the first missing value is refused at once.
  const t0 = performance.now();
  t.equal(
    code(() => Tensor.fromArray({ length: 2 ** 31 } as never)),
    'ND_ARG',
    '{length: 2^31} holds no numbers: ND_ARG',
  );
  t.ok(performance.now() - t0 < 5000, 'refused without walking 2^31 elements');
  // Past what a typed array can hold: ND_OOM.
  t.equal(
    code(() => Tensor.fromArray({ length: 2 ** 33 } as never)),
    'ND_OOM',
    '{length: 2^33}: ND_OOM',
  );
  // A SharedArrayBuffer-backed array is accepted and copied as it is at that instant.
  const sab = new Float32Array(new SharedArrayBuffer(16));
  sab.set([1, 2, 3, 4]);
  const s = Tensor.fromArray(sab, [2, 2]);
  sab[0] = 99;
  t.same(Array.from(await s.data()), [1, 2, 3, 4], 'shared float32 copied');
  const si = new Int32Array(new SharedArrayBuffer(8));
  si.set([7, -7]);
  const s2 = Tensor.fromArray(si);
  t.same(Array.from(await s2.data()), [7, -7], 'shared int32 copied');
  s.dispose();
  s2.dispose();
});

t.test('randn and uniform refuse bad parameters', async (t) => {
  for (const std of [-1, Number.NaN, Number.POSITIVE_INFINITY])
    t.equal(
      code(() => Tensor.randn([2], { std })),
      'ND_ARG',
      `randn std ${std}`,
    );
  t.equal(
    code(() => Tensor.randn([2], { mean: Number.NaN })),
    'ND_ARG',
    'randn mean NaN',
  );
  t.equal(
    code(() => Tensor.uniform([2], { low: 2, high: 1 })),
    'ND_ARG',
    'uniform low > high',
  );
  t.equal(
    code(() => Tensor.uniform([2], { low: Number.NaN })),
    'ND_ARG',
    'uniform low NaN',
  );
  const z = Tensor.randn([3], { std: 0, mean: 5, seed: 1 });
  t.same(Array.from(await z.data()), [5, 5, 5], 'std 0 is allowed: the mean');
  const u = Tensor.uniform([3], { low: 2, high: 2, seed: 1 });
  t.same(Array.from(await u.data()), [2, 2, 2], 'low == high is allowed');
  z.dispose();
  u.dispose();
});

t.test('dataSync and data() inside ops.capture', async (t) => {
  const cpu = device('cpu');
  const x = Tensor.fromArray([1, -2, 3]);
  let syncErr: unknown;
  let asyncErr: unknown;
  const { ops: plan } = ops.capture(cpu, () => {
    const y = ops.relu(x);
    try {
      y.dataSync(); // nothing recorded has run: this used to return unwritten memory
    } catch (e) {
      syncErr = e;
    }
    y.data().catch((e) => (asyncErr = e)); // the caller can catch the refusal
    return y;
  });
  plan.dispose();
  t.match(syncErr, { code: 'ND_ARG', message: /is capturing/ }, 'dataSync throws a coded error');
  await new Promise((r) => setTimeout(r, 50));
  t.match(asyncErr, { code: 'ND_ARG', message: /is capturing/ }, 'data() rejects with a coded error the caller catches');
  // An async fn: capture refuses it, and the rejection of its promise is not left unhandled.
  t.throws(
    () =>
      ops.capture(cpu, async () => {
        await ops.relu(x).data();
      }),
    { code: 'ND_ARG', message: /must be synchronous/ },
  );
  t.same(Array.from(await x.data()), [1, -2, 3], 'the stream works after the refusals');
  x.dispose();
});

t.test('an async capture body does not end the process with an unhandled rejection', async (t) => {
  // In a child without the test runner's handlers: Node's default for an unhandled rejection is to exit 1.
  const code = `
    import { ops, device, Tensor } from './lib/index.ts';
    const x = Tensor.fromArray([1, 2]);
    try { ops.capture(device('cpu'), async () => { await x.data(); }); } catch (e) { console.log('caught', e.code); }
    await new Promise((r) => setTimeout(r, 200));
    console.log('alive');`;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, `exit status (stderr: ${r.stderr.slice(-400)})`);
  t.match(r.stdout, /caught ND_ARG\s+alive/);
});

t.test('the native side refuses out-of-range numbers, whatever TypeScript passes', async (t) => {
  const y = Tensor.empty([4]);
  for (const n of [Number.NaN, 2 ** 64, -1, 1.5])
    t.equal(
      code(() => native.fill(0, y.handle(), n, 0)),
      'ND_ARG',
      `fill n=${n}`,
    );
  t.equal(
    code(() => native.fill(0, y.handle(), 5, 0)),
    'ND_SHAPE',
    'fill past the buffer',
  );
  t.equal(
    code(() => native.fill(0, y.handle(), 2 ** 52, 0)),
    'ND_SHAPE',
    'fill with a count of 2^52',
  );
  t.equal(
    code(() => native.fill(0, y.handle(), 2 ** 62, 0)),
    'ND_ARG',
    'a count beyond 2^53 (inexact as a double) is refused',
  );
  // Products of sizes that overflow int64 (2^40 * 2^40) used to wrap and could pass the size checks.
  const lin = native.linear as (...a: unknown[]) => void;
  t.equal(
    code(() => lin(0, y.handle(), y.handle(), null, y.handle(), 2 ** 40, 2 ** 40, 1)),
    'ND_SHAPE',
    'linear with N * in = 2^80',
  );
  t.equal(
    code(() => lin(0, y.handle(), y.handle(), null, y.handle(), 2 ** 31, 2 ** 31 + 2, 1)),
    'ND_SHAPE',
    'linear with N * in just past 2^62',
  );
  const bg = native.batchedGemm as (...a: unknown[]) => void;
  // batch 2^33 of strides 2^31: the span wraps int64 without the check.
  t.equal(
    code(() => bg(0, y.handle(), y.handle(), y.handle(), false, false, 1, 1, 1, 1, 1, 2 ** 31, 1, 2 ** 31, 1, 1, 2 ** 31, 2 ** 33)),
    'ND_SHAPE',
    'batchedGemm span past 2^62',
  );
  y.dispose();
});
