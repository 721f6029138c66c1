/**
 * Seeds for Philox streams. An explicit seed gives a stream that depends on nothing else; without
 * one, draws come from the global seed (manualSeed) and a counter, so a program that sets one
 * seed is reproducible end to end, on any device.
 */
let globalSeed = 0x5eed;
let nextOffset = 0;

export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`manualSeed: seed must be a non-negative safe integer, got ${seed}`);
  globalSeed = seed;
  nextOffset = 0;
}

/** The (seed, offset) pair of the next random fill. An explicit seed starts at offset 0. */
export function nextStream(seed?: number): { seed: number; offset: number } {
  if (seed !== undefined) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`seed must be a non-negative safe integer, got ${seed}`);
    return { seed, offset: 0 };
  }
  return { seed: globalSeed, offset: nextOffset++ };
}
