/**
 * A least-recently-used cache of decoded images with a byte cap. The loader keeps it on the
 * main thread; its values are views over SharedArrayBuffers, so handing a cached image to a
 * worker copies nothing and every worker sees every cached image.
 */
export class ByteLru<K, V extends { byteLength: number }> {
  readonly capacity: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  readonly #map = new Map<K, V>();

  constructor(capacityBytes: number) {
    this.capacity = capacityBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get stats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Inserts (or refreshes) `key`, evicting the least recently used until it fits; a value larger than the cap is not kept. */
  set(key: K, value: V): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#map.delete(key);
      this.#bytes -= old.byteLength;
    }
    if (value.byteLength > this.capacity) return;
    for (const [k, v] of this.#map) {
      if (this.#bytes + value.byteLength <= this.capacity) break;
      this.#map.delete(k);
      this.#bytes -= v.byteLength;
    }
    this.#map.set(key, value);
    this.#bytes += value.byteLength;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
