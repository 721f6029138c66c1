// A model's parameters and gradients live in one flat buffer each (lib/layers/flat-parameters.ts):
// every parameter's value and gradient is a view at an aligned offset, backward writes into the
// gradient views without allocating, SGD's fused pass equals one update per parameter, and
// model.to / a replaced tensor rebuild the buffers.
import t from 'tap';
import { SGD, Tensor, lenet5, memory, ops, type Model } from '../../lib/index.js';
import { FLAT_ALIGN } from '../../lib/layers/flat-parameters.js';
import type { Parameter } from '../../lib/layers/layer.js';

const batchOf = (n: number, seed: number, dev = 'cpu:0' as const) => ({
  x: Tensor.randn([n, 1, 28, 28], { seed, device: dev }),
  labels: Tensor.fromArray(
    Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10),
    [n],
    { dtype: 'int32', device: dev },
  ),
});

function trainStep(m: Model, opt: SGD | null, seed: number): Promise<number> {
  const { x, labels } = batchOf(4, seed, m.device.name as 'cpu:0');
  const r = m.trainStep(x, labels);
  opt?.step();
  return r.loss.data().then((d) => {
    for (const u of [x, labels, r.loss, r.correct]) u.dispose();
    return d[0];
  });
}

t.test('every parameter is a view at an aligned offset, in parameters() order', async (t) => {
  const m = lenet5({ seed: 2 });
  const { entries, values, grads, layers } = m.flat;
  const params = m.parameters();
  t.same(
    entries.map((e) => e.name),
    params.map((p) => p.name),
    'entries follow parameters()',
  );
  t.ok(
    entries.every((e) => e.offset % FLAT_ALIGN === 0),
    `offsets are multiples of ${FLAT_ALIGN}`,
  );
  t.ok(
    entries.every((e, i) => i === 0 || e.offset >= entries[i - 1].offset + entries[i - 1].size),
    'entries do not overlap',
  );
  t.equal(values.size, grads.size, 'one gradient element per value element');
  t.ok(values.size >= entries.reduce((a, e) => a + e.size, 0), 'the buffer holds every parameter');
  t.same(
    entries.map((e) => e.noDecay),
    params.map((p) => !!p.noDecay),
    'noDecay carried over',
  );

  // Writing through a view changes the buffer at exactly its range.
  const before = await values.data();
  const e = entries[2];
  ops.fillInPlace(params[2].value, 7.5);
  const after = await values.data();
  let outside = 0;
  for (let i = 0; i < after.length; i++) {
    const inside = i >= e.offset && i < e.offset + e.size;
    if (inside ? after[i] !== 7.5 : !Object.is(after[i], before[i])) outside++;
  }
  t.equal(outside, 0, `filling '${e.name}' wrote [${e.offset}, ${e.offset + e.size}) of the buffer and nothing else`);
  // And the other way round: a write to the buffer is seen through the view.
  const src = Tensor.fromArray(Float32Array.from({ length: values.size }, (_, i) => i));
  ops.copyInto(src, values);
  const v0 = await params[0].value.data();
  t.same(Array.from(v0.subarray(0, 3)), [entries[0].offset, entries[0].offset + 1, entries[0].offset + 2], 'the view reads the buffer');
  const v3 = await params[3].value.data();
  t.equal(v3[0], entries[3].offset, `'${entries[3].name}' starts at offset ${entries[3].offset}`);

  // Per top-level layer: the range its backward writes.
  t.same(
    layers.map((r) => r.layerPath),
    ['c1', 'c3', 'c5', 'f6', 'f7'],
    'a range per layer with parameters',
  );
  for (const r of layers) {
    const mine = entries.filter((x) => x.layerPath === r.layerPath);
    t.equal(r.offset, mine[0].offset, `${r.layerPath} starts at its first parameter`);
    t.equal(r.end, mine[mine.length - 1].offset + mine[mine.length - 1].size, `${r.layerPath} ends at its last`);
  }
  src.dispose();
  m.dispose();
});

