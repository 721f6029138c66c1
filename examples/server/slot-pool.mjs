// Fixed-size slots in SharedArrayBuffer chunks, reused from request to request: an image's
// encoded body is read into its slot, a decode worker replaces it there with the float input,
// and the session reads it in place (the executor gathers it into the batch). The HTTP thread then allocates no
// ArrayBuffer per request for them. Why it matters: every ArrayBuffer a V8 isolate allocates
// counts as external memory until a GC sweeps it, and each 64 MB of that starts a Mark-Compact;
// at 1,000 queued AlexNet requests the per-request buffers were most of the server's GCs
// (bench/RESULTS.md). Chunks are made as slots run out (64 slots each, up to maxSlots) and kept;
// each new chunk is announced to the workers once (onChunk), so a request's message carries
// only a chunk number and an offset, never the buffer itself.
export class SlotPool {
  #free = [];
  #chunks = [];
  #inUse = 0;

  constructor({ slotBytes, maxSlots, slotsPerChunk = 64, onChunk = () => {} }) {
    if (!(Number.isSafeInteger(slotBytes) && slotBytes > 0))
      throw new RangeError(`SlotPool: slotBytes must be a positive integer, got ${slotBytes}`);
    this.slotBytes = slotBytes;
    this.maxSlots = maxSlots;
    this.slotsPerChunk = slotsPerChunk;
    this.onChunk = onChunk;
  }

  get inUse() {
    return this.#inUse;
  }

  get chunks() {
    return this.#chunks.length;
  }

  /**
   * Makes chunks for at least n slots now and touches their pages: a fresh SharedArrayBuffer's
   * pages are mapped on first write, and under load those faults (the kernel zeroing each page)
   * were a large part of the event-loop stall when 500 new connections arrived (perf). At
   * start-up they cost the same, once, with nobody waiting.
   */
  reserve(n) {
    const before = this.#chunks.length;
    while (this.#chunks.length * this.slotsPerChunk < Math.min(n, this.maxSlots) && this.#grow());
    for (const sab of this.#chunks.slice(before)) new Uint8Array(sab).fill(0);
  }

  /** A free slot { chunk, offset, bytes (a Uint8Array over it), release() }, or null when all maxSlots are taken. */
  acquire() {
    if (this.#free.length === 0 && !this.#grow()) return null;
    const slot = this.#free.pop();
    this.#inUse++;
    let released = false;
    return {
      ...slot,
      release: () => {
        if (released) return;
        released = true;
        this.#inUse--;
        this.#free.push(slot);
      },
    };
  }

  #grow() {
    const made = this.#chunks.length * this.slotsPerChunk;
    const n = Math.min(this.slotsPerChunk, this.maxSlots - made);
    if (n <= 0) return false;
    const sab = new SharedArrayBuffer(n * this.slotBytes);
    const chunk = this.#chunks.length;
    this.#chunks.push(sab);
    this.onChunk(chunk, sab);
    // Pushed in reverse so that pop() hands out low offsets first.
    for (let i = n - 1; i >= 0; i--)
      this.#free.push({ chunk, offset: i * this.slotBytes, bytes: new Uint8Array(sab, i * this.slotBytes, this.slotBytes) });
    return true;
  }
}
