/**
 * Finite-difference gradient checks. The loss is L = sum(f(x) * g) for a fixed random g, so
 * dL/dx = backward(g); central differences in float64 around the float32 inputs need a
 * float64 forward, so callers pass the float64 reference forward, and the check compares the
 * *kernel's* backward against the numeric gradient of that reference.
 */
export function numericGrad(forward64: (x: Float64Array) => Float64Array, x: Float64Array, g: Float64Array, eps = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const orig = xp[i];
    xp[i] = orig + eps;
    const yp = forward64(xp);
    xp[i] = orig - eps;
    const ym = forward64(xp);
    xp[i] = orig;
    let d = 0;
    for (let j = 0; j < g.length; j++) d += g[j] * (yp[j] - ym[j]);
    grad[i] = d / (2 * eps);
  }
  return grad;
}
