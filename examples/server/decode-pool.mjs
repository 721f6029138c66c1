// Image decoding on worker threads, as convkit's image loader does: the HTTP thread only
// hands bytes over and gets the decoded pixels back (imageToPixels: a Uint8Array), so decoding
// never delays the event loop.
// Bounded: past `maxPending` images waiting, decode() rejects with code 'BUSY' (a 503).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';

export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class DecodePool {
  #workers = [];
  #pending = new Map();
  #nextId = 1;

  constructor({ workers = Math.max(1, Math.min(4, os.availableParallelism() - 1)), maxPending = 2048 } = {}) {
    // sharp's shared libraries must be loaded on the main thread first (sharp's notes on worker
    // threads, glibc): the static import above does that.
    void sharp;
    this.maxPending = maxPending;
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

  /** The pixels (Uint8Array, imageToPixels) of a `shape` ([C, H, W]) input from JPEG/PNG bytes; rejects DecodeError if undecodable. */
  decode(bytes, shape) {
    if (this.#pending.size >= this.maxPending) return Promise.reject(Object.assign(new Error('decode queue full'), { code: 'BUSY' }));
    const w = this.#workers.reduce((a, b) => (b.load < a.load ? b : a));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, w });
      w.load++;
      w.postMessage({ id, bytes, shape }, [bytes.buffer]);
    });
  }

  #done(w, m) {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    w.load--;
    if (m.error) p.reject(new DecodeError(m.error));
    else p.resolve(m.pixels);
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
