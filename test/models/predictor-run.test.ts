// Predictor.run: the one-call path (input copied in, answer written into the caller's buffer, a
// done flag polled from the event loop) must give predict(x)'s values bit for bit, for every
// input form and polling choice, keep concurrent runs apart, and refuse what it cannot do with
// coded errors, never leaving an earlier op's failure unreported.
import t from 'tap';
import { Tensor, device, ops } from '../../lib/index.js';
import { lenet5 } from '../../lib/models/index.js';
import { native } from '../../lib/native.js';
import { SGD } from '../../lib/optim/sgd.js';

const same = (a: Float32Array, b: Float32Array | Int32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

t.test('run() equals predict().data() bit for bit: tensor or Float32Array input, every poll choice', async (t) => {
  const model = lenet5({ seed: 3 });
  for (const batch of [1, 3]) {
    const p = model.compilePredictor(batch);
    for (const seed of [1, 2]) {
      const x = Tensor.randn([batch, 1, 28, 28], { seed });
      const want = await p.predict(x).data();
      const host = Float32Array.from(await x.data());
      for (const poll of ['auto', true, false] as const) {
        t.ok(same(await p.run(x, { poll }), want), `batch ${batch} seed ${seed} poll ${poll}: tensor input`);
        t.ok(same(await p.run(host, { poll }), want), `batch ${batch} seed ${seed} poll ${poll}: Float32Array input`);
        const lent = await p.run(host, { poll, borrowInput: true });
        t.ok(same(lent, want), `batch ${batch} seed ${seed} poll ${poll}: borrowed Float32Array input`);
      }
      const out = new Float32Array(batch * 10).fill(Number.NaN);
      const got = await p.run(x, { out });
      t.equal(got, out, 'the answer is written into the caller’s buffer');
      t.ok(same(out, want), 'and holds the probabilities');
      x.dispose();
    }
    p.dispose();
  }
  model.dispose();
});

t.test('concurrent runs keep their own inputs and outputs; the input array is read at the call', async (t) => {
  const model = lenet5({ seed: 4 });
  const p = model.compilePredictor(1);
  const xs = [1, 2, 3, 4, 5].map((s) => Float32Array.from(Tensor.randn([1, 1, 28, 28], { seed: 20 + s }).dataSync()));
  const wants = xs.map((x) => model.predictProbs(Tensor.fromArray(x, [1, 1, 28, 28])).dataSync());
  const shared = Float32Array.from(xs[0]);
  const first = p.run(shared);
  shared.fill(0); // after the call: must not change the first run's answer
  const rest = xs.slice(1).map((x, i) => p.run(x, { poll: i % 2 === 0 }));
  t.ok(same(await first, wants[0]), 'run 0 took its input at the call');
  const outs = await Promise.all(rest);
  for (const [i, o] of outs.entries()) t.ok(same(o, wants[i + 1]), `run ${i + 1} got its own row`);
  p.dispose();
  model.dispose();
});

t.test('rows: gathered into the batch, padding rows zero, equal to the assembled batch bit for bit', async (t) => {
  const model = lenet5({ seed: 11 });
  const per = 28 * 28;
  for (const batch of [1, 5]) {
    const p = model.compilePredictor(batch);
    const rows = [0, 1, 2, 3, 4].slice(0, batch).map((s) => Float32Array.from(Tensor.randn([1, 1, 28, 28], { seed: 40 + s }).dataSync()));
    for (let n = 1; n <= batch; n++) {
      const whole = new Float32Array(batch * per);
      for (let i = 0; i < n; i++) whole.set(rows[i]!, i * per);
      const want = await p.run(whole);
      for (const borrowInput of [false, true]) {
        // A full batch first, so that zero padding must be written, not found.
        await p.run(rows.length === batch ? rows : whole);
        const got = await p.run(rows.slice(0, n), { borrowInput, poll: false });
        t.ok(same(got, want), `batch ${batch}, ${n} rows, borrowInput ${borrowInput}`);
      }
    }
    // Copied rows are read at the call; borrowed ones when the run starts.
    const copy = Float32Array.from(rows[0]!);
    const pending = p.run([copy]);
    copy.fill(Number.NaN);
    t.ok((await pending).every(Number.isFinite), `batch ${batch}: a copied row changed after the call does not count`);
    p.dispose();
  }
  model.dispose();
});

t.test('runs follow in-place weight updates, as predict() does', async (t) => {
  const model = lenet5({ seed: 5 });
  const p = model.compilePredictor(2);
  const x = Tensor.randn([2, 1, 28, 28], { seed: 6 });
  const before = await p.run(x);
  const opt = new SGD(model.parameters(), { lr: 0.5 });
  const r = model.trainStep(x, Tensor.fromArray(Int32Array.from([1, 7])));
  opt.step();
  const after = await p.run(x);
  t.notOk(same(after, before), 'the answer moved with the weights');
  t.ok(same(after, await model.predictProbs(x).data()), 'and equals the eager pass');
  r.loss.dispose();
  r.correct.dispose();
  p.dispose();
  model.dispose();
});

t.test('an earlier failed op on the stream rejects the run instead of a silent answer', async (t) => {
  const model = lenet5({ seed: 7 });
  const p = model.compilePredictor(1);
  const x = Tensor.randn([1, 1, 28, 28], { seed: 8 });
  const cpu = device('cpu');
  for (const poll of [true, false]) {
    native.debugFail(cpu.stream, 'injected before run');
    await t.rejects(p.run(x, { poll }), { code: 'ND_INTERNAL', message: /injected before run/ }, `poll ${poll}`);
    t.ok((await p.run(x, { poll })).every(Number.isFinite), 'the next run succeeds');
  }
  // A run whose poll gives up long before a slow op ends still settles, through the wake-up.
  native.debugSleep(cpu.stream, 30);
  const slow = await p.run(x, { poll: true });
  t.ok(same(slow, await p.predict(x).data()), 'a run behind a 30 ms op is answered');
  p.dispose();
  model.dispose();
});

t.test('run() refuses bad input with coded errors', async (t) => {
  const model = lenet5({ seed: 9 });
  const p = model.compilePredictor(2);
  const x = Tensor.randn([2, 1, 28, 28], { seed: 1 });
  t.throws(() => p.run(new Float32Array(5)), { code: 'ND_SHAPE', message: /holds 5 floats.*\[2, 1, 28, 28\]/ });
  t.throws(() => p.run(Tensor.randn([1, 1, 28, 28])), { code: 'ND_SHAPE' });
  t.throws(() => p.run(x, { out: new Float32Array(3) }), { code: 'ND_SHAPE', message: /'out' must hold 20 floats/ });
  t.throws(() => p.run(x, { out: new Float64Array(20) as unknown as Float32Array }), { code: 'ND_ARG' });
  t.throws(() => p.run({} as unknown as Float32Array), { code: 'ND_ARG', message: /Tensor, a Float32Array or an array/ });
  const row = new Float32Array(28 * 28);
  t.throws(() => p.run([1, 2] as unknown as Float32Array[]), { code: 'ND_ARG', message: /row 0 of 'input' must be a Float32Array/ });
  t.throws(() => p.run([]), { code: 'ND_SHAPE', message: /0 rows, the recording takes 1 to 2/ });
  t.throws(() => p.run([row, row, row]), { code: 'ND_SHAPE', message: /3 rows/ });
  t.throws(() => p.run([row, new Float32Array(5)]), { code: 'ND_SHAPE', message: /row 1 of 'input' holds 5 floats/ });
  const ints = Tensor.fromArray(new Int32Array(2 * 28 * 28), [2, 1, 28, 28]);
  t.throws(() => p.run(ints), { code: 'ND_ARG' });
  t.throws(() => ops.capture(device('cpu'), () => p.run(x)), { code: 'ND_ARG', message: /capturing/ }, 'not inside a capture');
  t.equal(p.outputSize, 20);
  t.ok((await p.run(x)).every(Number.isFinite), 'still serves after the refusals');
  p.dispose();
  t.throws(() => p.run(x), { code: 'ND_ARG', message: /disposed/ });
  model.dispose();
});
