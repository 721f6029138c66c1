// AlexNet (paper form) batch-1 inference: the compiled predictor with fp32 weights against
// `precision: 'bf16'` (Linear layers on bf16 weights), timed in turns (round r runs fp32 then
// bf16 on odd rounds, bf16 then fp32 on even ones, `--calls` calls each), and the largest
// relative logit difference max|a - b| / max|a| over a few random inputs. One JSON line per
// precision and one for the accuracy, each with the device (lib/bench/host.ts).
//   node bench/models/alexnet-bf16.mjs [--rounds 10] [--calls 20] [--inputs 4]
import { Linear, Tensor, alexnet, ops } from '../../dist/index.js';
import { convkitVersion, deviceInfo } from '../../dist/bench/host.js';
import { layersBelow } from '../../dist/layers/layer.js';
import { emit, scriptArgs } from '../lib.mjs';

const values = scriptArgs(import.meta.url, {
  rounds: { type: 'string', default: '10' },
  calls: { type: 'string', default: '20' },
  inputs: { type: 'string', default: '4' },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const inputs = Number(values.inputs);

const model = alexnet({ variant: 'paper', seed: 1 });
const device = deviceInfo(model.device);
const shape = [1, ...model.inputShape];
const predictors = { fp32: model.compilePredictor(1), bf16: model.compilePredictor(1, { precision: 'bf16' }) };
const x = Tensor.randn(shape, { seed: 7 });

async function call(p) {
  const out = p.predict(x);
  await out.data();
  out.dispose();
}

for (const p of Object.values(predictors)) for (let i = 0; i < 3; i++) await call(p);
const times = { fp32: [], bf16: [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? ['fp32', 'bf16'] : ['bf16', 'fp32'];
  for (const k of order)
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await call(predictors[k]);
      times[k].push(performance.now() - t0);
    }
}
const median = (a) => {
  const s = [...a].sort((u, v) => u - v);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = { fp32: median(times.fp32), bf16: median(times.bf16) };
for (const k of ['fp32', 'bf16'])
  emit({
    bench: 'alexnet-bf16',
    model: 'alexnet:paper',
    pass: 'inference',
    precision: k,
    batch: 1,
    device,
    version: convkitVersion(),
    ms: +ms[k].toFixed(3),
    min_ms: +Math.min(...times[k]).toFixed(3),
    max_ms: +Math.max(...times[k]).toFixed(3),
    calls: times[k].length,
    rounds,
    speedup_vs_fp32: +(ms.fp32 / ms[k]).toFixed(3),
  });

// Logits (the net's raw output, eval mode): the same bf16 ops the predictor records, run eagerly
// with the packed weights set on each Linear (what Predictor does while it records).
const linears = layersBelow(model.net).filter((l) => l instanceof Linear);
async function logits(input, bf16) {
  const packs = bf16 ? linears.map((l) => ops.packBf16(l.weight.value)) : [];
  packs.forEach((p, i) => (linears[i].packedBf16 = p));
  model.eval();
  try {
    const y = model.net.forward(input);
    const v = await y.data();
    y.dispose();
    return v;
  } finally {
    linears.forEach((l) => (l.packedBf16 = null));
    packs.forEach((p) => p.dispose());
  }
}
let worst = 0;
let argmaxSame = 0;
const amax = (v) => v.reduce((b, u, i) => (u > v[b] ? i : b), 0);
for (let s = 0; s < inputs; s++) {
  const xi = Tensor.randn(shape, { seed: 100 + s });
  const a = await logits(xi, false);
  const b = await logits(xi, true);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  worst = Math.max(worst, d / m);
  if (amax(a) === amax(b)) argmaxSame++;
  xi.dispose();
}
emit({
  bench: 'alexnet-bf16',
  model: 'alexnet:paper',
  pass: 'accuracy',
  device,
  version: convkitVersion(),
  inputs,
  max_rel_logit_diff: +worst.toExponential(3),
  argmax_same: argmaxSame,
  note: 'random weights (seed 1) and random N(0,1) inputs; rel = max|fp32 - bf16| / max|fp32| per input, the worst input',
});
for (const p of Object.values(predictors)) p.dispose();
x.dispose();
model.dispose();
