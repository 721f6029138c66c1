// Image decoding on worker threads, as convkit's image loader does: the HTTP thread only
// hands bytes over and gets the model's float input back (imageToPixels, then writePixels, on
// the worker), so neither decoding nor normalising ever delays the event loop.
// Bounded: past `maxPending` images waiting, decode() rejects with code 'BUSY' (a 503).
// With a slot (slotFor), the body and then the floats live in shared memory reused from request
// to request (slot-pool.mjs), so the HTTP thread allocates no buffer per image.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { pixelLength } from 'convkit';
import sharp from 'sharp';
import { SlotPool } from './slot-pool.mjs';

export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** A slot holds at least this much, so that most JPEG bodies are read into it (the samples average 120 KB). */
const BODY_SLOT_BYTES = 256 << 10;

/** Bytes of one `shape` float input, or null when images do not map to it (a DecodeError later). */
function inputBytesOf(shape) {
  try {
    pixelLength(shape); // throws for shapes images do not map to
    return 4 * shape.reduce((a, b) => a * b, 1);
  } catch {
    return null;
  }
}

export class DecodePool {
  #workers = [];
  #pending = new Map();
  #nextId = 1;
  /** One SlotPool per input size (one per model input shape). */
  #slots = new Map();

  constructor({ workers = Math.max(1, Math.min(4, os.availableParallelism() - 1)), maxPending = 2048, maxSlots = maxPending } = {}) {
    // sharp's shared libraries must be loaded on the main thread first (sharp's notes on worker
    // threads, glibc): the static import above does that.
    void sharp;
    this.maxPending = maxPending;
    this.maxSlots = maxSlots;
    for (let i = 0; i < workers; i++) {
      const w = new Worker(new URL('./decode-worker.mjs', import.meta.url));
      w.load = 0;
      w.on('message', (m) => this.#done(w, m));
      w.on('error', (e) => this.#fail(w, e));
      w.unref();
      this.#workers.push(w);
    }
  }

  get pending() {
    return this.#pending.size;
  }

  /**
   * A shared slot for one image of `shape`'s input ({ bytes, release() }; release it once the
   * session has answered), or null when all are taken (decode() then uses fresh buffers).
   */
  slotFor(shape) {
    return this.#poolFor(shape)?.acquire() ?? null;
  }

  /** Makes and touches `n` slots for `shape` now, at start-up (SlotPool.reserve). */
  reserve(shape, n) {
    this.#poolFor(shape)?.reserve(n);
  }

  #poolFor(shape) {
    const size = inputBytesOf(shape);
    if (size === null) return null;
    let pool = this.#slots.get(size);
    if (!pool) {
      pool = new SlotPool({
        // Room for a typical photo's body too (LeNet-5's 3 KiB input would fit no JPEG): bodies
        // are most of what is left to allocate per request.
        slotBytes: Math.max(size, BODY_SLOT_BYTES),
        maxSlots: this.maxSlots,
        // Each worker is sent a chunk once; a request's message names only its place in it.
        onChunk: (chunk, sab) => {
          for (const w of this.#workers) w.postMessage({ chunkOf: size, chunk, sab });
        },
      });
      this.#slots.set(size, pool);
    }
    return pool;
  }

  /**
   * The float input (Float32Array, writePixels of imageToPixels) of a `shape` ([C, H, W]) model
   * from JPEG/PNG bytes; rejects DecodeError if undecodable. With `slot`, `bytes` may be a view
   * of the slot (the body read into it) and the floats are written there; the answer is then a
   * view of the slot, valid until the slot is released.
   */
  decode(bytes, shape, slot = null) {
    if (this.#pending.size >= this.maxPending) return Promise.reject(Object.assign(new Error('decode queue full'), { code: 'BUSY' }));
    const size = inputBytesOf(shape);
    if (size === null) return Promise.reject(new DecodeError(`images map to [1, H, W] or [3, S, S] inputs, not [${shape.join(', ')}]`));
    const w = this.#workers.reduce((a, b) => (b.load < a.load ? b : a));
    const id = this.#nextId++;
    const inSlot = slot !== null && bytes.buffer === slot.bytes.buffer;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, w, slot, size });
      w.load++;
      const where = slot ? { size, chunk: slot.chunk, offset: slot.offset } : null;
      if (inSlot) w.postMessage({ id, slot: where, bodyLength: bytes.length, shape });
      else w.postMessage({ id, slot: where, bytes, shape }, [bytes.buffer]);
    });
  }

  #done(w, m) {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    w.load--;
    if (m.error) p.reject(new DecodeError(m.error));
    else p.resolve(p.slot ? new Float32Array(p.slot.bytes.buffer, p.slot.bytes.byteOffset, p.size / 4) : m.x);
  }

  #fail(w, e) {
    for (const [id, p] of this.#pending)
      if (p.w === w) {
        this.#pending.delete(id);
        p.reject(e);
      }
  }

  async close() {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
