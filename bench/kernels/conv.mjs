// conv2d forward and backward on AlexNet's five conv layers (the paper's form, with its two
// towers as groups = 2), against our own SGEMM on exactly the GEMMs the convolution runs, so
// ratio_vs_gemm = (GEMM time) / (conv time) is what im2col, col2im, bias and chunking cost.
// Usage: node bench/kernels/conv.mjs [batch] (default 32; build dist/ first).
import { Tensor, device, isa, isaFamilies, ops } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { deviceName, emit, timeIt } from '../lib.mjs';

const TARGET = 0.7; // forward + backward over the five layers vs our SGEMM on the same GEMMs
const batch = Number(process.argv[2] ?? 32);
const dev = device('cpu');
const devName = deviceName('cpu:0', native.threads());

// name, in channels, input side, out channels, kernel, stride, padding, groups, needs dx
const LAYERS = [
  ['conv1', 3, 227, 96, 11, 4, 0, 1, false], // the first layer needs no input gradient
  ['conv2', 96, 27, 256, 5, 1, 2, 2, true],
  ['conv3', 256, 13, 384, 3, 1, 1, 1, true],
  ['conv4', 384, 13, 384, 3, 1, 1, 2, true],
  ['conv5', 384, 13, 256, 3, 1, 1, 2, true],
].map(([layer, C, H, OC, K, S, P, groups, dx]) => ({ layer, C, H, OC, K, S, P, groups, dx }));

// The images of each chunk, as native/cpu/conv.cc cuts the batch.
function chunkSizes(l, O, pass) {
  // [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, groups], as lib/ops/conv.ts sends it
  const geom = [batch, l.C, l.H, l.H, l.OC, l.K, l.K, l.S, l.S, l.P, l.P, 1, 1, O, O, l.groups];
  const per = native.convChunkImages(geom, pass === 'forward');
  const sizes = [];
  for (let n0 = 0; n0 < batch; n0 += per) sizes.push(Math.min(per, batch - n0));
  return sizes;
}

// The SGEMM calls of one pass: { M, N, K, transA, transB, beta } per chunk and group.
function gemmCalls(l, O, pass) {
  const OHW = O * O;
  const Kg = (l.C / l.groups) * l.K * l.K;
  const OCg = l.OC / l.groups;
  const calls = [];
  chunkSizes(l, O, pass).forEach((nb, chunk) => {
    const ld = nb * OHW;
    for (let g = 0; g < l.groups; g++) {
      if (pass === 'forward') calls.push({ M: OCg, N: ld, K: Kg, transA: false, transB: false, beta: 0 });
      else {
        calls.push({ M: OCg, N: Kg, K: ld, transA: false, transB: true, beta: chunk === 0 ? 0 : 1 });
        if (l.dx) calls.push({ M: Kg, N: ld, K: OCg, transA: true, transB: false, beta: 0 });
      }
    }
  });
  return calls;
}

// A run of the calls through ops.gemm on operands of their shapes (uniform values: no
// denormals), and a function that frees the operands.
function gemmRunner(calls) {
  const operands = calls.map((c, i) => {
    const a = Tensor.uniform(c.transA ? [c.K, c.M] : [c.M, c.K], { seed: 3 * i + 1, low: -1, high: 1 });
    const b = Tensor.uniform(c.transB ? [c.N, c.K] : [c.K, c.N], { seed: 3 * i + 2, low: -1, high: 1 });
    const out = Tensor.zeros([c.M, c.N]);
    return { a, b, out };
  });
  const run = async () => {
    calls.forEach((c, i) => {
      const { a, b, out } = operands[i];
      ops.gemm(a, b, { transA: c.transA, transB: c.transB, beta: c.beta, c: out });
    });
    await dev.synchronize();
  };
  const free = () => operands.forEach(({ a, b, out }) => [a, b, out].forEach((x) => x.dispose()));
  return { run, free };
}

// Times two runs in alternating rounds and keeps each one's best round: on a shared machine the
// load changes from second to second, and alternating exposes both to the same conditions.
async function timePair(runA, runB, rounds = 3) {
  let a = Infinity;
  let b = Infinity;
  for (let r = 0; r < rounds; r++) {
    a = Math.min(a, (await timeIt(runA, { warmup: r === 0 ? 1 : 0, iters: 2, minMs: 0 })).ms);
    b = Math.min(b, (await timeIt(runB, { warmup: r === 0 ? 1 : 0, iters: 2, minMs: 0 })).ms);
  }
  return [a, b];
}

let totalMs = 0;
let totalGemmMs = 0;
let totalFlop = 0;
for (const l of LAYERS) {
  const O = Math.floor((l.H + 2 * l.P - l.K) / l.S) + 1;
  const opts = { stride: l.S, padding: l.P, groups: l.groups };
  const x = Tensor.uniform([batch, l.C, l.H, l.H], { seed: 1, low: -1, high: 1 });
  const w = Tensor.uniform([l.OC, l.C / l.groups, l.K, l.K], { seed: 2, low: -0.1, high: 0.1 });
  const bias = Tensor.uniform([l.OC], { seed: 3, low: -0.1, high: 0.1 });
  const dy = Tensor.uniform([batch, l.OC, O, O], { seed: 4, low: -1, high: 1 });
  const macs = batch * l.OC * O * O * (l.C / l.groups) * l.K * l.K;
  for (const pass of ['forward', 'backward']) {
    const flop = 2 * macs * (pass === 'forward' ? 1 : l.dx ? 2 : 1);
    const gemms = gemmRunner(gemmCalls(l, O, pass));
    const convRun = async () => {
      if (pass === 'forward') {
        const y = ops.conv2d(x, w, { ...opts, bias });
        await dev.synchronize();
        y.dispose();
      } else {
        const g = ops.conv2dBackward(dy, x, w, { ...opts, bias, needInputGrad: l.dx });
        await dev.synchronize();
        for (const t of Object.values(g)) t.dispose();
      }
    };
    const [convMs, gemmMs] = await timePair(convRun, gemms.run);
    gemms.free();
    totalMs += convMs;
    totalGemmMs += gemmMs;
    totalFlop += flop;
    emit({
      bench: 'conv2d',
      device: devName,
      layer: l.layer,
      pass,
      batch,
      ...(pass === 'backward' ? { input_grad: l.dx } : {}),
      ms: +convMs.toFixed(2),
      gflops: +(flop / convMs / 1e6).toFixed(1),
      gemm_gflops: +(flop / gemmMs / 1e6).toFixed(1),
      ratio_vs_gemm: +(gemmMs / convMs).toFixed(3),
    });
  }
  for (const t of [x, w, bias, dy]) t.dispose();
}
const ratio = totalGemmMs / totalMs;
emit({
  bench: 'conv2d',
  device: devName,
  layer: 'total',
  pass: 'forward+backward',
  batch,
  ms: +totalMs.toFixed(2),
  gflops: +(totalFlop / totalMs / 1e6).toFixed(1),
  gemm_gflops: +(totalFlop / totalGemmMs / 1e6).toFixed(1),
  ratio_vs_gemm: +ratio.toFixed(3),
  target: TARGET,
  meets_target: ratio >= TARGET,
  gemm_kernel: ops.gemmKernelName(),
  im2col_path: isaFamilies().im2col,
  isa: isa(),
});
