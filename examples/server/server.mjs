// An HTTP inference server over convkit's InferenceSession (node:http: no framework to learn
// or patch for three routes, and direct control of body limits and socket handling; fastify
// would add schema validation and a router, which this example does not need).
//
//   node examples/server/server.mjs --model lenet5=lenet5.safetensors --model alexnet=alexnet.safetensors
//
// POST /v1/models/:name/predict  image/jpeg | image/png | application/json {"input": [...]}
//   -> 200 {"model", "top5": [{"class", "label", "probability"}]}
//   413 body too large, 415 wrong content type, 400 undecodable image or wrong shape,
//   503 + Retry-After when the queue is full or the server is shutting down, 504 on timeout.
// GET /healthz, GET /metrics (Prometheus), GET /v1/stats[?reset=1] (JSON: sessions, event loop, GC,
// the main thread's scheduler wait: loop-health.mjs).
// SIGTERM: new requests get 503, in-flight ones finish, then the process exits.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { listThreads, prioritizeThisThread, reniceThreads } from 'convkit';
import { convkitBackend, ortBackend } from './backends.mjs';
import { Admission } from './admission.mjs';
import { DecodeError, DecodePool } from './decode-pool.mjs';
import { paceIntake } from './intake.mjs';
import { loopHealth } from './loop-health.mjs';
import { createMetrics } from './metrics.mjs';

class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png']);

/**
 * The body as one Uint8Array, or a 413 as soon as it passes `limit` bytes. With `into` (a
 * reused slot) and a Content-Length that fits it, the body is read into `into` and the answer
 * is a view of it; otherwise a standalone array.
 */
function readBody(req, limit, into = null) {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    return Promise.reject(new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit}`));
  // http's parser delivers exactly Content-Length bytes, so a declared length that fits cannot overrun.
  const target = into && Number.isSafeInteger(declared) && declared <= into.length ? into : null;
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      if (target && size + c.length > target.length) {
        req.removeAllListeners('data');
        req.resume();
        return reject(new HttpError(400, `body longer than its Content-Length of ${declared}`));
      }
      if (target) target.set(c, size);
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `body exceeds the limit of ${limit} bytes`));
      } else if (!target) chunks.push(c);
    });
    req.on('end', () => {
      if (target) return resolve(target.subarray(0, size));
      const out = new Uint8Array(size);
      let o = 0;
      for (const c of chunks) out.set(c, (o += c.length) - c.length);
      resolve(out);
    });
    req.on('error', reject);
    // Admission may have paused the request; a 'data' listener alone does not undo an explicit pause().
    req.resume();
  });
}

/** {"input": numbers, flat or nested} -> Float32Array of exactly n values, or a 400. */
function jsonInput(bytes, shape) {
  let doc;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new HttpError(400, `body is not valid JSON: ${e.message}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.input))
    throw new HttpError(400, `expected {"input": [...]} with ${n} numbers (shape [${shape}])`);
  const flat = doc.input.flat(shape.length);
  if (flat.length !== n) throw new HttpError(400, `input holds ${flat.length} values; shape [${shape}] needs ${n}`);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (typeof flat[i] !== 'number' || !Number.isFinite(flat[i]))
      throw new HttpError(400, `input value ${i} is ${JSON.stringify(flat[i])}, not a finite number`);
    x[i] = flat[i];
  }
  return x;
}

/** The five most probable classes, best first, ties to the lower class (as a stable sort of all would). */
function top5(probs, labels) {
  // One pass keeping five, not a sort of every class per request.
  const idx = [];
  for (let i = 0; i < probs.length; i++) {
    if (idx.length === 5 && !(probs[i] > probs[idx[4]])) continue;
    if (idx.length === 5) idx.pop();
    let j = idx.length;
    while (j > 0 && probs[i] > probs[idx[j - 1]]) j--;
    idx.splice(j, 0, i);
  }
  return idx.map((i) => ({ class: i, label: labels?.[i] ?? String(i), probability: probs[i] }));
}

/** Maps a backend's coded rejection to an HTTP answer. */
function fromBackendError(e) {
  switch (e?.code) {
    case 'ND_BUSY':
      return new HttpError(503, 'the model queue is full, retry shortly', { 'retry-after': '1' });
    case 'ND_CLOSED':
      return new HttpError(503, 'the server is shutting down', { 'retry-after': '5', connection: 'close' });
    case 'ND_TIMEOUT':
      return new HttpError(504, e.message);
    case 'ND_ABORTED':
      // The client went away; nginx's 499, for the metrics (nobody reads the answer).
      return new HttpError(499, 'client closed the request');
    case 'ND_SHAPE':
    case 'ND_ARG':
      return new HttpError(400, e.message);
    default:
      return e;
  }
}

