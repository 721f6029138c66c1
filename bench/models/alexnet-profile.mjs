// AlexNet (paper form) training step, op by op: where a step's time goes, each layer's GFLOP/s and
// share of this run's SGEMM ceiling, and the step's peak host memory next to tuned PyTorch's peak
// RSS for the same batch (issue 16's profile). Each batch size runs in a fresh child process so
// that its peak RSS is its own; the PyTorch peer (peers/torch_peer.py) runs the same case after it.
//
//   node bench/models/alexnet-profile.mjs [--batch 16,64] [--steps 3] [--no-torch]
//
// Prints JSON lines: one `ceiling` (the run's), then per batch a `ceiling` timed in turns with its
// steps (3 products of 2048^3 before each step; every share of that batch is over it), one `op`
// line per (op, layer) sorted by time, one `step` line (convkit's step time, GFLOP/s, the median
// over steps of each step's share of the ceiling taken just before it, peak pool and RSS) and
// one `torch` line.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Tensor, SGD, alexnet, device, memory, resetPeakMemory } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { ceilingRunner, sgemmCeiling } from '../../dist/bench/ceiling.js';
import { spread } from '../../dist/bench/timing.js';
import { layerFlops, flopsPerImage } from '../../dist/bench/flops.js';
import { deviceInfo } from '../../dist/bench/host.js';
import { LineChild } from '../../dist/bench/line-child.js';
import { TORCH_PEER_SCRIPT, pythonPath, torchEnv } from '../../dist/bench/torch-contender.js';
import { scriptArgs } from '../lib.mjs';

const values = scriptArgs(import.meta.url, {
  batch: { type: 'string', default: '16,64' },
  steps: { type: 'string', default: '3' },
  child: { type: 'string' },
  'no-torch': { type: 'boolean', default: false },
});
const steps = Number(values.steps);
const dev = device('cpu');
const info = deviceInfo(dev);
const print = (o) => console.log(JSON.stringify({ bench: 'alexnet-profile', device: info, ...o }));

// Which layer each traced op belongs to: forward ops come in layer order, their backwards in
// reverse, so the k-th call of an op within a step names the k-th (or k-th from last) layer.
function layerNames(model) {
  const byKind = { conv: [], linear: [], lrn: [], pool: [], relu: [], dropout: [] };
  for (const l of model.net.layers) {
    const kind = l.constructor.name;
    if (kind === 'Conv2d') byKind.conv.push(l.name);
    else if (kind === 'Linear') byKind.linear.push(l.name);
    else if (kind === 'LocalResponseNorm' || kind === 'LRN') byKind.lrn.push(l.name);
    else if (kind === 'MaxPool2d') byKind.pool.push(l.name);
    else if (kind === 'Dropout') byKind.dropout.push(l.name);
  }
  return byKind;
}
const FORWARD = { conv2d: 'conv', conv2dRelu: 'conv', linear: 'linear', lrn: 'lrn', maxPool2d: 'pool', dropout: 'dropout' };
const BACKWARD = {
  conv2dBackward: 'conv',
  linearBackwardData: 'linear',
  linearBackwardWeight: 'linear',
  linearBackwardBias: 'linear',
  lrnBackward: 'lrn',
  maxPool2dBackward: 'pool',
  dropoutBackward: 'dropout',
};

async function child(batch) {
  const model = alexnet({ variant: 'paper' });
  const x = Tensor.randn([batch, ...model.inputShape], { seed: 1 });
  const labels = Tensor.fromArray(
    Int32Array.from({ length: batch }, (_, i) => (i * 37) % 1000),
    [batch],
  );
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const step = async () => {
    const r = model.trainStep(x, labels);
    opt.step();
    await r.loss.data();
    r.loss.dispose();
    r.correct.dispose();
  };
  await step();
  await dev.synchronize();
  const liveBefore = memory().hostPool.liveBytes;
  resetPeakMemory();
  await step();
  const peakPool = memory().hostPool.peakBytes;
  // Each step is timed in turns with the SGEMM ceiling (3 products of 2048^3 before it), so its
  // share is over the ceiling of the same moment: this host's speed drifts by 20% and more
  // within a minute. The ceiling's own ops are left out of the op table.
  const ceilingTurn = ceilingRunner(dev);
  await ceilingTurn.run(1);
  const ceilingGflops = [],
    stepShares = [];
  let stepSeconds = 0;
  native.trace(true);
  for (let i = 0; i < steps; i++) {
    const sc = await ceilingTurn.run(3);
    ceilingGflops.push((3 * ceilingTurn.flopPerCall) / sc / 1e9);
    const t0 = performance.now();
    await step();
    const s = (performance.now() - t0) / 1000;
    stepSeconds += s;
    stepShares.push((flopsPerImage(model, 'train') * batch) / s / 1e9 / ceilingGflops[i]);
  }
  const stepMs = (1000 * stepSeconds) / steps;
  const rows = native.trace(false).filter((r) => r.op !== 'gemm');
  ceilingTurn.dispose();
  const names = layerNames(model);
  const flops = new Map(layerFlops(model).map((l) => [l.layer, l.forward * batch]));
  const seen = new Map();
  const agg = new Map();
  for (const r of rows) {
    const k = seen.get(r.op) ?? 0;
    seen.set(r.op, k + 1);
    let layer = '';
    const fwd = FORWARD[r.op],
      bwd = BACKWARD[r.op];
    if (fwd) layer = names[fwd][k % names[fwd].length] ?? '';
    else if (bwd) {
      const list = names[bwd];
      layer = list[list.length - 1 - (k % list.length)] ?? '';
    }
    const key = `${r.op}|${layer}`;
    agg.set(key, (agg.get(key) ?? 0) + (r.endNs - r.startNs) / 1e6);
  }
  const ops = [...agg].map(([key, ms]) => {
    const [op, layer] = key.split('|');
    // The forward, the data gradient and the weight gradient are each one forward's FLOPs;
    // conv2dBackward does both gradients (conv1's data gradient is skipped).
    let f = flops.get(layer) ?? 0;
    if (op === 'conv2dBackward') f *= layer === names.conv[0] ? 1 : 2;
    else if (op === 'linearBackwardBias') f = 0;
    else if (!/^(conv2d|conv2dRelu|linear|linearBackwardData|linearBackwardWeight)$/.test(op)) f = 0;
    return { op, layer: layer || null, ms: ms / steps, gflop: f / 1e9 };
  });
  process.stdout.write(
    JSON.stringify({
      stepMs,
      ops,
      peakPoolMiB: peakPool / 2 ** 20,
      liveBeforeMiB: liveBefore / 2 ** 20,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      flopPerStep: flopsPerImage(model, 'train') * batch,
      ceilingGflops,
      stepShares,
    }) + '\n',
  );
}

