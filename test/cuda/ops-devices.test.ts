// The same JS ops on every available device. Each case runs on cpu, where its outputs must match
// a float64 reference (test/helpers/ref64.ts), then on every cuda:N from the same seeded inputs,
// where they must match the CPU twin's within the tolerance classes of native/cuda/check
// (harness.h; test/helpers/each-backend.ts holds them for every kernel test). Without a GPU each
// CUDA half is an explicit skip "compiled, not run", never a pass.
import t from 'tap';
import { Tensor, backends, device, memory, ops, type Device } from '../../lib/index.js';
import { mismatch as refMismatch, type Tolerance } from '../helpers/compare.js';
import { TOL, type TolClass } from '../helpers/each-backend.js';
import { avgPool64, conv64, linear64, lrn64, maxPool64, sgd64, softmaxCrossEntropy64 } from '../helpers/ref64.js';
import { randomArray } from '../helpers/rng.js';

interface Tol extends Tolerance {
  atol: number;
  rtol: number;
  exact?: boolean;
}
const tol = (cls: TolClass): Tol => ({ ...TOL[cls], exact: cls === 'exact' });
const kExact = tol('exact');
const kElementwise = tol('elementwise');
const kReduction = tol('reduction');
const kGemm = tol('gemm');

type Outputs = Record<string, { values: Float32Array | Int32Array; tol: Tol }>;
/** Expected values of each output on the CPU, and the tolerance against them. */
type Reference = Record<string, { values: ArrayLike<number>; tol: Tolerance }>;

interface Case {
  name: string;
  run(dev: Device): Promise<Outputs>;
  /** The float64 reference; `cpu` is for a case whose reference depends on a CPU output (dropout's mask). */
  ref(cpu: Outputs): Reference;
}

const f32 = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from(randomArray(n, seed, lo, hi));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const on = (dev: Device, shape: number[], seed: number, lo = -1, hi = 1) =>
  Tensor.fromArray(f32(size(shape), seed, lo, hi), shape, { device: dev });

/** Reads every output back and disposes every tensor made. */
async function collect(spec: Record<string, [Tensor, Tol]>, temps: Tensor[]): Promise<Outputs> {
  const out: Outputs = {};
  for (const [name, [tensor, tol]] of Object.entries(spec)) out[name] = { values: await tensor.data(), tol };
  for (const x of new Set([...Object.values(spec).map(([x]) => x), ...temps])) x.dispose();
  return out;
}

// CPU tolerances against float64: a product of K terms errs by about sqrt(K) ulps of its terms.
const vsF64Gemm = { rtol: 1e-4, atol: 1e-5 };
const vsF64 = { rtol: 1e-5, atol: 1e-6 };
const exact = { rtol: 0, atol: 0 };
const C3_MASK = Float32Array.from({ length: 96 }, (_, i) => ((i * 7) % 3 ? 1 : 0));

