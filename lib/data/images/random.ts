/**
 * The random stream of one image in one epoch. It is keyed by (seed, epoch, image index) rather
 * than drawn from a shared stream, so an image's crop, flip and lighting do not depend on which
 * worker prepares it, on the batch size, or on where a resumed run starts.
 */
import { mix32, sfc32 } from '../shuffle.js';

/** Uniform floats in [0, 1) for (seed, epoch, index); seed is any safe integer. */
export function imageRandom(seed: number, epoch: number, index: number): () => number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  // sfc32, 53-bit floats from two outputs.
  const word = sfc32(
    mix32(lo ^ 0x3c6ef372),
    mix32((hi + 0x1b873593) ^ mix32(epoch >>> 0)),
    mix32((index >>> 0) ^ 0xa54ff53a),
    mix32(Math.floor(index / 4294967296) + Math.imul(epoch >>> 0, 0x27d4eb2f) + 1),
  );
  for (let i = 0; i < 12; i++) word();
  return () => ((word() >>> 5) * 67108864 + (word() >>> 6)) / 9007199254740992;
}

/** A standard normal draw (Box-Muller; one of the pair is discarded to keep draws independent of call order). */
export function normal(next: () => number): number {
  const u = 1 - next(); // (0, 1]: log stays finite
  const v = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