async function torchPeak(batch) {
  const peer = new LineChild(pythonPath(), [TORCH_PEER_SCRIPT, String(info.threads)], torchEnv('tuned', info.threads));
  try {
    const hello = await peer.greeting(120000);
    if (!hello.ok) return { absent: hello.reason };
    const prep = await peer.request({ op: 'prepare', model: 'alexnet', variant: 'paper', pass: 'train', batch }, 120000);
    if (!prep.ok) return { absent: prep.reason };
    await peer.request({ op: 'run', iters: 1 }, 600000);
    const run = await peer.request({ op: 'run', iters: steps }, 600000);
    const peak = await peer.request({ op: 'peak_rss' }, 10000);
    return { version: hello.version, stepMs: (1000 * run.seconds) / steps, maxRssMiB: peak.mib };
  } catch (e) {
    return { absent: e.message };
  } finally {
    await peer.close();
  }
}

if (values.child) {
  await child(Number(values.child));
} else {
  const ceiling = await sgemmCeiling(dev, { rounds: 5, warmup: 2, roundSeconds: 1 });
  print({ type: 'ceiling', op: 'sgemm 2048^3', gflops: ceiling.gflops });
  const round = (v, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
  for (const batch of values.batch.split(',').map(Number)) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(batch), '--steps', String(steps)], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`batch ${batch}: child failed: ${r.stderr}`);
    const c = JSON.parse(r.stdout.trim().split('\n').pop());
    // This batch's ceiling, in turns with its steps: the shares below are over its median.
    const turns = spread(c.ceilingGflops);
    const ceil = turns.median;
    print({ type: 'ceiling', batch, op: 'sgemm 2048^3, in turns with the steps', gflops: turns });
    for (const o of c.ops.sort((a, b) => b.ms - a.ms)) {
      const gflops = o.gflop ? o.gflop / (o.ms / 1000) : null;
      print({
        type: 'op',
        batch,
        op: o.op,
        layer: o.layer,
        ms: round(o.ms),
        step_share: round(o.ms / c.stepMs),
        gflops: gflops === null ? null : round(gflops, 1),
        ceiling_share: gflops === null ? null : round(gflops / ceil),
      });
    }
    const gflops = c.flopPerStep / 1e9 / (c.stepMs / 1000);
    print({
      type: 'step',
      batch,
      impl: 'convkit',
      step_ms: round(c.stepMs, 1),
      images_per_s: round((1000 * batch) / c.stepMs, 2),
      gflops: round(gflops, 1),
      // Each step over the ceiling taken just before it; the median of those.
      ceiling_share: round(spread(c.stepShares).median),
      ceiling_share_spread: Object.fromEntries(Object.entries(spread(c.stepShares)).map(([k, v]) => [k, round(v)])),
      peak_pool_mib: round(c.peakPoolMiB, 0),
      live_before_step_mib: round(c.liveBeforeMiB, 0),
      peak_rss_mib: round(c.maxRssMiB, 0),
    });
    if (!values['no-torch']) {
      const t = await torchPeak(batch);
      if (t.absent) print({ type: 'torch', batch, absent: t.absent });
      else
        print({
          type: 'torch',
          batch,
          impl: `torch ${t.version} (tuned)`,
          step_ms: round(t.stepMs, 1),
          images_per_s: round((1000 * batch) / t.stepMs, 2),
          peak_rss_mib: round(t.maxRssMiB, 0),
          convkit_speedup: round(t.stepMs / c.stepMs),
        });
    }
  }
}
