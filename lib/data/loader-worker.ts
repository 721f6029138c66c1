/**
 * The DataLoader's prefetch worker. It prepares the batches of the current epoch into fresh
 * buffers and transfers them to the main thread, never more than `credits` batches ahead of
 * what the main thread has taken (each taken batch sends an 'ack' that returns one credit).
 * One batch per macrotask, so a 'cancel' or a new 'epoch' is seen between batches.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { fillBatch, type BatchGeometry } from './batch.js';

export interface WorkerInit {
  images: Uint8Array;
  labels: Int32Array;
  geometry: BatchGeometry;
  /** Test hooks: fail (reported) or crash (uncaught) when preparing that batch index. */
  debug?: { failAtBatch?: number; crashAtBatch?: number };
}

export type ToWorker =
  | { type: 'epoch'; id: number; order: Uint32Array; batchSize: number; start: number; end: number; credits: number }
  | { type: 'ack'; id: number }
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'batch'; id: number; index: number; n: number; x: Float32Array; labels: Int32Array; threadId: number }
  | { type: 'error'; id: number; index: number; name: string; message: string; stack?: string; code?: string };

interface Job {
  id: number;
  order: Uint32Array;
  batchSize: number;
  next: number;
  end: number;
  credits: number;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const g = init.geometry;
const sampleOut = g.channels * g.outHeight * g.outWidth;
let job: Job | null = null;
let scheduled = false;

function schedule(): void {
  if (scheduled || !job || job.credits <= 0 || job.next >= job.end) return;
  scheduled = true;
  setImmediate(step);
}

function step(): void {
  scheduled = false;
  const j = job;
  if (!j || j.credits <= 0 || j.next >= j.end) return;
  const index = j.next;
  if (init.debug?.crashAtBatch === index) throw new Error(`debug crash while preparing batch ${index}`);
  try {
    if (init.debug?.failAtBatch === index) throw new RangeError(`debug failure while preparing batch ${index}`);
    const begin = index * j.batchSize;
    const end = Math.min(begin + j.batchSize, j.order.length);
    const n = end - begin;
    const x = new Float32Array(n * sampleOut);
    const labels = new Int32Array(n);
    fillBatch(g, init.images, init.labels, j.order, begin, end, x, labels);
    j.next++;
    j.credits--;
    const msg: FromWorker = { type: 'batch', id: j.id, index, n, x, labels, threadId };
    port.postMessage(msg, [x.buffer, labels.buffer]);
  } catch (e) {
    const err = e as Error & { code?: string };
    const msg: FromWorker = {
      type: 'error',
      id: j.id,
      index,
      name: err?.name ?? 'Error',
      message: String(err?.message ?? e),
      stack: err?.stack,
      code: err?.code,
    };
    port.postMessage(msg);
    job = null;
    return;
  }
  schedule();
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'epoch') {
    job = { id: m.id, order: m.order, batchSize: m.batchSize, next: m.start, end: m.end, credits: m.credits };
  } else if (m.type === 'ack') {
    if (job && job.id === m.id) job.credits++;
  } else if (m.type === 'cancel') {
    if (job && job.id === m.id) job = null;
  }
  schedule();
});