const cases: Case[] = [
  {
    name: 'conv2d forward and backward (groups 2, stride 2, padding 1, bias)',
    ref() {
      const spec = { N: 3, C: 4, H: 11, W: 9, OC: 6, KH: 3, KW: 3, stride: 2, pad: 1, groups: 2 };
      const r = conv64(spec, f32(3 * 4 * 11 * 9, 1), f32(6 * 2 * 9, 2), f32(6, 3), null, f32(3 * 6 * 6 * 5, 4));
      return {
        y: { values: r.y, tol: vsF64Gemm },
        dx: { values: r.dx, tol: vsF64Gemm },
        dw: { values: r.dw, tol: vsF64Gemm },
        db: { values: r.db, tol: vsF64Gemm },
      };
    },
    async run(dev) {
      const x = on(dev, [3, 4, 11, 9], 1);
      const w = on(dev, [6, 2, 3, 3], 2);
      const bias = on(dev, [6], 3);
      const opts = { stride: 2, padding: 1, groups: 2, bias };
      const y = ops.conv2d(x, w, opts);
      const dy = on(dev, y.shape as number[], 4);
      const g = ops.conv2dBackward(dy, x, w, opts);
      return collect({ y: [y, kGemm], dx: [g.dx!, kGemm], dw: [g.dw, kGemm], db: [g.db!, kReduction] }, [x, w, bias, dy]);
    },
  },
  {
    name: 'conv2d with a connection mask (LeNet-5 C3)',
    ref() {
      const spec = { N: 2, C: 6, H: 14, W: 14, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0, groups: 1 };
      const r = conv64(spec, f32(2 * 6 * 14 * 14, 5), f32(16 * 6 * 25, 6), null, C3_MASK, f32(2 * 16 * 10 * 10, 7));
      return { y: { values: r.y, tol: vsF64Gemm }, dx: { values: r.dx, tol: vsF64Gemm }, dw: { values: r.dw, tol: vsF64Gemm } };
    },
    async run(dev) {
      const x = on(dev, [2, 6, 14, 14], 5);
      const w = on(dev, [16, 6, 5, 5], 6);
      const mask = Tensor.fromArray(C3_MASK, [16, 6], { device: dev });
      const y = ops.conv2d(x, w, { mask });
      const dy = on(dev, y.shape as number[], 7);
      const g = ops.conv2dBackward(dy, x, w, { mask });
      return collect({ y: [y, kGemm], dx: [g.dx!, kGemm], dw: [g.dw, kGemm] }, [x, w, mask, dy]);
    },
  },
  {
    name: 'max pooling 3x3 stride 2 (overlapping) forward and backward',
    ref() {
      const r = maxPool64(2, 3, 13, 13, 3, 2, f32(2 * 3 * 13 * 13, 8), f32(2 * 3 * 6 * 6, 9));
      return { y: { values: r.y, tol: exact }, argmax: { values: r.argmax, tol: exact }, dx: { values: r.dx, tol: vsF64 } };
    },
    async run(dev) {
      const x = on(dev, [2, 3, 13, 13], 8);
      const { y, argmax } = ops.maxPool2d(x, { kernelSize: 3, stride: 2 });
      const dy = on(dev, y.shape as number[], 9);
      const dx = ops.maxPool2dBackward(dy, argmax, x.shape);
      return collect({ y: [y, kExact], argmax: [argmax, kExact], dx: [dx, kExact] }, [x, dy]);
    },
  },
  {
    name: 'average pooling 2x2 forward and backward',
    ref() {
      const r = avgPool64(2, 6, 28, 28, 2, f32(2 * 6 * 28 * 28, 10), f32(2 * 6 * 14 * 14, 11));
      return { y: { values: r.y, tol: vsF64 }, dx: { values: r.dx, tol: vsF64 } };
    },
    async run(dev) {
      const x = on(dev, [2, 6, 28, 28], 10);
      const y = ops.avgPool2d(x, { kernelSize: 2 });
      const dy = on(dev, y.shape as number[], 11);
      const dx = ops.avgPool2dBackward(dy, x.shape, { kernelSize: 2 });
      return collect({ y: [y, kElementwise], dx: [dx, kElementwise] }, [x, dy]);
    },
  },
  {
    name: 'lrn (AlexNet, literal alpha) forward and backward',
    ref() {
      const r = lrn64([2, 7, 5, 6], 5, 1e-4, 0.75, 2, f32(420, 12, -3, 3), f32(420, 13));
      return {
        y: { values: r.y, tol: vsF64 },
        scale: { values: r.scale, tol: vsF64 },
        dx: { values: r.dx, tol: { rtol: 1e-4, atol: 1e-5 } },
      };
    },
    async run(dev) {
      const opts = { alphaConvention: 'literal' as const, size: 5, alpha: 1e-4, beta: 0.75, k: 2 };
      const x = on(dev, [2, 7, 5, 6], 12, -3, 3);
      const { y, scale } = ops.lrn(x, opts);
      const dy = on(dev, x.shape as number[], 13);
      const dx = ops.lrnBackward(dy, x, y, scale, opts);
      return collect({ y: [y, kElementwise], scale: [scale, kElementwise], dx: [dx, kReduction] }, [x, dy]);
    },
  },
  {
    name: 'relu forward and backward',
    ref() {
      const x = f32(1000, 14),
        dy = f32(1000, 15);
      return { y: { values: x.map((v) => Math.max(0, v)), tol: exact }, dx: { values: dy.map((d, i) => (x[i] > 0 ? d : 0)), tol: exact } };
    },
    async run(dev) {
      const x = on(dev, [1000], 14);
      const y = ops.relu(x);
      const dy = on(dev, [1000], 15);
      const dx = ops.reluBackward(dy, y);
      return collect({ y: [y, kElementwise], dx: [dx, kElementwise] }, [x, dy]);
    },
  },
  {
    name: 'linear forward and backward',
    ref() {
      const r = linear64(7, 45, 10, f32(7 * 45, 16), f32(10 * 45, 17), f32(10, 18), f32(70, 19));
      return {
        y: { values: r.y, tol: vsF64Gemm },
        dx: { values: r.dx, tol: vsF64Gemm },
        dw: { values: r.dw, tol: vsF64Gemm },
        db: { values: r.db, tol: vsF64Gemm },
      };
    },
    async run(dev) {
      const x = on(dev, [7, 45], 16);
      const w = on(dev, [10, 45], 17);
      const b = on(dev, [10], 18);
      const y = ops.linear(x, w, b);
      const dy = on(dev, [7, 10], 19);
      const g = ops.linearBackward(dy, x, w);
      return collect({ y: [y, kGemm], dx: [g.dx!, kGemm], dw: [g.dw, kGemm], db: [g.db!, kReduction] }, [x, w, b, dy]);
    },
  },
  {
    name: 'softmax cross-entropy forward and backward',
    ref() {
      const labels = Array.from({ length: 9 }, (_, i) => (i * 3) % 10);
      const r = softmaxCrossEntropy64(9, 10, f32(90, 20, -4, 4), labels);
      return {
        loss: { values: r.loss, tol: vsF64 },
        correct: { values: r.correct, tol: exact },
        probs: { values: r.probs, tol: vsF64 },
        dlogits: { values: r.dlogits, tol: vsF64 },
      };
    },
    async run(dev) {
      const logits = on(dev, [9, 10], 20, -4, 4);
      const labels = Tensor.fromArray(
        Int32Array.from({ length: 9 }, (_, i) => (i * 3) % 10),
        [9],
        { dtype: 'int32', device: dev },
      );
      const r = ops.softmaxCrossEntropy(logits, labels);
      const d = ops.softmaxCrossEntropyBackward(r.probs, labels);
      return collect(
        { loss: [r.loss, kReduction], correct: [r.correct, kExact], probs: [r.probs, kElementwise], dlogits: [d, kElementwise] },
        [logits, labels],
      );
    },
  },
  {
    name: 'sgd step (momentum, weight decay), three steps',
    ref() {
      const r = sgd64(
        f32(4099, 21),
        [22, 23, 24].map((s) => f32(4099, s)),
        0.01,
        0.9,
        5e-4,
      );
      return { w: { values: r.w, tol: vsF64 }, v: { values: r.v, tol: vsF64 } };
    },
    async run(dev) {
      const w = on(dev, [4099], 21);
      const v = Tensor.zeros([4099], { device: dev });
      const grads = [22, 23, 24].map((s) => on(dev, [4099], s));
      for (const g of grads) ops.sgdStep(w, g, v, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      return collect({ w: [w, kElementwise], v: [v, kElementwise] }, grads);
    },
  },
  {
    name: 'dropout (seeded Philox mask) forward and backward',
    // The mask's bits are checked against an independent Philox in test/kernels/dropout.test.ts;
    // here: it holds 0 or 1/(1-p) = 2, keeps about half, and y and dx are x and dy times it.
    ref(cpu) {
      const mask = Float64Array.from(cpu.mask.values, (m) => (m === 0 || m === 2 ? m : NaN));
      const kept = mask.filter((m) => m === 2).length / mask.length;
      const x = f32(3000, 25),
        dy = f32(3000, 26);
      return {
        mask: { values: mask, tol: exact },
        keptAboutHalf: { values: [kept > 0.45 && kept < 0.55 ? 1 : 0], tol: exact },
        y: { values: x.map((v, i) => v * mask[i]), tol: exact },
        dx: { values: dy.map((v, i) => v * mask[i]), tol: exact },
      };
    },
    async run(dev) {
      const x = on(dev, [3, 1000], 25);
      const r = ops.dropout(x, { p: 0.5, seed: 1234, offset: 77 });
      const dy = on(dev, [3, 1000], 26);
      const dx = ops.dropoutBackward(dy, r.mask);
      return collect({ y: [r.y, kExact], mask: [r.mask, kExact], dx: [dx, kExact] }, [x, dy]);
    },
  },
];

/** null when gpu matches cpu within tol, else where and by how much it does not. */
function mismatch(cpu: Float32Array | Int32Array, gpu: Float32Array | Int32Array, tol: Tol): string | null {
  if (gpu.length !== cpu.length) return `length ${gpu.length}, expected ${cpu.length}`;
  let bad = 0;
  let first = -1;
  let maxAbs = 0;
  for (let i = 0; i < cpu.length; i++) {
    const a = cpu[i];
    const b = gpu[i];
    const nan = Number.isNaN(a) || Number.isNaN(b);
    const d = nan ? (Number.isNaN(a) === Number.isNaN(b) ? 0 : Infinity) : Math.abs(a - b);
    const ok = tol.exact ? Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) : d <= tol.atol + tol.rtol * Math.abs(a);
    if (!ok && bad++ === 0) first = i;
    maxAbs = Math.max(maxAbs, d);
  }
  return bad
    ? `${bad} of ${cpu.length} outside atol ${tol.atol} rtol ${tol.rtol}; max |diff| ${maxAbs}; first at ${first}: cpu ${cpu[first]} gpu ${gpu[first]}`
    : null;
}

