// Load test of examples/server on loopback with autocannon: LeNet-5 and AlexNet from weights
// files, JPEG bodies from ../shared/data/imagenet-samples, dynamic batching on and off, and the
// same AlexNet served by onnxruntime-node behind the same HTTP code (the peer). One JSON line
// per run: device, throughput, latency p50/p99/max, errors and timeouts, the server's
// event-loop delay p99/max (monitorEventLoopDelay, read from /v1/stats, raw and less its 10 ms
// sampling interval), its longest stalls and when they began, and its batch sizes.
//
//   node bench/serve/load.mjs [--duration 10] [--connections 1000] [--models lenet5,alexnet]
//                             [--batching on,off] [--peer on|off] [--workers 1] [--max-batch 32]
//                             [--input jpeg|json]   (json: a tensor body, to take image decoding out of the figures)
//                             [--compute-nice 10] [--loop-nice=-5] [--admit N] [--intake-window 4]
//                             [--loop-resolution-ms 10]
//                             [--server-node-args=--trace-gc] [--help]
//
// The client runs in this process, on the same cores as the server: figures from a shared
// machine are not results; the lead reruns this on a quiet one.
import { spawn, spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { deviceName, emit, scriptArgs } from '../lib.mjs';
import { onnxFor, weightsFor } from './weights.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const o = scriptArgs(import.meta.url, {
  duration: { type: 'string', default: '10' },
  connections: { type: 'string', default: '1000' },
  models: { type: 'string', default: 'lenet5,alexnet' },
  batching: { type: 'string', default: 'on,off' },
  peer: { type: 'string', default: 'on' },
  workers: { type: 'string', default: '1' },
  'max-batch': { type: 'string', default: '32' },
  'timeout-s': { type: 'string', default: '60' },
  input: { type: 'string', default: 'jpeg' },
  images: { type: 'string', default: join(root, '..', 'shared', 'data', 'imagenet-samples') },
  dir: { type: 'string', default: join(os.tmpdir(), 'convkit-serve-bench') },
  // The server's --compute-nice: every thread but its event loop's at this nice value (0: off).
  'compute-nice': { type: 'string', default: '10' },
  // The server's --admit: requests read and queued at once (0: its default, 4 batches a worker).
  admit: { type: 'string', default: '0' },
  // The server's --loop-nice: its event loop's own nice value, below 0 (needs CAP_SYS_NICE; 0: off).
  'loop-nice': { type: 'string', default: '0' },
  // The server's --intake-window: new connections between hand-over and first parse (0: unpaced).
  'intake-window': { type: 'string', default: '4' },
  // The server's --loop-resolution-ms: its event-loop histogram's sampling interval (its floor).
  'loop-resolution-ms': { type: 'string', default: '10' },
  // Flags for the server's node, e.g. --trace-gc (its stderr is this script's).
  'server-node-args': { type: 'string', default: '' },
});
const duration = Number(o.duration);
const connections = Number(o.connections);
const timeoutS = Number(o['timeout-s']);
mkdirSync(o.dir, { recursive: true });

function startServer(args) {
  const child = spawn(
    process.execPath,
    [
      ...o['server-node-args'].split(' ').filter(Boolean),
      join(root, 'examples', 'server', 'server.mjs'),
      '--port',
      '0',
      '--timeout-ms',
      String(timeoutS * 1000),
      '--max-queue',
      String(Math.max(2048, connections * 2)),
      `--compute-nice=${o['compute-nice']}`,
      `--admit=${o.admit}`,
      // '=' form: parseArgs refuses a separate value that starts with '-'.
      `--loop-nice=${o['loop-nice']}`,
      `--intake-window=${o['intake-window']}`,
      `--loop-resolution-ms=${o['loop-resolution-ms']}`,
      // Stats on a listener of their own: the main one holds new connections while it is full.
      '--admin-port',
      '0',
      ...args,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      const lines = (buf + d).split('\n');
      buf = lines.pop();
      for (const l of lines) {
        let m = null;
        try {
          m = JSON.parse(l);
        } catch {}
        if (m?.listening) resolve({ url: m.listening, adminUrl: m.admin, child, models: m.models });
        // Anything else the server prints (--trace-gc lines) goes to stderr, off the JSON lines.
        else if (!m) process.stderr.write(l + '\n');
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

/**
 * GET a JSON answer on a connection of its own: fetch() reuses a keep-alive connection, which
 * the server closes after 30 s idle (keepAliveTimeout), and a run longer than that read
 * ECONNRESET. No timeout: a server whose event loop is blocked (the ORT peer) answers late.
 */
function getJson(url) {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(e);
        }
      });
    }).on('error', reject);
  });
}

