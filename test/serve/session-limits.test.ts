// The session's limits: a full queue answers ND_BUSY at once, a timeout answers ND_TIMEOUT, an
// AbortSignal answers ND_ABORTED (name AbortError), close() drains what was queued and refuses
// what comes after. The device is held busy with the native debugSleep op, queued on the
// session's stream ahead of its batches, so "the batch is still running" is certain, not timing luck.
import t from 'tap';
import { lenet5 } from '../../lib/models/index.js';
import { native } from '../../lib/native.js';
import { InferenceSession } from '../../lib/serve/index.js';

const model = lenet5({ seed: 2 });
t.teardown(() => model.dispose());
const x = () => Float32Array.from({ length: 784 }, (_, j) => Math.cos(j));
const hold = (s: InferenceSession, ms: number) => native.debugSleep(s.device.stream, ms);

t.test('a full queue rejects with ND_BUSY at once and the queued requests still complete', async (t) => {
  const s = await InferenceSession.create(model, { maxBatchSize: 1, maxQueue: 4 });
  hold(s, 300);
  const t0 = performance.now();
  const runs = Array.from({ length: 7 }, () =>
    s.run(x()).then(
      (y) => ({ y }),
      (e: Error & { code?: string }) => ({ e, at: performance.now() - t0 }),
    ),
  );
  t.equal(s.stats().queueDepth, 4, 'four wait');
  const out = await Promise.all(runs);
  const busy = out.filter((r) => 'e' in r);
  t.equal(busy.length, 3, 'the three past maxQueue were refused');
  for (const r of busy) {
    t.equal(r.e.code, 'ND_BUSY', 'coded ND_BUSY');
    t.match(r.e.message, /queue is full .*maxQueue 4/, 'the message names the bound');
    t.ok(r.at < 250, `refused at once (${r.at.toFixed(1)} ms), not after the held batch`);
  }
  t.equal(out.filter((r) => 'y' in r).length, 4, 'the four queued ones completed');
  t.equal(s.stats().rejected.busy, 3, 'stats count the refusals');
  await s.close();
});

t.test('a request timeout rejects with ND_TIMEOUT and frees its place; the session keeps serving', async (t) => {
  const s = await InferenceSession.create(model, { maxBatchSize: 2, maxQueue: 8 });
  hold(s, 400);
  const t0 = performance.now();
  const first = s.run(x(), { timeoutMs: 50 });
  const late = s.run(x(), { timeoutMs: 60 });
  const patient = s.run(x());
  await t.rejects(first, { code: 'ND_TIMEOUT', name: 'TimeoutError', message: /within 50 ms/ });
  await t.rejects(late, { code: 'ND_TIMEOUT' });
  t.ok(performance.now() - t0 < 350, 'the timeouts fired before the held device was free');
  t.equal((await patient).length, 10, 'the request without a timeout got its row');
  t.equal((await s.run(x(), { timeoutMs: 5000 })).length, 10, 'later requests are served');
  t.equal(s.stats().rejected.timeout, 2, 'stats count the timeouts');
  // A session-wide default applies to requests that give none.
  const d = await InferenceSession.create(model, { maxBatchSize: 1, timeoutMs: 30 });
  hold(d, 300);
  await t.rejects(d.run(x()), { code: 'ND_TIMEOUT' }, 'the session default timeout applies');
  await d.close();
  await s.close();
});

t.test('an AbortSignal rejects with an AbortError coded ND_ABORTED, queued or already aborted', async (t) => {
  const s = await InferenceSession.create(model, { maxBatchSize: 4 });
  const pre = new AbortController();
  pre.abort(new Error('client went away'));
  await t.rejects(s.run(x(), { signal: pre.signal }), { name: 'AbortError', code: 'ND_ABORTED', message: /before it was queued/ });
  hold(s, 300);
  const ac = new AbortController();
  const p = s.run(x(), { signal: ac.signal });
  const other = s.run(x());
  setTimeout(() => ac.abort(new Error('stop')), 20);
  const e = await p.then(
    () => null,
    (err: Error) => err,
  );
  t.equal((e as Error & { code?: string })?.code, 'ND_ABORTED', 'aborted while waiting');
  t.match(String((e?.cause as Error)?.message), 'stop', "the signal's reason is the cause");
  t.equal((await other).length, 10, 'the other request of the batch is answered');
  t.equal(s.stats().rejected.aborted, 2, 'stats count both aborts');
  await t.rejects(s.run(x(), { signal: {} as AbortSignal }), { code: 'ND_ARG' }, 'a non-signal is an argument error');
  await s.close();
});

