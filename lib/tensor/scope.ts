/**
 * tidy(fn): every tensor created while fn runs is disposed when it returns, except the tensors
 * it returns (found in a returned Tensor, array or plain object) and those passed to keep().
 * Synchronous on purpose: an async body would interleave with other callers' tensors.
 */
export interface Disposable {
  dispose(): void;
}

const scopes: Array<Set<Disposable>> = [];
const kept = new WeakSet<Disposable>();

/** @internal Called by every new Tensor. */
export function track(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

/** Marks t to survive the enclosing tidy() scopes. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  return t;
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (typeof (value as Disposable).dispose === 'function' && 'shape' in (value as object)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value as object)) collect(v, out, depth + 1);
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) if (!kept.has(t)) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) if (!kept.has(t)) t.dispose();
    throw new TypeError('tidy: fn must be synchronous (it returned a Promise)');
  }
  const keepers = new Set<unknown>();
  collect(result, keepers);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keepers.has(t) || kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
