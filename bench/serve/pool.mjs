// One InferenceSession with every CPU thread vs a SessionPool of several sessions (worker
// threads sharing the native thread pool, or child processes each with its share of
// CONVKIT_NUM_THREADS), under the same closed-loop load: `clients` loops that each send the
// next request as soon as the previous one is answered. One JSON line per configuration.
//
//   node bench/serve/pool.mjs [--models lenet5,alexnet-small] [--seconds 5] [--clients 64] [--workers 2]
//
// This decides SessionPool's default (and the example server's --workers default): on a
// shared machine the figures are contended; the lead reruns this on a quiet one.
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { InferenceSession, SessionPool } from 'convkit';
import { deviceName, emit, scriptArgs } from '../lib.mjs';
import { weightsFor } from './weights.mjs';

const o = scriptArgs(import.meta.url, {
  models: { type: 'string', default: 'lenet5,alexnet-small' },
  seconds: { type: 'string', default: '5' },
  clients: { type: 'string', default: '64' },
  workers: { type: 'string', default: '2' },
  'max-batch': { type: 'string', default: '32' },
  dir: { type: 'string', default: join(os.tmpdir(), 'convkit-serve-bench') },
});
const seconds = Number(o.seconds);
const clients = Number(o.clients);
const workers = Number(o.workers);
const threads = os.availableParallelism();
mkdirSync(o.dir, { recursive: true });

async function closedLoop(run, per, secs) {
  const x = Float32Array.from({ length: per }, (_, i) => Math.sin(i));
  const lat = [];
  const end = performance.now() + secs * 1000;
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await run(x);
          lat.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const at = (q) => lat[Math.min(lat.length - 1, Math.ceil(q * lat.length) - 1)] ?? 0;
  return {
    requests: lat.length,
    errors,
    requests_per_s: lat.length / secs,
    latency_ms: { p50: at(0.5), p99: at(0.99), max: lat[lat.length - 1] ?? 0 },
  };
}

const opts = { maxBatchSize: Number(o['max-batch']), maxQueue: clients * 2 };
for (const model of o.models.split(',').filter(Boolean)) {
  const weights = weightsFor(o.dir, model);
  const configs = [
    { config: `1 session, ${threads} threads`, make: () => InferenceSession.create(weights, opts) },
    {
      config: `${workers} thread workers, sharing ${threads} threads`,
      make: () => SessionPool.create(weights, { ...opts, workers, isolation: 'thread' }),
    },
    {
      config: `${workers} process workers, ${threads} threads split`,
      make: () => SessionPool.create(weights, { ...opts, workers, isolation: 'process', threads }),
    },
  ];
  for (const c of configs) {
    const s = await c.make();
    const per = s.inputShape.reduce((a, b) => a * b, 1);
    await closedLoop((x) => s.run(x), per, Math.min(2, seconds)); // warm
    const r = await closedLoop((x) => s.run(x), per, seconds);
    await s.close();
    emit({
      bench: 'serve-pool',
      model,
      config: c.config,
      device: deviceName('cpu:0', threads),
      clients,
      seconds,
      ...r,
      note: 'contended unless run on a quiet machine',
    });
  }
}