t.test('close() drains: pending requests finish, new ones get ND_CLOSED', async (t) => {
  const s = await InferenceSession.create(model, { maxBatchSize: 3 });
  hold(s, 200);
  const pending = Array.from({ length: 10 }, (_, i) => s.run(Float32Array.from({ length: 784 }, (_, j) => Math.sin(i + j))));
  const settledAt: number[] = [];
  pending.forEach((p) => void p.then(() => settledAt.push(performance.now())));
  const closed = s.close();
  t.equal(s.close(), closed, 'close() is idempotent');
  await t.rejects(s.run(x()), { code: 'ND_CLOSED', name: 'ClosedError' }, 'a request after close() is refused');
  await closed;
  const closedAt = performance.now();
  const rows = await Promise.all(pending);
  t.equal(rows.length, 10, 'all ten pending requests were answered');
  t.ok(
    rows.every((r) => r.length === 10 && Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-5),
    'with real rows',
  );
  t.ok(settledAt.length === 10 && settledAt.every((at) => at <= closedAt), 'close() resolved after the last one');
  const st = s.stats();
  t.equal(st.queueDepth, 0, 'nothing left queued');
  t.same(st.batchSizes, { 3: 3, 1: 1 }, 'ten requests ran as 3 + 3 + 3 + 1');
  t.equal(st.latencyMs.count, 10, 'latency window holds the ten');
  t.ok(
    st.latencyMs.p50 > 0 &&
      st.latencyMs.p50 <= st.latencyMs.p90 &&
      st.latencyMs.p90 <= st.latencyMs.p99 &&
      st.latencyMs.p99 <= st.latencyMs.max,
    'percentiles are ordered',
  );
});

t.test('bad input is a coded error naming the shape; bad options are ND_ARG', async (t) => {
  const s = await InferenceSession.create(model);
  await t.rejects(s.run(new Float32Array(783)), { code: 'ND_SHAPE', message: /\[1, 28, 28\] is 784 values, got 783/ });
  const nan = x();
  nan[5] = NaN;
  await t.rejects(s.run(nan), { code: 'ND_ARG', message: /value 5 is NaN/ });
  await t.rejects(s.run(null as unknown as Float32Array), { code: 'ND_ARG' });
  await t.rejects(InferenceSession.create(model, { maxBatchSize: 0 }), { code: 'ND_ARG', message: /maxBatchSize/ });
  await t.rejects(InferenceSession.create(model, { maxBatchSize: 8, batchSizes: [3, 9] }), { code: 'ND_ARG', message: /batchSizes/ });
  await t.rejects(InferenceSession.create(model, { device: 'cpu:3' }), { code: 'ND_ARG', message: /model is on cpu:0/ });
  t.same(s.preparedBatchSizes, [1, 2, 4, 8, 16, 32], 'default prepared sizes: powers of two up to 32');
  await s.close();
});

t.test('maxQueueDelayMs waits for a fuller batch, up to the delay', async (t) => {
  const s = await InferenceSession.create(model, { maxBatchSize: 4, maxQueueDelayMs: 600 });
  const a = s.run(x());
  await new Promise((r) => setTimeout(r, 10));
  const b = s.run(x());
  await Promise.all([a, b]);
  t.same(s.stats().batchSizes, { 2: 1 }, 'two requests 10 ms apart shared one batch');
  const full = Array.from({ length: 4 }, () => s.run(x()));
  const t0 = performance.now();
  await Promise.all(full);
  t.ok(performance.now() - t0 < 450, 'a full batch does not wait for the 600 ms delay');
  await s.close();
});

t.test('answersPerTurn: a finished batch answers that many requests per event-loop turn', async (t) => {
  const model = lenet5({ seed: 6 });
  const s = await InferenceSession.create(model, { maxBatchSize: 16, answersPerTurn: 4 });
  let turn = 0;
  let ticking = true;
  const tickLoop = (): void => {
    turn++;
    if (ticking) setImmediate(tickLoop);
  };
  setImmediate(tickLoop);
  const turns: number[] = [];
  await Promise.all(Array.from({ length: 16 }, () => s.run(new Float32Array(784)).then(() => turns.push(turn))));
  ticking = false;
  t.equal(s.stats().batchSizes['16'], 1, 'one batch of 16');
  const perTurn = new Map<number, number>();
  for (const k of turns) perTurn.set(k, (perTurn.get(k) ?? 0) + 1);
  t.ok(
    [...perTurn.values()].every((n) => n <= 4),
    `at most 4 answers per turn (${JSON.stringify([...perTurn])})`,
  );
  t.ok(perTurn.size >= 4, `spread over ${perTurn.size} turns`);
  t.equal(s.stats().completed, 16, 'every request completed');
  await t.rejects(InferenceSession.create(model, { answersPerTurn: 0 }), { code: 'ND_ARG', message: /answersPerTurn/ });
  await s.close();
  model.dispose();
});