const cuda = backends().find((b) => b.name === 'cuda')!;
const cudaDevices = cuda.available ? ((cuda.details?.devices as Array<{ index: number; name: string }>) ?? []) : [];
const noGpu = `CUDA unavailable (${cuda.reason ?? 'no device'}): compiled, not run`;

for (const c of cases) {
  t.test(c.name, async (t) => {
    const cpu = await c.run(device('cpu'));
    const ref = c.ref(cpu);
    // Derived checks (dropout's kept fraction) are references without a same-named output.
    const derived: Outputs = {};
    for (const name of Object.keys(ref)) if (!(name in cpu)) derived[name] = { values: Float32Array.from([1]), tol: kExact };
    t.same(
      Object.keys(cpu).sort(),
      Object.keys(ref)
        .filter((n) => !(n in derived))
        .sort(),
      'the reference covers every output',
    );
    for (const [name, { values, tol }] of Object.entries(ref)) {
      const got = (cpu[name] ?? derived[name]).values;
      t.equal(refMismatch(got, values, tol), null, `cpu: ${name} matches the float64 reference (rtol ${tol.rtol}, atol ${tol.atol})`);
    }
    if (!cudaDevices.length) {
      t.test('on cuda:0', { skip: noGpu }, async () => {});
      return;
    }
    for (const d of cudaDevices) {
      t.test(`on cuda:${d.index} (${d.name}) matches cpu`, async (t) => {
        const gpu = await c.run(device(`cuda:${d.index}`));
        for (const [name, { values, tol }] of Object.entries(cpu))
          t.equal(
            mismatch(values, gpu[name].values, tol),
            null,
            `${name} within ${tol.exact ? 'exact' : `atol ${tol.atol} rtol ${tol.rtol}`}`,
          );
      });
    }
  });
}

t.test('tensors cross devices with to() and ops refuse to mix them', async (t) => {
  if (!cudaDevices.length) {
    t.test('cpu <-> cuda:0', { skip: noGpu }, async () => {});
    return;
  }
  const dev = device('cuda:0');
  const a = Tensor.fromArray([1, -2, 3, -4], [4]);
  const g = a.to(dev);
  t.equal(g.device, dev);
  t.same(Array.from(await g.data()), [1, -2, 3, -4], 'cpu -> cuda:0');
  const r = ops.relu(g);
  const back = r.to('cpu');
  t.same(Array.from(back.dataSync()), [1, 0, 3, 0], 'relu on cuda:0, then back to cpu');
  t.ok(memory().devices['cuda:0'].tensors >= 2, 'memory() counts the tensors on cuda:0');
  t.throws(() => ops.add(a, g), { code: 'ND_ARG' }, 'a cpu and a cuda tensor in one op');
  await dev.synchronize();
  t.equal(dev.pending(), 0, 'idle after synchronize');
  for (const x of [a, g, r, back]) x.dispose();
});
