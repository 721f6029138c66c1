/**
 * The sample order of one epoch: a Fisher-Yates shuffle driven by a small seeded PRNG of its
 * own (sfc32), seeded from (seed, epoch) so that an epoch's order can be recomputed anywhere,
 * which is what lets a resumed run continue at the same batch with the same order.
 */

/** splitmix32-style integer hash: decorrelates nearby seeds and epochs (and image indices). */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}

/** sfc32 seeded from four words; returns uniform integers in [0, 2^32). */
export function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
}

/** A PRNG for (seed, epoch): seed is any safe integer, epoch a non-negative integer. */
export function epochRandom(seed: number, epoch: number): () => number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const e = epoch >>> 0;
  const next = sfc32(mix32(lo ^ 0x9e3779b9), mix32(hi + 0x7f4a7c15), mix32(e ^ 0x85ebca6b), mix32(lo + e * 0x27d4eb2f + 1));
  for (let i = 0; i < 12; i++) next(); // discard the warm-up outputs
  return next;
}

/** Uniform integer in [0, n) without modulo bias (rejection sampling). */
function below(next: () => number, n: number): number {
  const limit = 4294967296 - (4294967296 % n);
  for (;;) {
    const v = next();
    if (v < limit) return v % n;
  }
}

/** The sample order for `epoch`: a permutation of 0..count-1, or the identity when !shuffle. */
export function epochOrder(count: number, seed: number, epoch: number, shuffle = true): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (!shuffle) return order;
  const next = epochRandom(seed, epoch);
  for (let i = count - 1; i > 0; i--) {
    const j = below(next, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
