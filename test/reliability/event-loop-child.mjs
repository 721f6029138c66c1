// Run by event-loop.test.ts in a plain Node process against the built package (dist/), without
// the test runner's TypeScript loader: that loader keeps the TypeScript compiler (~90 MB) on the
// heap, and collecting such a heap on a loaded machine takes longer than the delay measured here.
// Prints one JSON line per path: the longest event-loop delay, the scheduling noise of an idle
// loop measured just before, the answers' correctness and how deep the queue got.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  Conv2d,
  Flatten,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  Model,
  ReLU,
  Sequential,
  Tensor,
  device,
  memory,
  predict,
} from '../../dist/index.js';

const REQUESTS = 1000;
const INPUTS = 8;
const BURST = 20;
const SHAPE = [1, 3, 63, 63];

// A small-spatial AlexNet-shaped model: 5 convs with ReLU, 2 LRNs, 3 max pools, 3 fully
// connected layers (21 queued ops per prediction), light enough to run 3,000 times here.
function miniAlexnet(seed = 7) {
  const conv = (name, c, oc, k, s, p) => new Conv2d({ name, inChannels: c, outChannels: oc, kernelSize: k, stride: s, padding: p, seed });
  const lrn = (name) => new LocalResponseNorm({ name, size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaConvention: 'literal' });
  const pool = (name) => new MaxPool2d({ name, kernelSize: 3, stride: 2 });
  const net = new Sequential([
    conv('conv1', 3, 8, 5, 2, 2),
    new ReLU('conv1.relu'),
    lrn('norm1'),
    pool('pool1'),
    conv('conv2', 8, 12, 3, 1, 1),
    new ReLU('conv2.relu'),
    lrn('norm2'),
    pool('pool2'),
    conv('conv3', 12, 16, 3, 1, 1),
    new ReLU('conv3.relu'),
    conv('conv4', 16, 16, 3, 1, 1),
    new ReLU('conv4.relu'),
    conv('conv5', 16, 12, 3, 1, 1),
    new ReLU('conv5.relu'),
    pool('pool5'),
    new Flatten('flatten'),
    new Linear({ name: 'fc6', inFeatures: 12 * 3 * 3, outFeatures: 32, seed }),
    new ReLU('fc6.relu'),
    new Linear({ name: 'fc7', inFeatures: 32, outFeatures: 32, seed }),
    new ReLU('fc7.relu'),
    new Linear({ name: 'fc8', inFeatures: 32, outFeatures: 10, seed }),
  ]);
  return new Model('mini-alexnet', net, SHAPE.slice(1), 'softmax-cross-entropy', {});
}

const model = miniAlexnet();
// What the model itself holds (its flat buffers and a view per parameter and gradient): every
// tensor beyond this at the end was left behind by a request.
const modelTensors = memory().devices['cpu:0'].tensors;
const cpu = device('cpu');
const inputs = [];
for (let i = 0; i < INPUTS; i++) {
  const x = Tensor.randn(SHAPE, { seed: 100 + i });
  inputs.push(x.dataSync());
  x.dispose();
}
const ref = [];
for (const x of inputs) ref.push(await predict(model, x, SHAPE));

/** The longest delay of a loop doing nothing but small turns: what the OS scheduler costs now. */
async function schedulingNoise(ms) {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  await new Promise((r) => {
    const turn = () => void (performance.now() - t0 < ms ? setImmediate(turn) : r());
    turn();
  });
  h.disable();
  return h.max / 1e6;
}

/**
 * Starts one(i) for i < REQUESTS as a busy server receives them: BURST requests per turn of the
 * event loop, the next burst on the next turn, faster than they are served, so hundreds are in
 * flight together and thousands of ops queue up (the old back-pressure blocked the JS thread
 * past 1,024). Firing all 1,000 in one synchronous loop would instead measure that loop itself.
 */
async function storm(name, one) {
  const noiseBefore = await schedulingNoise(300);
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  const pending = [];
  let inFlight = 0,
    peak = 0,
    queued = 0;
  await new Promise((resolve) => {
    const arrive = (first) => {
      for (let i = first; i < Math.min(REQUESTS, first + BURST); i++) {
        inFlight++;
        pending.push(one(i).finally(() => inFlight--));
      }
      peak = Math.max(peak, inFlight);
      queued = Math.max(queued, cpu.pending());
      if (first + BURST < REQUESTS) setImmediate(arrive, first + BURST);
      else resolve();
    };
    arrive(0);
  });
  const answers = await Promise.all(pending);
  const wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20));
  h.disable();
  // Scheduling noise measured before and after the storm (the larger), on this same loop.
  const noiseMs = Math.max(noiseBefore, await schedulingNoise(300));
  let wrong = 0;
  answers.forEach((a, i) => {
    const r = ref[i % INPUTS];
    if (a.length !== r.length || a.some((v, k) => v !== r[k])) wrong++;
  });
  process.stdout.write(
    JSON.stringify({
      name,
      requests: answers.length,
      wrong,
      maxDelayMs: h.max / 1e6,
      noiseMs,
      wallMs,
      peakInFlight: peak,
      peakQueuedOps: queued,
    }) + '\n',
  );
}

await storm('predict()', (i) => predict(model, inputs[i % INPUTS], SHAPE));

const predictor = model.compilePredictor(1);
await storm('compiled Predictor', async (i) => {
  const x = Tensor.fromArray(inputs[i % INPUTS], SHAPE);
  const p = predictor.predict(x);
  x.dispose();
  const v = await p.data();
  p.dispose();
  return v;
});
predictor.dispose();

await storm('predictProbs + data()', async (i) => {
  const x = Tensor.fromArray(inputs[i % INPUTS], SHAPE);
  const p = model.predictProbs(x);
  x.dispose();
  const v = await p.data();
  p.dispose();
  return v;
});

const left = memory().devices['cpu:0'].tensors - modelTensors;
process.stdout.write(JSON.stringify({ name: 'leftover', tensors: left }) + '\n');
