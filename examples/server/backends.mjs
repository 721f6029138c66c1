// What the HTTP code talks to: { name, inputShape, run(x, { signal, timeoutMs, borrowInput })
// -> probs (x: the float input, from a decode worker or a JSON body), stats(), close() }. Two
// kinds behind the same interface, so the load test compares them
// through the same server: convkit (an InferenceSession, or a SessionPool of workers) and
// onnxruntime-node (one session.run per request, as ORT leaves batching to its user).
import { createRequire } from 'node:module';
import { InferenceSession, SessionPool, BusyError } from 'convkit';

/** convkit from a weights file; batching off is maxBatchSize 1. */
export async function convkitBackend(
  name,
  weights,
  {
    maxBatchSize = 32,
    maxQueueDelayMs = 0,
    maxQueue = 2048,
    workers = 1,
    isolation = 'process',
    timeoutMs = 30_000,
    calibrate = false,
    batchInvariant = false,
  } = {},
) {
  const opts = { maxBatchSize, maxQueueDelayMs, maxQueue, timeoutMs, calibrate, batchInvariant };
  if (workers > 1) {
    const pool = await SessionPool.create(weights, { ...opts, workers, isolation });
    return {
      name,
      kind: `convkit pool x${workers} (${isolation})`,
      inputShape: pool.inputShape,
      // The worker's session copies x when its message arrives, before the answer that
      // releases a borrowed x: borrowInput needs nothing more here.
      run: (x, o) => pool.run(x, o),
      stats: async () => ({ workers: await pool.stats() }),
      close: () => pool.close(),
    };
  }
  const s = await InferenceSession.create(weights, opts);
  return {
    name,
    kind: `convkit ${s.device.name}`,
    inputShape: [...s.inputShape],
    // borrowInput: x is read in place until the answer (no copy per queued request).
    run: (x, o) => s.run(x, o),
    stats: async () => s.stats(),
    close: () => s.close(),
  };
}

function softmax(logits) {
  let m = -Infinity;
  for (const v of logits) m = Math.max(m, v);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i] = Math.exp(logits[i] - m);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

// Measured here: onnxruntime-node 1.30's session.run computes on the JS thread (a 1.4 s batch
// was a 1.4 s event-loop stall), so the peer's event-loop figures in bench/serve/load.mjs show
// that property of ORT, not of this HTTP code.
/** onnxruntime-node from an .onnx file whose input is 'x' [N, ...inputShape]; null if ORT is not installed. */
export async function ortBackend(name, onnxFile, inputShape, { threads, maxQueue = 2048 } = {}) {
  let ort;
  try {
    ort = createRequire(import.meta.url)('onnxruntime-node');
  } catch {
    return null;
  }
  const session = await ort.InferenceSession.create(onnxFile, {
    intraOpNumThreads: threads ?? 0,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  let outstanding = 0;
  let completed = 0;
  return {
    name,
    kind: 'onnxruntime-node',
    inputShape,
    async run(x) {
      if (outstanding >= maxQueue) throw new BusyError(`ort ${name}: ${outstanding} requests outstanding (maxQueue ${maxQueue})`);
      outstanding++;
      try {
        // onnxruntime-node refuses a view of a SharedArrayBuffer ("Invalid argument"), which is
        // what a decode worker's slot is: such an input is copied first (one memcpy).
        const data = x.buffer instanceof SharedArrayBuffer ? x.slice() : x;
        const out = await session.run({ [input]: new ort.Tensor('float32', data, [1, ...inputShape]) });
        completed++;
        return softmax(out[output].data);
      } finally {
        outstanding--;
      }
    },
    stats: async () => ({ queueDepth: outstanding, completed }),
    close: () => session.release?.(),
  };
}
