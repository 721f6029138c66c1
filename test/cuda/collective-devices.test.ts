// ops.allReduce / ops.broadcast on CUDA devices (native/cuda/nccl_engine.cc): through NCCL when
// it loads and through the copy+reduce fallback (CONVKIT_CUDA_COLLECTIVE=fallback, read at each
// call), against the CPU engine on the same inputs. The fallback sums in member order as the CPU
// engine does, so it must agree with it byte for byte; NCCL within float tolerance. Without a
// GPU every case is an explicit skip: compiled, not run.
import t, { type Test } from 'tap';
import { Tensor, backends, device, ops, type Device } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { randomArray } from '../helpers/rng.js';

const cuda = backends().find((b) => b.name === 'cuda')!;
const gpus = cuda.available ? ((cuda.details?.devices as Array<{ index: number }>) ?? []).map((d) => device(`cuda:${d.index}`)) : [];
const noGpu = gpus.length ? false : `CUDA unavailable (${cuda.reason ?? 'no device'}): compiled, not run`;
let nccl: { version: number } | null = null;
try {
  nccl = native.ncclLoad();
} catch {
  nccl = null;
}

const inputs = (n: number, size: number) => Array.from({ length: n }, (_, r) => Float32Array.from(randomArray(size, 17 + r, -3, 3)));

/** The CPU engine's answer on cpu:0..n-1. */
async function onCpu(xs: Float32Array[], op: 'sum' | 'mean'): Promise<Float32Array | Int32Array> {
  const ts = xs.map((x, r) => Tensor.fromArray(x, [x.length], { device: `cpu:${r}` }));
  ops.allReduce(ts, { op });
  const out = await ts[0].data();
  ts.forEach((x) => x.dispose());
  return out;
}

function maxDiff(a: Float32Array | Int32Array, b: Float32Array | Int32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function withEngine<T>(mode: 'nccl' | 'fallback', fn: () => Promise<T>): Promise<T> {
  const was = process.env.CONVKIT_CUDA_COLLECTIVE;
  if (mode === 'fallback') process.env.CONVKIT_CUDA_COLLECTIVE = 'fallback';
  else delete process.env.CONVKIT_CUDA_COLLECTIVE;
  try {
    return await fn();
  } finally {
    if (was === undefined) delete process.env.CONVKIT_CUDA_COLLECTIVE;
    else process.env.CONVKIT_CUDA_COLLECTIVE = was;
  }
}

const modes = (['fallback', 'nccl'] as const).map((m) => ({
  mode: m,
  skip: noGpu || (m === 'nccl' && !nccl ? 'NCCL does not load here' : false),
}));

for (const { mode, skip } of modes) {
  t.test(`${mode}: one device all-reduces (a one-rank communicator)`, { skip }, async (t) => {
    await withEngine(mode, async () => {
      const [x] = inputs(1, 1001);
      for (const op of ['sum', 'mean'] as const) {
        const y = Tensor.fromArray(x, [x.length], { device: gpus[0] });
        ops.allReduce([y], { op });
        t.equal(maxDiff(await y.data(), x), 0, `${op} over one rank leaves the values`);
        y.dispose();
      }
    });
  });

  t.test(
    `${mode}: every GPU all-reduces and broadcasts like the CPU engine`,
    { skip: skip || (gpus.length < 2 ? 'one GPU' : false) },
    async (t) => {
      await withEngine(mode, async () => {
        const xs = inputs(gpus.length, 100_003);
        for (const op of ['sum', 'mean'] as const) {
          const want = await onCpu(xs, op);
          const ts = xs.map((x, r) => Tensor.fromArray(x, [x.length], { device: gpus[r] }));
          ops.allReduce(ts, { op });
          for (const [r, y] of ts.entries()) {
            const d = maxDiff(await y.data(), want);
            if (mode === 'fallback') t.equal(d, 0, `${op}: cuda:${r} equals the CPU engine byte for byte`);
            else t.ok(d < 1e-5 * gpus.length, `${op}: cuda:${r} within ${d.toExponential(2)} of the CPU engine`);
          }
          ts.forEach((y) => y.dispose());
        }
        const ts = xs.map((x, r) => Tensor.fromArray(x, [x.length], { device: gpus[r] }));
        ops.broadcast(ts, { root: gpus.length - 1, offset: 10, length: 500 });
        for (const [r, y] of ts.entries()) {
          const want = Float32Array.from(xs[r]);
          want.set(xs[gpus.length - 1].subarray(10, 510), 10);
          t.equal(maxDiff(await y.data(), want), 0, `broadcast: cuda:${r} got the root's range only`);
        }
        ts.forEach((y) => y.dispose());
      });
    },
  );
}

/** Two members on one GPU, through the binding (ops.allReduce refuses a repeated device). */
async function twoOnOne(t: Test, dev: Device): Promise<void> {
  const xs = inputs(2, 65_537);
  const want = await onCpu(xs, 'mean');
  const ts = xs.map((x) => Tensor.fromArray(x, [x.length], { device: dev }));
  native.allReduce([dev.stream, dev.stream], [ts[0].handle(), ts[1].handle()], 0, xs[0].length, 1);
  for (const [r, y] of ts.entries()) t.ok(maxDiff(await y.data(), want) < 1e-5, `replica ${r} equals the 2-replica CPU mean`);
  ts.forEach((y) => y.dispose());
}

t.test('two replicas on one GPU through the device-to-device path equal the CPU engine', { skip: noGpu }, async (t) => {
  await withEngine('fallback', () => twoOnOne(t, gpus[0]));
});

t.test(
  'NCCL >= 2.30: two ranks on one GPU with NCCL_MULTI_RANK_GPU_ENABLE=1',
  {
    skip: noGpu || (!nccl || nccl.version < 23000 ? `needs NCCL 2.30 or newer (${nccl ? nccl.version : 'none'})` : false),
  },
  async (t) => {
    process.env.NCCL_MULTI_RANK_GPU_ENABLE = '1';
    try {
      await withEngine('nccl', () => twoOnOne(t, gpus[0]));
    } finally {
      delete process.env.NCCL_MULTI_RANK_GPU_ENABLE;
    }
  },
);
