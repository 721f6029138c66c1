#!/usr/bin/env node
// A paper model of data-parallel AlexNet on N GPUs: how many bytes one step all-reduces, how much
// of that communication hides behind the backward pass given DDP's bucket order, and what scaling
// efficiency follows. Prints one JSON line per (interconnect, GPU count, compute rate), then a
// summary line. Every input is a flag, so a measured figure (a Gloo or NCCL bus bandwidth, a
// measured per-GPU images/s) replaces an assumed one.
//
//   node bench/parallel/paper-model.mjs [--batch 128] [--tflops 40] [--busbw nvlink=370,nvlink=480,pcie=24]
//                                       [--first-bucket-mb 1] [--bucket-mb 25] [--gpus 2,4,8] [--variant paper|owt]
//
// The layer list (parameters and multiply-adds per sample) is read from convkit's own alexnet(),
// so the model counts exactly the tensors DataParallel all-reduces. Needs the dist build.
import { alexnet } from '../../dist/index.js';
import { scriptArgs } from '../lib.mjs';

const values = scriptArgs(import.meta.url, {
  batch: { type: 'string', default: '128' }, // per GPU, Krizhevsky's
  tflops: { type: 'string', default: '40,200' }, // effective FP32 SGEMM; TF32 tensor cores
  busbw: { type: 'string', default: 'nvlink=370,nvlink=480,pcie=24' }, // GB/s, nccl-tests "busbw"
  latency: { type: 'string', default: '20' }, // µs per all-reduce call
  'first-bucket-mb': { type: 'string', default: '1' },
  'bucket-mb': { type: 'string', default: '25' },
  gpus: { type: 'string', default: '2,4,8' },
  'hbm-gbs': { type: 'string', default: '3000' }, // for the optimizer's memory-bound pass
  variant: { type: 'string', default: 'paper' },
});
const num = (s) => {
  const v = Number(s);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`paper-model: expected a positive number, got ${s}`);
  return v;
};
const batch = num(values.batch);
const latency = num(values.latency) * 1e-6;
const MB = 1024 * 1024;
const firstCap = num(values['first-bucket-mb']) * MB;
const cap = num(values['bucket-mb']) * MB;
const hbm = num(values['hbm-gbs']) * 1e9;

// Layers in forward order with their parameters (in model.parameters() order) and MACs per sample.
const model = alexnet({ variant: values.variant });
const rows = model.summary().rows;
const params = model.parameters();
const layers = rows
  .filter((r) => r.parameters > 0)
  .map((r, i) => ({
    name: r.layer,
    macs: r.connections,
    first: i === 0, // the first layer computes no input gradient
    params: params.filter((p) => p.name.startsWith(`${r.layer}.`)).map((p) => ({ name: p.name, bytes: p.value.size * 4 })),
  }));
const totalBytes = params.reduce((s, p) => s + p.value.size * 4, 0);
model.net.dispose();

// DDP's buckets: parameters in reverse order; a bucket closes once it holds at least its cap (the
// first one about 1 MB so that communication starts early, then 25 MB). A bucket is ready when the
// backward of the earliest layer it holds has ended.
function buckets() {
  const out = [];
  let cur = { bytes: 0, layer: -1 };
  for (let li = layers.length - 1; li >= 0; li--)
    for (const p of [...layers[li].params].reverse()) {
      cur.bytes += p.bytes;
      cur.layer = li;
      if (cur.bytes >= (out.length === 0 ? firstCap : cap)) {
        out.push(cur);
        cur = { bytes: 0, layer: -1 };
      }
    }
  if (cur.bytes > 0) out.push(cur);
  return out;
}
const bucketList = buckets();

function step(n, flops, busbw) {
  const fwd = layers.reduce((s, l) => s + (2 * l.macs * batch) / flops, 0);
  // Backward in reverse order: dW (2 MACs-worth of FLOPs per MAC) and, but for the first layer, dX.
  const bwdEnd = [];
  let t = fwd;
  for (let li = layers.length - 1; li >= 0; li--) {
    const l = layers[li];
    t += ((l.first ? 2 : 4) * l.macs * batch) / flops;
    bwdEnd[li] = t;
  }
  const backwardDone = t;
  const optimizer = (totalBytes * 5) / hbm; // read w, g, v; write w, v
  const compute = backwardDone + optimizer;
  if (n === 1) return { compute, stepTime: compute, exposed: 0, comm: 0 };
  // Ring all-reduce on one stream, buckets in order: each moves 2(n-1)/n of its bytes over the bus.
  let commEnd = fwd;
  let comm = 0;
  for (const b of bucketList) {
    const d = latency + (b.bytes * 2 * (n - 1)) / n / busbw;
    comm += d;
    commEnd = Math.max(commEnd, bwdEnd[b.layer]) + d;
  }
  const stepTime = Math.max(backwardDone, commEnd) + optimizer;
  return { compute, stepTime, exposed: stepTime - compute, comm };
}

const lines = [];
for (const flopsT of values.tflops.split(',').map(num))
  for (const spec of values.busbw.split(',')) {
    const [link, gbs] = spec.split('=');
    for (const n of values.gpus.split(',').map(num)) {
      const s = step(n, flopsT * 1e12, num(gbs) * 1e9);
      const eff = s.compute / s.stepTime;
      lines.push({
        bench: 'dp-paper-model',
        device: `model: ${n} GPUs, ${link} ${gbs} GB/s busbw, ${flopsT} TFLOP/s effective`,
        model: `alexnet-${values.variant}`,
        gpus: n,
        link,
        busbwGBs: num(gbs),
        tflops: flopsT,
        batchPerGpu: batch,
        bytesAllReduced: totalBytes,
        buckets: bucketList.length,
        computeMs: +(s.compute * 1e3).toFixed(3),
        commMs: +(s.comm * 1e3).toFixed(3),
        exposedCommMs: +(s.exposed * 1e3).toFixed(3),
        hiddenShare: s.comm > 0 ? +(1 - s.exposed / s.comm).toFixed(3) : 1,
        efficiency: +eff.toFixed(3),
        speedup: +(n * eff).toFixed(2),
      });
    }
  }
for (const l of lines) console.log(JSON.stringify(l));
console.log(
  JSON.stringify({
    bench: 'dp-paper-model-summary',
    model: `alexnet-${values.variant}`,
    bytesAllReduced: totalBytes,
    fcShareOfBytes: +(
      layers.filter((l) => l.name.startsWith('fc')).reduce((s, l) => s + l.params.reduce((a, p) => a + p.bytes, 0), 0) / totalBytes
    ).toFixed(3),
    bucketsMB: bucketList.map((b) => +(b.bytes / MB).toFixed(2)),
  }),
);
