// Dynamic batching must not change a request's answer: every row of a coalesced (and padded)
// batch is compared with the same sample run alone (maxBatchSize 1, a batch-1 predictor).
// Finding (reported in the output): the CPU kernels sum in a different order for batches of
// more than 4 in convolutions and past each of linearPathBounds() in linear layers (the dot
// products of conv_direct.h, the streamed kernel of linear_stream.h, packed GEMM tiles), so rows from batches > 4 differ from batch-1 rows by float32
// rounding (about 1e-8 in probabilities); batches of up to 4 are bit-identical. The tolerance asserted is 1e-6 absolute, plus the same
// top class. With batchInvariant every batch takes the largest batch's kernel paths and rows
// are bit-identical however they were batched.
import t, { type Test } from 'tap';
import { alexnet, lenet5 } from '../../lib/models/index.js';
import { InferenceSession } from '../../lib/serve/index.js';
import { linearPathBounds, powersOfTwo } from '../../lib/serve/batch-runner.js';
import type { Model } from '../../lib/models/model.js';

function samples(n: number, per: number, seed: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => Float32Array.from({ length: per }, (_, j) => Math.sin((i + seed) * 12.9898 + j * 0.37)));
}

const argmax = (a: Float32Array) => a.reduce((b, v, i) => (v > a[b]! ? i : b), 0);

async function compare(t: Test, model: Model, maxBatchSize: number, counts: number[], exactUpTo: number) {
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const batched = await InferenceSession.create(model, { maxBatchSize });
  const single = await InferenceSession.create(model, { maxBatchSize: 1 });
  for (const n of counts) {
    const xs = samples(n, per, n);
    // Issued in one turn: the session takes them as one batch (or maxBatchSize-sized ones).
    const rows = await Promise.all(xs.map((x) => batched.run(x)));
    let maxDiff = 0;
    let identical = 0;
    for (let i = 0; i < n; i++) {
      const ref = await single.run(xs[i]!);
      t.equal(rows[i]!.length, ref.length, `row ${i} has one value per class`);
      let d = 0;
      for (let k = 0; k < ref.length; k++) d = Math.max(d, Math.abs(rows[i]![k]! - ref[k]!));
      if (d === 0) identical++;
      maxDiff = Math.max(maxDiff, d);
      t.equal(argmax(rows[i]!), argmax(ref), `${model.name} batch of ${n}: row ${i} has the batch-1 top class`);
    }
    t.comment(`${model.name}: ${n} requests in one go -> max |row - batch-1 row| = ${maxDiff}, ${identical}/${n} rows bit-identical`);
    t.ok(maxDiff <= 1e-6, `${model.name} batch of ${n}: rows within 1e-6 of batch-1 (max ${maxDiff})`);
    if (n <= exactUpTo) t.equal(maxDiff, 0, `${model.name} batch of ${n} (<= 4): rows bit-identical to batch-1`);
  }
  const st = batched.stats();
  t.ok(
    Object.keys(st.batchSizes).some((k) => Number(k) > 1),
    `requests were coalesced (batch sizes ${JSON.stringify(st.batchSizes)})`,
  );
  t.equal(
    st.completed,
    counts.reduce((a, b) => a + b, 0),
    'every request completed',
  );
  await batched.close();
  await single.close();
}

t.test('LeNet-5: each request gets its own row, as a batch-1 run gives it', async (t) => {
  const model = lenet5({ seed: 3 });
  await compare(t, model, 16, [1, 3, 4, 7, 16, 21], 4);
  model.dispose();
});

t.test('AlexNet (narrow fc, 10 classes): the same for a padded batch of 5 -> 8', async (t) => {
  const model = alexnet({ seed: 5, fcWidth: 64, numClasses: 10, dropout: 0 });
  await compare(t, model, 8, [3, 5], 4);
  model.dispose();
});

