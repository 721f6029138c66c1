/**
 * The only place that loads a .node file. Declares the typed interface of the binding; the rest
 * of lib/ imports it from here. Loading tries, in order: CONVKIT_ADDON (a path), the CUDA build
 * (unless CONVKIT_NO_CUDA is set or a native source is newer than it), then the CPU build
 * (build/Release or prebuilds/ through node-gyp-build), and reports every failure in one message.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The binding's typed description lives in lib/native/ (one file per part); this file re-exports
// it so that the rest of lib/ imports the binding and its types from one place.
import type { NativeBinding } from './native/binding.js';

export type { NativeBinding } from './native/binding.js';
export { BINDING_NAMES, type BindingBuilds } from './native/binding.js';
export type * from './native/types.js';
export type * from './native/core.js';
export type * from './native/kernels.js';
export type * from './native/cuda.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);

/** Why the CUDA build was passed over (stale, disabled, failed to load); read by backends(). */
export const loadNotes: string[] = [];

/** Newest modification time (ms) of the native sources next to this package, 0 if none. */
function newestNativeSource(): number {
  let newest = 0;
  for (const dir of ['core', 'cpu', 'napi', 'cuda']) {
    let names: string[];
    try {
      names = readdirSync(join(root, 'native', dir));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!/\.(cc|h|cu)$/.test(name)) continue;
      try {
        newest = Math.max(newest, statSync(join(root, 'native', dir, name)).mtimeMs);
      } catch {
        // removed while we looked: it cannot be newer than the build
      }
    }
  }
  return newest;
}

/**
 * The CUDA build is dated from the start of its build (scripts/build-cuda.mjs): a native source
 * edited since then means it was compiled from older code than the CPU build may hold, so it is
 * skipped with a note instead of silently shadowing the fresh CPU build.
 */
function cudaBuildCandidate(): string | null {
  const cudaBuild = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
  if (!existsSync(cudaBuild)) return null;
  if (process.env.CONVKIT_NO_CUDA) {
    loadNotes.push(`${cudaBuild} skipped: CONVKIT_NO_CUDA is set`);
    return null;
  }
  const built = statSync(cudaBuild).mtimeMs;
  if (newestNativeSource() > built) {
    loadNotes.push(`${cudaBuild} skipped: native sources changed after it was built (rebuild: node scripts/build-cuda.mjs)`);
    return null;
  }
  return cudaBuild;
}

function load(): NativeBinding {
  const tried: string[] = [];
  const candidates: Array<[string, () => unknown]> = [];
  const explicit = process.env.CONVKIT_ADDON;
  if (explicit) candidates.push([`CONVKIT_ADDON=${explicit}`, () => require(explicit)]);
  const cudaBuild = cudaBuildCandidate();
  if (cudaBuild) candidates.push([cudaBuild, () => require(cudaBuild)]);
  candidates.push([`node-gyp-build(${root})`, () => (require('node-gyp-build') as (dir: string) => unknown)(root)]);
  for (const [where, fn] of candidates) {
    try {
      return fn() as NativeBinding;
    } catch (err) {
      const line = `  ${where}: ${(err as Error).message.split('\n')[0]}`;
      tried.push(line);
      loadNotes.push(line.trim());
    }
  }
  const e = new Error(
    `convkit: could not load the native addon. Tried:\n${tried.join('\n')}\n` +
      'Run `npm ci` (or `npm run build:native`) to build it.',
  );
  (e as Error & { code: string }).code = 'ND_INTERNAL';
  throw e;
}

export const native: NativeBinding = load();
