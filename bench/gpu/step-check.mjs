// One training step of LeNet-5 and of AlexNet (paper form) on cuda:0 and on cpu from the same
// weights (the model is built on the CPU and moved with model.to(), so both start from identical
// bytes) and the same batch; prints one JSON line per compared quantity: the loss, every
// parameter's gradient, and every parameter after the SGD update, with max abs and max relative
// difference. Relative is |gpu - cpu| / max|cpu| over the tensor (a normalised error: gradients
// that are ~0 would make an elementwise ratio meaningless). Exit 1 if a check fails, 2 if no GPU.
//   node bench/gpu/step-check.mjs [--lenet-batch 64] [--alexnet-batch 16] [--against cuda:0]
// (--against cpu:1 runs the same comparison between two CPU streams: a check of this script
// on a machine without a GPU.)
import { backends, device } from '../../dist/index.js';
import { NETS, batchOn, sgdFor } from './nets.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const against = args.includes('--against') ? args[args.indexOf('--against') + 1] : 'cuda:0';
const batches = { lenet5: arg('--lenet-batch', 64), alexnet: arg('--alexnet-batch', 16) };
// Float32 on both sides, different summation orders (cuBLAS vs our GEMM, atomics-free CUDA
// reductions vs threaded CPU ones) through up to 8 layers: normalised error well under 1e-3.
const TOL = { loss: 1e-4, grad: 1e-3, param: 1e-5 };

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const cuda = backends().find((b) => b.name === 'cuda');
if (against.startsWith('cuda') && !cuda?.available) {
  emit({ step: 'step-check', skipped: true, reason: cuda?.reason ?? 'no CUDA backend' });
  process.exit(2);
}
const target = device(against);
const targetName = target.kind === 'cuda' ? `${target.name} (${cuda.details.devices[target.index].name})` : target.name;

/** Loss, gradients and updated parameters of one step on `dev`, read back to the host. */
async function runStep(net, dev) {
  const model = NETS[net].make('cpu');
  if (dev.name !== 'cpu:0') model.to(dev);
  const opt = sgdFor(model);
  const { x, labels } = batchOn(net, batches[net], dev);
  const { loss, correct } = model.trainStep(x, labels);
  const out = { loss: (await loss.data())[0], grads: {}, params: {} };
  for (const p of model.parameters()) out.grads[p.name] = await p.grad.data();
  opt.step();
  for (const p of model.parameters()) out.params[p.name] = await p.value.data();
  for (const t of [loss, correct, x, labels]) t.dispose();
  opt.dispose();
  model.dispose();
  return out;
}

function diff(cpu, gpu) {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    const d = Math.abs(cpu[i] - gpu[i]);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  return { maxAbs, maxRel: maxAbs / (scale || 1) };
}

let failed = 0;
for (const net of Object.keys(NETS)) {
  const t0 = performance.now();
  const cpu = await runStep(net, device('cpu'));
  const gpu = await runStep(net, target);
  const base = { step: 'step-check', net, batch: batches[net], device: targetName };
  const lossD = diff([cpu.loss], [gpu.loss]);
  const report = (what, name, d, tol) => {
    const pass = d.maxRel <= tol;
    if (!pass) failed++;
    emit({ ...base, what, name, maxAbs: d.maxAbs, maxRel: d.maxRel, tol, pass });
  };
  emit({
    ...base,
    what: 'loss',
    cpu: cpu.loss,
    gpu: gpu.loss,
    maxAbs: lossD.maxAbs,
    maxRel: lossD.maxRel,
    tol: TOL.loss,
    pass: lossD.maxRel <= TOL.loss,
  });
  if (!(lossD.maxRel <= TOL.loss)) failed++;
  for (const name of Object.keys(cpu.grads)) report('grad', name, diff(cpu.grads[name], gpu.grads[name]), TOL.grad);
  for (const name of Object.keys(cpu.params)) report('param', name, diff(cpu.params[name], gpu.params[name]), TOL.param);
  emit({ ...base, what: 'done', seconds: (performance.now() - t0) / 1e3 });
}
emit({ step: 'step-check', pass: failed === 0, failed });
process.exit(failed ? 1 : 0);