t.test('an output row is a copy per request: the rows of one batch are distinct buffers', async (t) => {
  const model = lenet5({ seed: 4 });
  const s = await InferenceSession.create(model, { maxBatchSize: 4 });
  const xs = samples(3, 784, 9);
  const rows = await Promise.all(xs.map((x) => s.run(x)));
  t.not(rows[0]!.buffer, rows[1]!.buffer, 'separate buffers');
  t.not(rows[0]![0], rows[1]![0], 'different samples give different rows');
  t.ok(Math.abs(rows[0]!.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'a row is a probability distribution');
  await s.close();
  model.dispose();
});

// The prepared sizes batchInvariant should keep: powers of two above the conv small-batch path
// (4) and above the last linear path bound under maxBatchSize (under AVX-512 the bounds are 8,
// 48 and 128, otherwise 16).
function invariantSizes(maxBatchSize: number): number[] {
  const floor = Math.max(4, ...linearPathBounds().filter((b) => b < maxBatchSize));
  return powersOfTwo(maxBatchSize).filter((s) => s > floor);
}

// batchInvariant: every batch runs on one path, where a row does not depend on the batch size
// or its position, so a request's answer is bit-identical however it was batched.
t.test('batchInvariant: a row is bit-identical alone, in a small batch and in a full one', async (t) => {
  t.comment(`linear path bounds here: ${JSON.stringify(linearPathBounds())}`);
  for (const model of [lenet5({ seed: 8 }), alexnet({ seed: 9, fcWidth: 64, numClasses: 10, dropout: 0 })]) {
    const per = model.inputShape.reduce((a, b) => a * b, 1);
    const s = await InferenceSession.create(model, { maxBatchSize: 16, batchInvariant: true });
    const expected = invariantSizes(16);
    t.same(s.preparedBatchSizes, expected, 'prepared sizes on the paths of 16');
    const xs = samples(13, per, 40);
    const alone = await s.run(xs[5]!);
    const small = await Promise.all(xs.slice(3, 6).map((x) => s.run(x)));
    const full = await Promise.all(xs.map((x) => s.run(x)));
    t.same(Array.from(small[2]!), Array.from(alone), `${model.name}: in a batch of 3, bit-identical to alone`);
    t.same(Array.from(full[5]!), Array.from(alone), `${model.name}: in a batch of 13 (padded to 16), bit-identical to alone`);
    t.same(Array.from(full[3]!), Array.from(small[0]!), `${model.name}: another sample at another position, identical too`);
    t.same(s.stats().paddedSizes, expected[0] === 8 ? { 8: 2, 16: 1 } : { 16: 3 }, `a lone request ran at ${expected[0]}`);
    await s.close();
    model.dispose();
  }
  // Past a linear path bound: only sizes above it, so even a lone request runs on the paths of
  // the largest batch (64 crosses the streamed kernel's bound, 48, under AVX-512).
  for (const [maxBatchSize, seed] of [
    [32, 10],
    [64, 20],
  ] as const) {
    for (const model of [lenet5({ seed }), alexnet({ seed: seed + 1, fcWidth: 64, numClasses: 10, dropout: 0 })]) {
      const per = model.inputShape.reduce((a, b) => a * b, 1);
      const s = await InferenceSession.create(model, { maxBatchSize, batchInvariant: true });
      t.same(s.preparedBatchSizes, invariantSizes(maxBatchSize), `maxBatchSize ${maxBatchSize}: the sizes on its paths`);
      const xs = samples(maxBatchSize - 2, per, 50);
      const alone = await s.run(xs[7]!);
      const full = await Promise.all(xs.map((x) => s.run(x)));
      t.same(Array.from(full[7]!), Array.from(alone), `${model.name}: in a batch of ${xs.length}, bit-identical to alone`);
      await s.close();
      model.dispose();
    }
  }
  const small = lenet5();
  await t.rejects(InferenceSession.create(small, { maxBatchSize: 4, batchInvariant: true }), {
    code: 'ND_ARG',
    message: /batchInvariant needs maxBatchSize > 4/,
  });
  small.dispose();
});

t.test('borrowInput: a lent sample gives the copied sample’s row bit for bit, and is read in place', async (t) => {
  const model = lenet5({ seed: 12 });
  const s = await InferenceSession.create(model, { maxBatchSize: 8, batchInvariant: true });
  const xs = samples(6, 28 * 28, 3);
  const copied = await Promise.all(xs.map((x) => s.run(x)));
  const lent = await Promise.all(xs.map((x) => s.run(x, { borrowInput: true })));
  lent.forEach((row, i) => t.same(Array.from(row), Array.from(copied[i]!), `row ${i}: the same with borrowInput`));
  // Read in place: a lent array changed before its batch is taken changes the answer; a copied one does not.
  const x = Float32Array.from(xs[0]!);
  const pendingCopy = s.run(x);
  const pendingLent = s.run(x, { borrowInput: true });
  x.set(xs[1]!);
  t.same(Array.from(await pendingCopy), Array.from(copied[0]!), 'a copied sample is taken at the call');
  t.same(Array.from(await pendingLent), Array.from(copied[1]!), 'a lent one is read when its batch runs');
  await t.rejects(
    s.run(new Float32Array(28 * 28).fill(Number.NaN), { borrowInput: true }),
    { code: 'ND_ARG' },
    'still checked to be finite',
  );
  await s.close();
  model.dispose();
});
