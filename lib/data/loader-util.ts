/** Helpers shared by the MNIST DataLoader and the image loader. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../errors.js';

/**
 * The worker script `name` beside the module at `moduleUrl`: from dist/ the compiled .js sits
 * there; from lib/ under a TypeScript loader (tap's, inherited by workers through execArgv)
 * only the .ts does.
 */
export function siblingWorkerUrl(moduleUrl: string, name: string): URL {
  const js = new URL(`./${name}.js`, moduleUrl);
  return existsSync(fileURLToPath(js)) ? js : new URL(`./${name}.ts`, moduleUrl);
}

/** An optional integer option in [min, max], or `fallback` when absent. */
export function optInt(op: string, name: string, v: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw new ArgumentError(
      `${op}: '${name}' must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}], got ${String(v)}`,
    );
  return v;
}
