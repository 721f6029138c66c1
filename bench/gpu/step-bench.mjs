// Training-step throughput on cuda:0 against PyTorch on the same card: AlexNet (paper form) at
// batch 128 and LeNet-5 at batch 256, fp32 and TF32 (our cuda:N allowTf32; torch's
// allow_tf32 switches for matmul and cuDNN), one JSON line each
// {bench, impl, device, batch, tf32, images_per_s}, then {bench, batch, tf32, ratio_vs_pytorch}.
// PyTorch runs in bench/gpu/torch_gpu.py (python3 with torch and a GPU); without it, the peer
// lines say skipped.
//   node bench/gpu/step-bench.mjs [--seconds 2]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends, device } from '../../dist/index.js';
import { emit, timeIt } from '../lib.mjs';
import { NETS, batchOn, sgdFor } from './nets.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1]) || 2;
const RUNS = [
  { net: 'alexnet', batch: 128 },
  { net: 'lenet5', batch: 256 },
];

const cuda = backends().find((b) => b.name === 'cuda');
if (!cuda?.available) {
  emit({ bench: 'gpu-step', skipped: true, reason: cuda?.reason ?? 'no CUDA backend' });
  process.exit(2);
}
const dev = device('cuda:0');
const devName = `cuda:0 (${cuda.details.devices[0].name})`;
const ours = {};

for (const { net, batch } of RUNS) {
  for (const tf32 of [false, true]) {
    dev.allowTf32(tf32);
    const model = NETS[net].make(dev);
    const opt = sgdFor(model);
    const { x, labels } = batchOn(net, batch, dev);
    const step = () => {
      const { loss, correct } = model.trainStep(x, labels);
      opt.step();
      loss.dispose();
      correct.dispose();
    };
    // Several steps per timed run, so one synchronize (a round trip through the waiter thread)
    // is not charged to every step of a small net.
    const steps = net === 'lenet5' ? 20 : 4;
    const r = await timeIt(
      async () => {
        for (let i = 0; i < steps; i++) step();
        await dev.synchronize();
      },
      { warmup: 1, iters: 3, minMs: seconds * 1000 },
    );
    const ips = (batch * steps * 1000) / r.ms;
    ours[`${net}:${batch}:${tf32}`] = ips;
    emit({ bench: net, impl: 'convkit', device: devName, pass: 'train', batch, tf32, ms_per_step: r.ms / steps, images_per_s: ips });
    for (const t of [x, labels]) t.dispose();
    opt.dispose();
    model.dispose();
  }
}
dev.allowTf32(false);

const py = spawnSync('python3', [join(here, 'torch_gpu.py'), String(seconds)], { encoding: 'utf8', timeout: 240_000 });
if (py.status !== 0) {
  emit({
    bench: 'gpu-step',
    impl: 'pytorch',
    device: devName,
    skipped: `PyTorch peer did not run: ${py.stderr?.trim().split('\n').pop() || (py.error ? String(py.error) : `exit status ${py.status}`)}`,
  });
} else {
  for (const line of py.stdout.trim().split('\n')) {
    const row = JSON.parse(line);
    emit(row);
    const mine = ours[`${row.bench}:${row.batch}:${row.tf32}`];
    if (mine && row.images_per_s)
      emit({
        bench: row.bench,
        device: devName,
        pass: 'train',
        batch: row.batch,
        tf32: row.tf32,
        ratio_vs_pytorch: mine / row.images_per_s,
      });
  }
}
