/**
 * One batch of images: decode what the cache lacks (several files at once; sharp works on
 * libuv's pool), then crop, flip, light, subtract the mean and convert to float32 CHW. Runs on
 * the loader's workers, and on the calling thread when the loader has no workers.
 */
import { decodeImage } from './decode.js';
import { placement, SIDE, writeInput, type TransformSpec } from './transform.js';

export interface BatchJob {
  epoch: number;
  /** Dataset indices of the batch's images, in batch order. */
  ids: Int32Array;
  paths: string[];
  labels: Int32Array;
  /** A decoded image per position from the cache, or null to decode. */
  cached: (Uint8Array | null)[];
  /** Decode into SharedArrayBuffers, so the results can be cached and shared. */
  share: boolean;
}

export interface PreparedBatch {
  x: Float32Array;
  labels: Int32Array;
  /** The images decoded for this batch: [dataset index, pixels]. */
  decoded: [number, Uint8Array][];
}

/** Files decoded at once per batch: enough to keep libuv's pool (where sharp works) busy. */
const DECODE_CONCURRENCY = Math.max(4, Number(process.env.UV_THREADPOOL_SIZE) || 4);
const IMAGE_BYTES = SIDE * SIDE * 3;

async function decodeMissing(job: BatchJob): Promise<(Uint8Array | null)[]> {
  const images = job.cached.slice();
  const todo = images.flatMap((v, i) => (v ? [] : [i]));
  const errors = new Map<number, unknown>();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < todo.length) {
      const i = todo[next++]!;
      if (errors.size > 0) return; // the batch fails anyway
      try {
        images[i] = await decodeImage(
          job.paths[i]!,
          new Uint8Array(job.share ? new SharedArrayBuffer(IMAGE_BYTES) : new ArrayBuffer(IMAGE_BYTES)),
        );
      } catch (e) {
        errors.set(i, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, todo.length) }, lane));
  // The earliest bad image in batch order, whatever finished first.
  if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
  return images;
}

export async function prepareBatch(spec: TransformSpec, job: BatchJob): Promise<PreparedBatch> {
  const images = await decodeMissing(job);
  const n = job.ids.length;
  const per = 3 * spec.crop * spec.crop;
  const x = new Float32Array(n * per);
  const decoded: [number, Uint8Array][] = [];
  for (let i = 0; i < n; i++) {
    const id = job.ids[i]!;
    writeInput(spec, images[i]!, placement(spec, job.epoch, id), x, i * per);
    if (!job.cached[i]) decoded.push([id, images[i]!]);
  }
  return { x, labels: job.labels.slice(), decoded };
}