t.test('backward writes the gradient views: no tensor allocated per step, padding stays zero', async (t) => {
  const m = lenet5({ seed: 3 });
  const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 });
  t.ok(
    m.parameters().every((p) => p.grad === null),
    'no gradient before the first backward',
  );
  t.equal(opt.velocityBuffer(m.flat), null, 'no velocity before the first step');
  await trainStep(m, opt, 1);
  t.ok(
    m.parameters().every((p) => p.grad !== null && p.grad === p.gradView),
    'each grad is its flat view',
  );
  // Counted once the queue is empty: the loss resolves before the optimizer step queued after
  // it has run, and a queued op still holds the storages it reads (disposed inputs among them),
  // so counting at once raced the executor (CI once saw 4 storages against 3).
  await m.device.synchronize();
  const live = memory().devices['cpu:0'];
  const views = m.parameters().map((p) => p.grad);
  for (let s = 0; s < 3; s++) await trainStep(m, opt, 10 + s);
  await m.device.synchronize();
  const now = memory().devices['cpu:0'];
  t.equal(now.tensors, live.tensors, 'the same number of live tensors after three more steps');
  t.equal(now.storages, live.storages, 'and of native storages');
  t.ok(
    m.parameters().every((p, i) => p.grad === views[i]),
    'the same gradient tensors',
  );
  const flat = await m.flat.grads.data();
  const { entries } = m.flat;
  for (const [i, p] of m.parameters().entries()) {
    const g = await p.grad!.data();
    const e = entries[i];
    t.ok(
      g.every((x, j) => Object.is(x, flat[e.offset + j])),
      `'${p.name}' grad is the buffer at ${e.offset}`,
    );
  }
  let padding = 0;
  for (let i = 0, k = 0; i < flat.length; i++) {
    while (k < entries.length && i >= entries[k].offset + entries[k].size) k++;
    const inside = k < entries.length && i >= entries[k].offset;
    if (!inside && flat[i] !== 0) padding++;
  }
  t.equal(padding, 0, 'padding between gradients stays zero');
  const vel = opt.velocityBuffer(m.flat)!;
  t.equal(vel.size, m.flat.size, 'one flat velocity buffer, laid out as the values');
  const vflat = await vel.data();
  const vw = await opt.state().get(entries[1].name)!.data();
  t.ok(
    vw.every((x, j) => Object.is(x, vflat[entries[1].offset + j])),
    `the velocity named '${entries[1].name}' is a view of it`,
  );
  opt.dispose();
  m.dispose();
});

/** The update before flat buffers: one ops.sgdStep per parameter, velocities of their own. */
function perParameterStep(
  params: Parameter[],
  v: Map<string, Tensor>,
  o: { lr: number; momentum: number; weightDecay: number; form: 'pytorch' | 'paper'; nesterov?: boolean; decayAll?: boolean },
) {
  for (const p of params) {
    let vel = v.get(p.name) ?? null;
    if (!vel && o.momentum > 0) v.set(p.name, (vel = Tensor.zeros(p.value.shape)));
    ops.sgdStep(p.value, p.grad!, vel, {
      lr: o.lr,
      momentum: o.momentum,
      form: o.form,
      nesterov: o.nesterov ?? false,
      weightDecay: p.noDecay && !o.decayAll ? 0 : o.weightDecay,
    });
  }
}