async function stop(child) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  // The drain of up to 1,000 queued requests is not what is measured (test/serve tests it).
  const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

const jpegs = readdirSync(o.images)
  .filter((f) => /\.jpe?g$/i.test(f))
  .slice(0, 16)
  .map((f) => readFileSync(join(o.images, f)));

const jsonBodies = new Map();
/** A few distinct tensor bodies of the model's input size. */
function jsonFor(inputShape) {
  const n = inputShape.reduce((a, b) => a * b, 1);
  if (!jsonBodies.has(n))
    jsonBodies.set(
      n,
      [0, 1, 2, 3].map((k) => JSON.stringify({ input: Array.from({ length: n }, (_, i) => Math.round(Math.sin(i + k) * 1000) / 1000) })),
    );
  return jsonBodies.get(n);
}

async function load(url, model, conns, secs, inputShape) {
  const requests =
    o.input === 'json'
      ? jsonFor(inputShape).map((body) => ({
          method: 'POST',
          path: `/v1/models/${model}/predict`,
          headers: { 'content-type': 'application/json' },
          body,
        }))
      : jpegs.map((body) => ({ method: 'POST', path: `/v1/models/${model}/predict`, headers: { 'content-type': 'image/jpeg' }, body }));
  return autocannon({ url, connections: conns, duration: secs, timeout: timeoutS, requests });
}

async function run({ model, backend, batching, serverArgs }) {
  const srv = await startServer(serverArgs);
  try {
    const shape = srv.models[0].inputShape;
    await load(srv.url, model, 8, 2, shape); // warm: plans, pooled buffers, decode workers
    await getJson(`${srv.adminUrl}/v1/stats?reset=1`);
    const t0 = performance.now();
    const r = await load(srv.url, model, connections, duration, shape);
    // When the client stopped, in the server's window: stalls after it are the disconnect storm.
    const loadEndedAtMs = Math.round(performance.now() - t0);
    const st = await getJson(`${srv.adminUrl}/v1/stats`);
    const ms = st.models[model];
    emit({
      bench: 'serve',
      model,
      backend,
      batching,
      device: deviceName('cpu:0'),
      connections,
      duration_s: duration,
      input: o.input,
      requests: r.requests.total,
      ok: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      requests_per_s: r.requests.average,
      latency_ms: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
      server_event_loop_delay_ms: { p99: st.eventLoopDelayMs.p99, max: st.eventLoopDelayMs.max },
      // The same less the histogram's sampling interval (loop-health.mjs): how late the loop was.
      server_event_loop_lateness_ms: { p99: st.eventLoopLatenessMs.p99, max: st.eventLoopLatenessMs.max },
      // GCs and the main thread's scheduler counters over the same window (reset after warm-up).
      server_window_ms: st.windowMs,
      // The longest stalls and when they began (ms into the window), and when the load ended.
      server_stalls: st.stalls,
      server_intake: st.intake,
      load_ended_at_ms: loadEndedAtMs,
      server_gc: st.gc,
      server_main_thread: st.mainThread,
      server_thread_priority: st.threadPriority,
      load_average: os.loadavg().map((x) => Math.round(x * 100) / 100),
      batch_sizes: ms?.batchSizes ?? null,
      note: 'client and server share this machine; a contended run is not a result',
    });
  } finally {
    await stop(srv.child);
  }
}

const models = o.models.split(',').filter(Boolean);
const modes = o.batching.split(',').filter(Boolean);
for (const model of models) {
  const weights = weightsFor(o.dir, model);
  for (const mode of modes) {
    const serverArgs = ['--model', `${model}=${weights}`, '--max-batch', o['max-batch'], '--workers', o.workers];
    if (mode === 'off') serverArgs.push('--no-batching');
    await run({ model, backend: o.workers === '1' ? 'convkit' : `convkit x${o.workers} workers`, batching: mode, serverArgs });
  }
  if (o.peer === 'on') {
    const ort = spawnSync(process.execPath, ['-e', "require('onnxruntime-node')"], { cwd: root }).status === 0;
    const onnx = ort
      ? await onnxFor(o.dir, model)
      : { skipped: 'onnxruntime-node not installed (npm install --save-dev --ignore-scripts onnxruntime-node)' };
    if (onnx.skipped) emit({ bench: 'serve', model, backend: 'onnxruntime-node', skipped: onnx.skipped, device: deviceName('cpu:0') });
    else
      await run({
        model,
        backend: 'onnxruntime-node',
        batching: 'n/a (one run per request)',
        serverArgs: ['--ort', `${model}=${onnx.file}:${onnx.inputShape.join('x')}`],
      });
  }
}
