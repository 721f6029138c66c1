/** Comparing a kernel's float32 output with a float64 reference. */
export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/**
 * Returns null when every |actual - expected| <= atol + rtol * |expected|, else a message naming
 * the first bad index, both values and the worst error (so a failing test says where).
 */
export function mismatch(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}): string | null {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let worst = 0;
  let worstAt = -1;
  let firstBad = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = Math.abs(a - e);
    const ok = err <= atol + rtol * Math.abs(e) || (Number.isNaN(a) && Number.isNaN(e));
    if (!ok || Number.isNaN(err)) {
      if (firstBad < 0) firstBad = i;
      if (!(err <= worst)) {
        worst = err;
        worstAt = i;
      }
    }
  }
  if (firstBad < 0) return null;
  return `first mismatch at ${firstBad}: got ${actual[firstBad]}, expected ${expected[firstBad]}; worst at ${worstAt}: ${actual[worstAt]} vs ${expected[worstAt]} (rtol ${rtol}, atol ${atol})`;
}

/** Largest |a - b| / max(1, |b|). */
export function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < actual.length; i++) m = Math.max(m, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  return m;
}

/**
 * The largest |a - b| over every tensor of two state dicts (same names and sizes), and where it
 * is ("name[i]"): what the data-parallel equivalence tests compare against 1e-5.
 */
export function stateGap(
  a: Record<string, { data: ArrayLike<number> }>,
  b: Record<string, { data: ArrayLike<number> }>,
): { worst: number; where: string } {
  let worst = 0;
  let where = '-';
  for (const [name, v] of Object.entries(a)) {
    const w = b[name].data;
    for (let i = 0; i < v.data.length; i++) {
      const d = Math.abs(v.data[i] - w[i]);
      if (!(d <= worst)) [worst, where] = [d, `${name}[${i}]`];
    }
  }
  return { worst, where };
}