t.test("SGD's fused pass equals one update per parameter (both forms, noDecay, decayAll, nesterov)", async (t) => {
  const cases = [
    { lr: 0.05, momentum: 0.9, weightDecay: 1e-2, form: 'pytorch' as const },
    { lr: 0.05, momentum: 0.9, weightDecay: 1e-2, form: 'pytorch' as const, nesterov: true },
    { lr: 0.05, momentum: 0, weightDecay: 1e-2, form: 'pytorch' as const },
    { lr: 0.02, momentum: 0.9, weightDecay: 5e-3, form: 'paper' as const, decayAll: true },
    { lr: 0.02, momentum: 0, weightDecay: 5e-3, form: 'paper' as const },
  ];
  for (const o of cases) {
    const a = lenet5({ seed: 9, variant: 'classic' });
    const b = lenet5({ seed: 9, variant: 'classic' });
    const opt = new SGD(a.parameters(), o);
    const vb = new Map<string, Tensor>();
    for (let s = 0; s < 3; s++) {
      const x = Tensor.randn([3, 1, 32, 32], { seed: 50 + s });
      const labels = Tensor.fromArray(Int32Array.from([1, 5, 9]), [3], { dtype: 'int32' });
      const ra = a.trainStep(x, labels);
      opt.step();
      const rb = b.trainStep(x, labels);
      perParameterStep(b.parameters(), vb, o);
      for (const u of [x, labels, ra.loss, ra.correct, rb.loss, rb.correct]) u.dispose();
    }
    let differ = 0;
    for (const [i, p] of a.parameters().entries()) {
      const x = await p.value.data();
      const y = await b.parameters()[i].value.data();
      differ += x.filter((v, j) => !Object.is(v, y[j])).length;
    }
    t.equal(differ, 0, `same parameters to the bit: ${JSON.stringify(o)}`);
    if (o.momentum > 0) {
      let vd = 0;
      for (const [name, v] of opt.state()) {
        const x = await v.data();
        const y = await vb.get(name)!.data();
        vd += x.filter((q, j) => !Object.is(q, y[j])).length;
      }
      t.equal(vd, 0, 'same velocities, by name');
    }
    for (const v of vb.values()) v.dispose();
    opt.dispose();
    a.dispose();
    b.dispose();
  }
});

t.test('model.to moves the flat buffers once; a tensor assigned to a parameter is taken in', async (t) => {
  const m = lenet5({ seed: 4 });
  const start = await m.flat.values.data();
  const v0 = m.flat.version;
  m.to('cpu:1');
  t.equal(m.flat.device.name, 'cpu:1', 'the buffers are on cpu:1');
  t.not(m.flat.version, v0, 'a new version');
  t.ok(
    m.parameters().every((p) => p.value.device.name === 'cpu:1' && p.grad === null),
    'views on cpu:1, gradients dropped',
  );
  t.same(Array.from(await m.flat.values.data()), Array.from(start), 'the same values');
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.5 });
  const loss = await trainStep(m, opt, 3);
  t.ok(Number.isFinite(loss), 'trains on cpu:1');

  const p = m.parameters()[4];
  const fresh = Tensor.randn(p.value.shape, { seed: 5, device: 'cpu:1' });
  const want = await fresh.data();
  const v1 = m.flat.version;
  p.value = fresh;
  t.not(m.flat.version, v1, 'the assignment counts as a new version');
  const flat = m.flat; // rebuilt here
  t.not(p.value, fresh, 'the parameter is a view again');
  t.ok(fresh.disposed, 'the assigned tensor was copied in and freed');
  const e = flat.entries[4];
  const got = (await flat.values.data()).subarray(e.offset, e.offset + e.size);
  t.same(Array.from(got), Array.from(want), 'its values are in the new buffer');
  t.ok(Number.isFinite(await trainStep(m, opt, 4)), 'and training goes on (the velocity layout is unchanged)');
  opt.dispose();
  m.dispose();
});

t.test('onLayerBackward reports each layer range, last layer first, and can be removed', async (t) => {
  const m = lenet5({ seed: 6 });
  const seen: string[] = [];
  const off = m.onLayerBackward((r) => seen.push(`${r.layerPath}:${r.offset}-${r.end}`));
  await trainStep(m, null, 1);
  t.same(
    seen,
    [...m.flat.layers].reverse().map((r) => `${r.layerPath}:${r.offset}-${r.end}`),
    'reverse layer order',
  );
  off();
  await trainStep(m, null, 2);
  t.equal(seen.length, m.flat.layers.length, 'nothing after removal');
  m.dispose();
});

t.test('dispose frees the flat buffers and every view', async (t) => {
  const before = memory().devices['cpu:0'];
  const m = lenet5({ seed: 1 });
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  await trainStep(m, opt, 1);
  opt.dispose();
  m.dispose();
  const after = memory().devices['cpu:0'];
  t.equal(after.tensors, before.tensors, 'no tensor left');
  t.equal(after.bytes, before.bytes, 'no bytes left');
});
