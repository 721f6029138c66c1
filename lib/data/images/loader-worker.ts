/**
 * An image loader worker: prepares the batches the main thread assigns to it, one at a time in
 * the order assigned, and transfers each back. Decoded images come back too (they live in
 * SharedArrayBuffers) so that the main thread can cache them for every worker.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { prepareBatch, type BatchJob } from './batch.js';
import type { TransformSpec } from './transform.js';

export interface ImageWorkerInit {
  spec: TransformSpec;
}

export type ToImageWorker = { type: 'batch'; id: number; index: number; job: BatchJob } | { type: 'cancel'; id: number };

export type FromImageWorker =
  | {
      type: 'batch';
      id: number;
      index: number;
      x: Float32Array;
      labels: Int32Array;
      ids: Int32Array;
      decoded: [number, Uint8Array][];
      threadId: number;
    }
  | { type: 'error'; id: number; index: number; name: string; message: string; stack?: string; code?: string };

const { spec } = workerData as ImageWorkerInit;
const port = parentPort!;
const queue: (ToImageWorker & { type: 'batch' })[] = [];
let busy = false;

async function drain(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    for (let m = queue.shift(); m; m = queue.shift()) {
      try {
        const b = await prepareBatch(spec, m.job);
        // Without a cache (share false) the decoded pixels are not wanted back: do not copy them.
        const decoded = m.job.share ? b.decoded : [];
        const msg: FromImageWorker = {
          type: 'batch',
          id: m.id,
          index: m.index,
          x: b.x,
          labels: b.labels,
          ids: m.job.ids,
          decoded,
          threadId,
        };
        port.postMessage(msg, [b.x.buffer as ArrayBuffer]);
      } catch (e) {
        const err = e as Error & { code?: string };
        const msg: FromImageWorker = {
          type: 'error',
          id: m.id,
          index: m.index,
          name: err?.name ?? 'Error',
          message: String(err?.message ?? e),
          stack: err?.stack,
          code: err?.code,
        };
        port.postMessage(msg);
      }
    }
  } finally {
    busy = false;
  }
}

port.on('message', (m: ToImageWorker) => {
  if (m.type === 'batch') {
    queue.push(m);
    void drain();
  } else {
    // Batches of a cancelled epoch that have not started are dropped; the main thread ignores late ones.
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.id === m.id) queue.splice(i, 1);
  }
});
