// The data-parallel checks of `npm run check:gpu` (issue: data parallel, GPU part), one JSON line
// each; exit 1 if one fails, 2 if the devices are missing.
//   - a one-rank NCCL communicator all-reduces (sum of one member is itself), and so does a
//     one-rank NCCL process group (unique id through the store, ncclCommInitRank);
//   - 2 members on one GPU through the copy+reduce (device-to-device) path sum exactly;
//   - with NCCL >= 2.30 and NCCL_MULTI_RANK_GPU_ENABLE=1, 2 NCCL ranks on one GPU sum;
//   - DataParallel over every GPU (or 1 replica when there is one) trains LeNet-5 for 5 steps to
//     the same parameters (1e-5) as one device on the whole batch.
//   node bench/gpu/dp-check.mjs [--kind cuda|cpu]
// (--kind cpu runs the DataParallel check over cpu:1, cpu:2: this script's check on a machine
// without a GPU; the NCCL lines are then skipped.)
import { DataParallel, SGD, Tensor, backends, device, initProcessGroup, lenet5 } from '../../dist/index.js';
import { native } from '../../dist/native.js';

const args = process.argv.slice(2);
const kind = args.includes('--kind') ? args[args.indexOf('--kind') + 1] : 'cuda';
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let failed = false;
const check = (step, pass, detail) => {
  failed ||= !pass;
  emit({ step, pass, ...detail });
};

const cuda = backends().find((b) => b.name === 'cuda');
const gpus = cuda?.available ? cuda.details.devices.map((d) => `cuda:${d.index}`) : [];
if (kind === 'cuda' && !gpus.length) {
  emit({ step: 'dp-check', skipped: true, reason: cuda?.reason ?? 'no CUDA backend' });
  process.exit(2);
}
emit({ step: 'collective-engines', ...native.collectiveEngines() });

async function sumOnOneGpu(step, env) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const dev = device('cuda:0');
    const a = Tensor.fromArray(
      Float32Array.from({ length: 1027 }, (_, i) => i % 13),
      [1027],
      { device: dev },
    );
    const b = Tensor.fromArray(
      Float32Array.from({ length: 1027 }, (_, i) => 1 - (i % 7)),
      [1027],
      { device: dev },
    );
    // ops.allReduce refuses a repeated device (DataParallel's rule); the engine itself accepts it.
    native.allReduce([dev.stream, dev.stream], [a.handle('dp-check'), b.handle('dp-check')], 0, 1027, 0);
    const [x, y] = [await a.data(), await b.data()];
    let worst = 0;
    for (let i = 0; i < 1027; i++) worst = Math.max(worst, Math.abs(x[i] - ((i % 13) + 1 - (i % 7))), Math.abs(y[i] - x[i]));
    check(step, worst === 0, { worst });
    a.dispose();
    b.dispose();
  } catch (e) {
    check(step, false, { error: `${e.code ?? ''} ${e.message}` });
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

if (kind === 'cuda') {
  let nccl = null;
  try {
    nccl = native.ncclLoad();
    emit({ step: 'nccl-load', pass: true, ...nccl });
  } catch (e) {
    emit({ step: 'nccl-load', pass: false, reason: e.message });
  }
  if (nccl) {
    try {
      const t = Tensor.fromArray(
        Float32Array.from({ length: 100 }, (_, i) => i),
        [100],
        { device: 'cuda:0' },
      );
      native.allReduce([device('cuda:0').stream], [t.handle('dp-check')], 0, 100, 0);
      const v = await t.data();
      check(
        'nccl-one-rank',
        v.every((x, i) => x === i),
        { version: nccl.version },
      );
      t.dispose();
    } catch (e) {
      check('nccl-one-rank', false, { error: e.message });
    }
  }
  if (nccl) {
    // A one-rank NCCL process group: ncclGetUniqueId, the store, ncclCommInitRank, an all-reduce.
    try {
      const { createServer } = await import('node:net');
      const srv = createServer();
      await new Promise((r) => srv.listen(0, '127.0.0.1', r));
      const port = srv.address().port;
      await new Promise((r) => srv.close(r));
      const pg = await initProcessGroup({
        backend: 'nccl',
        env: { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
      });
      const t = Tensor.fromArray(
        Float32Array.from({ length: 64 }, (_, i) => i),
        [64],
        { device: pg.device },
      );
      pg.allReduce(t, { op: 'mean' });
      const v = await t.data();
      check(
        'nccl-process-group-one-rank',
        v.every((x, i) => x === i),
        { device: pg.device.name },
      );
      t.dispose();
      await pg.destroy();
    } catch (e) {
      check('nccl-process-group-one-rank', false, { error: `${e.code ?? ''} ${e.message}` });
    }
  }
  await sumOnOneGpu('fallback-two-members-one-gpu', { CONVKIT_CUDA_COLLECTIVE: 'fallback' });
  if (nccl && nccl.version >= 23000) await sumOnOneGpu('nccl-two-ranks-one-gpu', { NCCL_MULTI_RANK_GPU_ENABLE: '1' });
  else emit({ step: 'nccl-two-ranks-one-gpu', skipped: true, reason: nccl ? `NCCL ${nccl.version} < 2.30` : 'NCCL not loaded' });
}

// DataParallel against one device, LeNet-5, 5 SGD steps, batch 12 (uneven over 5 GPUs, even over 2).
const devices = kind === 'cuda' ? gpus : ['cpu:1', 'cpu:2'];
const one = kind === 'cuda' ? 'cuda:0' : 'cpu:0';
const opt = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
const n = 12;
const data = Array.from({ length: 5 }, (_, s) => ({
  x: Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i * 0.01 + s)),
  labels: Int32Array.from({ length: n }, (_, i) => (i + s) % 10),
}));
const single = lenet5({ seed: 5, device: one });
const sgd = new SGD(single.parameters(), opt);
for (const b of data) {
  const x = Tensor.fromArray(b.x, [n, 1, 28, 28], { device: one });
  const labels = Tensor.fromArray(b.labels, [n], { dtype: 'int32', device: one });
  const r = single.trainStep(x, labels);
  sgd.step();
  for (const u of [x, labels, r.loss, r.correct]) u.dispose();
}
const ref = await single.stateDict();
const dp = new DataParallel((d) => lenet5({ seed: 5, device: d }), { devices });
const dsgd = dp.createOptimizer(opt);
for (const b of data) {
  const s = dp.trainBatch(b.x, [n, 1, 28, 28], b.labels);
  dsgd.step();
  await s.loss;
}
const got = await dp.stateDict();
let worst = 0;
for (const [name, v] of Object.entries(ref))
  for (let i = 0; i < v.data.length; i++) worst = Math.max(worst, Math.abs(v.data[i] - got[name].data[i]));
check('data-parallel-equals-one-device', worst <= 1e-5, { devices, worst, engine: native.collectiveEngines()[kind] });
dp.dispose();
dsgd.dispose();
sgd.dispose();
single.dispose();
process.exit(failed ? 1 : 0);
