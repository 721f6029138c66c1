/**
 * A SessionPool worker: one InferenceSession (its own device stream) in a worker thread or a
 * child process. It answers run/cancel/stats/close messages; batching happens here, in the
 * worker, over the requests the pool sent it.
 */
import { parentPort } from 'node:worker_threads';
import { errorData } from './errors.js';
import { InferenceSession } from './inference-session.js';
import type { DeviceName } from '../tensor/device.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

const viaThread = parentPort !== null;

function send(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  if (viaThread) parentPort!.postMessage(m, transfer);
  else process.send!(m);
}

let session: InferenceSession | null = null;
const inFlight = new Map<number, AbortController>();

async function onMessage(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init':
      try {
        session = await InferenceSession.create(m.init.weights, { ...m.init.options, device: m.init.device as DeviceName });
        send({ type: 'ready', inputShape: [...session.inputShape], batchSizes: [...session.preparedBatchSizes] });
      } catch (e) {
        send({ type: 'init-failed', error: errorData(e) });
      }
      return;
    case 'run': {
      const ac = new AbortController();
      inFlight.set(m.id, ac);
      try {
        const y = await session!.run(m.x, { signal: ac.signal });
        send({ type: 'done', id: m.id, y }, [y.buffer as ArrayBuffer]);
      } catch (e) {
        send({ type: 'fail', id: m.id, error: errorData(e) });
      } finally {
        inFlight.delete(m.id);
      }
      return;
    }
    case 'cancel':
      inFlight.get(m.id)?.abort();
      return;
    case 'stats':
      send({ type: 'stats', id: m.id, stats: session!.stats() });
      return;
    case 'close':
      await session?.close();
      send({ type: 'closed' });
      if (viaThread) parentPort!.close();
      else process.disconnect();
      return;
  }
}

if (viaThread) parentPort!.on('message', (m: ToWorker) => void onMessage(m));
else process.on('message', (m: ToWorker) => void onMessage(m));