/**
 * Starts the server. models: [{ name, weights } | { name, onnx, inputShape }, labels?];
 * returns { url, server, close(), eventLoop } once listening.
 */
export async function startServer({
  models,
  port = 8080,
  host = '127.0.0.1',
  maxBodyBytes = 8 << 20,
  session = {},
  decodeWorkers,
  computeNice = 10,
  loopNice = 0,
  admit,
  intakeWindow = 4,
  adminPort = null,
  loopResolutionMs = 10,
  log = () => {},
}) {
  const backends = new Map();
  // Threads before the sessions exist: those that appear while they are made are theirs.
  const threadsBefore = new Set(listThreads() ?? []);
  for (const m of models) {
    const b = m.onnx ? await ortBackend(m.name, m.onnx, m.inputShape, session) : await convkitBackend(m.name, m.weights, session);
    if (!b) throw new Error(`model ${m.name}: onnxruntime-node is not installed`);
    b.labels = m.labels;
    backends.set(m.name, b);
  }
  // Taken before the decode workers start: only the sessions' threads.
  const sessionThreads = (listThreads() ?? []).filter((t) => !threadsBefore.has(t));
  const decoder = new DecodePool({ workers: decodeWorkers });
  const metrics = createMetrics(backends);
  const health = loopHealth({ resolutionMs: loopResolutionMs });
  // Requests read and queued at once (admission.mjs): a few full batches per session worker,
  // enough to keep every batch full; the rest wait unread, up to the session queue's bound.
  const admission = new Admission({
    limit: admit ?? 4 * (session.maxBatchSize ?? 32) * (session.workers ?? 1),
    maxWaiting: session.maxQueue ?? 1024,
  });
  // A slot per admitted request, made and touched now rather than under the first burst (79 MB
  // for AlexNet at the default 128).
  for (const b of backends.values()) decoder.reserve(b.inputShape, admission.snapshot().limit);
  // The event loop before compute: the threads the sessions started (convkit's stream executor
  // and compute pool, or onnxruntime's pool) run at nice `computeNice`, so the HTTP thread gets
  // a core as soon as it wakes (thread-priority.ts). Decoding (libuv's pool, decode workers) is
  // left at normal priority: it is per-request work that a load client on the same machine
  // would otherwise starve (measured: LeNet-5, decode-bound, lost most of its throughput with
  // every thread lowered). A compute pool started later inherits from the executor that starts it.
  const priority = { nice: computeNice, changed: 0, failed: 0, supported: true, loopNice: 0 };
  if (loopNice < 0) {
    // Raising the event loop's own priority needs CAP_SYS_NICE; without it, logged and ignored.
    const r = prioritizeThisThread(loopNice);
    if (r.failed) log(`--loop-nice ${loopNice}: ${r.firstError}`);
    else priority.loopNice = loopNice;
  }
  if (computeNice > 0) {
    const r = reniceThreads(sessionThreads, computeNice);
    Object.assign(priority, { supported: r.supported, changed: r.changed, failed: r.failed });
    if (r.firstError) log(`thread priority: ${r.firstError}`);
  }
  let shuttingDown = false;
  let inFlight = 0;
  let idle = null;

  async function predict(req, res, b) {
    if (shuttingDown) throw new HttpError(503, 'the server is shutting down', { 'retry-after': '5', connection: 'close' });
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (!IMAGE_TYPES.has(type) && type !== 'application/json')
      throw new HttpError(415, `content type '${type}' is not image/jpeg, image/png or application/json`);
    const image = IMAGE_TYPES.has(type);
    // An image's body, then its float input, in a reused shared slot (slot-pool.mjs), held
    // until the session has answered; null when all are taken (fresh buffers then).
    const slot = image ? decoder.slotFor(b.inputShape) : null;
    try {
      const body = await readBody(req, maxBodyBytes, slot?.bytes);
      if (body.length === 0) throw new HttpError(400, 'empty body');
      let x;
      if (!image) x = jsonInput(body, b.inputShape);
      else
        try {
          // Decoded and normalised on a worker: the event loop never touches a pixel.
          x = await decoder.decode(body, b.inputShape, slot);
        } catch (e) {
          if (e.code === 'BUSY') throw new HttpError(503, 'the decode queue is full', { 'retry-after': '1' });
          if (e instanceof DecodeError) throw new HttpError(400, e.message);
          throw e;
        }
      // A client that goes away cancels its request.
      const ac = new AbortController();
      const onClose = () => !res.writableEnded && ac.abort();
      res.on('close', onClose);
      try {
        // Lent, not copied: x is this request's own (a decoded image's slot, released only once
        // this settles, or the array jsonInput just made), and the executor gathers it into the batch.
        const probs = await b.run(x, { signal: ac.signal, borrowInput: true });
        return { model: b.name, top5: top5(probs, b.labels) };
      } catch (e) {
        throw fromBackendError(e);
      } finally {
        res.off('close', onClose);
      }
    } finally {
      // Settled: the session no longer reads the floats (see RunOptions.borrowInput).
      slot?.release();
    }
  }

  async function handle(req, res, admin = false) {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/healthz')
      return send(res, shuttingDown ? 503 : 200, { status: shuttingDown ? 'shutting down' : 'ok', models: [...backends.keys()] });
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      return res.end(await metrics.text());
    }
    if (req.method === 'GET' && url.pathname === '/v1/stats') {
      const out = {
        ...health.snapshot(),
        threadPriority: priority,
        admission: admission.snapshot(),
        intake: intake?.snapshot() ?? null,
        models: {},
      };
      for (const b of backends.values()) out.models[b.name] = { kind: b.kind, ...(await b.stats()) };
      if (url.searchParams.get('reset') === '1') health.reset();
      return send(res, 200, out);
    }
    const m = admin ? null : /^\/v1\/models\/([^/]+)\/predict$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: `no route ${req.method} ${url.pathname}${admin ? ' on the admin listener' : ''}` });
    const b = backends.get(decodeURIComponent(m[1]));
    if (!b) return send(res, 404, { error: `no model '${m[1]}' (serving ${[...backends.keys()].join(', ')})` });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
    // Answered: a kept-alive connection waits its turn again behind held ones (intake.mjs).
    if (intake) res.once('finish', () => intake.requeue(req.socket));
    const t0 = performance.now();
    inFlight++;
    let status = 200;
    let release = null;
    try {
      try {
        release = await admission.enter(req);
      } catch (why) {
        // The line refuses everyone once the drain has begun: that is the shutdown's answer.
        if (shuttingDown) throw new HttpError(503, 'the server is shutting down', { 'retry-after': '5', connection: 'close' });
        throw new HttpError(why.status, why.message, why.status === 503 ? { 'retry-after': '1' } : {});
      }
      send(res, 200, await predict(req, res, b));
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'internal error');
      if (!(e instanceof HttpError)) log(`500 on ${b.name}: ${e?.stack ?? e}`);
      status = err.status;
      // After a 413 the rest of the body is not read: close the connection rather than drain it.
      send(res, status, { error: err.message }, status === 413 ? { ...err.headers, connection: 'close' } : err.headers);
    } finally {
      release?.();
      // Room in the line again, perhaps: connections held unread may be read now.
      intake?.kick();
      metrics.observe(b.name, status, (performance.now() - t0) / 1000);
      if (--inFlight === 0 && idle) idle();
    }
  }

  const handler = (admin) => (req, res) => {
    handle(req, res, admin).catch((e) => {
      log(`unhandled: ${e?.stack ?? e}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  };
  const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 60_000 }, handler(false));
  // New connections reach the HTTP parser a few at a time, and wait unread while the admission
  // line is long (intake.mjs; --intake-window 0: all at once, always).
  const intake =
    intakeWindow > 0 ? paceIntake(server, { window: intakeWindow, canTake: (unparsed) => admission.hasRoomFor(unparsed + 1) }) : null;
  // Many load-test connections arrive at once; the default backlog (511) would refuse some.
  await new Promise((resolve, reject) => server.once('error', reject).listen({ port, host, backlog: 4096 }, resolve));
  const addr = server.address();
  // /healthz, /metrics and /v1/stats on a listener of their own, which never waits behind the
  // held connections of the main one.
  let admin = null;
  if (adminPort !== null) {
    admin = createServer({ keepAliveTimeout: 30_000 }, handler(true));
    await new Promise((resolve, reject) => admin.once('error', reject).listen({ port: adminPort, host }, resolve));
  }

  async function close() {
    if (shuttingDown) return;
    shuttingDown = true;
    admission.close();
    // Held connections are read now, and their requests answered 503. They are handed over a
    // few at a time from setImmediate turns, so wait (up to 2 s) until every one has been read
    // or has gone quiet: closing the connections first dropped requests that had reached the
    // server without an answer at all.
    intake?.openAll();
    server.close();
    for (let i = 0; intake && i < 200 && (intake.held > 0 || intake.snapshot().unparsed > 0); i++)
      await new Promise((r) => setTimeout(r, 10));
    server.closeIdleConnections();
    if (inFlight > 0) await new Promise((r) => (idle = r));
    for (const b of backends.values()) await b.close();
    await decoder.close();
    server.closeAllConnections();
    admin?.close();
    admin?.closeAllConnections();
    health.close();
  }

  const adminAddr = admin?.address();
  return {
    url: `http://${addr.address}:${addr.port}`,
    adminUrl: adminAddr ? `http://${adminAddr.address}:${adminAddr.port}` : null,
    server,
    close,
    backends,
  };
}

function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Labels from imagenet-samples/classes.tsv (index, wnid, file, names), or one name per line. */
function readLabels(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  if (lines[0].startsWith('index\t')) return lines.slice(1).map((l) => l.split('\t')[3]?.split(',')[0] ?? l);
  return lines;
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', multiple: true, default: [] },
      ort: { type: 'string', multiple: true, default: [] },
      labels: { type: 'string', multiple: true, default: [] },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-batch': { type: 'string', default: '32' },
      'max-delay-ms': { type: 'string', default: '0' },
      'max-queue': { type: 'string', default: '2048' },
      'timeout-ms': { type: 'string', default: '30000' },
      workers: { type: 'string', default: '1' },
      isolation: { type: 'string', default: 'process' },
      'no-batching': { type: 'boolean', default: false },
      calibrate: { type: 'boolean', default: false },
      'batch-invariant': { type: 'boolean', default: false },
      'max-body': { type: 'string', default: String(8 << 20) },
      'compute-nice': { type: 'string', default: '10' },
      'loop-nice': { type: 'string', default: '0' },
      admit: { type: 'string', default: '0' },
      'intake-window': { type: 'string', default: '4' },
      'admin-port': { type: 'string' },
      'loop-resolution-ms': { type: 'string', default: '10' },
    },
  });
  const pairs = (list) => list.map((s) => s.split(/=(.*)/s).slice(0, 2));
  const labels = Object.fromEntries(pairs(values.labels).map(([n, f]) => [n, readLabels(f)]));
  const models = [
    ...pairs(values.model).map(([name, weights]) => ({ name, weights, labels: labels[name] })),
    ...pairs(values.ort).map(([name, spec]) => {
      // name=file.onnx:3x227x227
      const [onnx, shape = '3x227x227'] = spec.split(/:(?=[\dx]+$)/);
      return { name, onnx, inputShape: shape.split('x').map(Number), labels: labels[name] };
    }),
  ];
  if (models.length === 0) throw new Error('give at least one --model name=weights.safetensors (or --ort name=file.onnx[:CxHxW])');
  const session = {
    maxBatchSize: values['no-batching'] ? 1 : Number(values['max-batch']),
    maxQueueDelayMs: Number(values['max-delay-ms']),
    maxQueue: Number(values['max-queue']),
    timeoutMs: Number(values['timeout-ms']),
    workers: Number(values.workers),
    isolation: values.isolation,
    calibrate: values.calibrate,
    batchInvariant: values['batch-invariant'],
  };
  const s = await startServer({
    models,
    port: Number(values.port),
    host: values.host,
    maxBodyBytes: Number(values['max-body']),
    computeNice: Number(values['compute-nice']),
    loopNice: Number(values['loop-nice']),
    admit: Number(values.admit) || undefined,
    intakeWindow: Number(values['intake-window']),
    adminPort: values['admin-port'] === undefined ? null : Number(values['admin-port']),
    loopResolutionMs: Number(values['loop-resolution-ms']),
    session,
    log: (l) => console.error(l),
  });
  console.log(
    JSON.stringify({
      listening: s.url,
      admin: s.adminUrl,
      models: [...s.backends.values()].map((b) => ({ name: b.name, kind: b.kind, inputShape: b.inputShape })),
    }),
  );
  process.once('SIGTERM', async () => {
    console.error('SIGTERM: draining');
    await s.close();
    console.log(JSON.stringify({ stopped: true }));
    process.exit(0);
  });
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  });
