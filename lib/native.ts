/**
 * The only place that loads a .node file. Declares the typed interface of the binding; the rest
 * of lib/ imports it from here. Which file is loaded, in which order, and the message when none
 * loads: lib/native-loader.ts.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaAbsentReason } from './cuda-absent.js';
import { loadAddon, type AddonKind, type Attempt } from './native-loader.js';

// The binding's typed description lives in lib/native/ (one file per part); this file re-exports
// it so that the rest of lib/ imports the binding and its types from one place.
import type { NativeBinding } from './native/binding.js';

export type { NativeBinding } from './native/binding.js';
export { BINDING_NAMES, type BindingBuilds } from './native/binding.js';
export type * from './native/types.js';
export type * from './native/core.js';
export type * from './native/kernels.js';
export type * from './native/comm.js';
export type * from './native/cuda.js';
export type * from './native/gloo.js';

// The package folder (dist/..). CONVKIT_TEST_PACKAGE_ROOT is for tests only: it points the loader
// at another folder (an empty one shows the "nothing loads" message).
const root = process.env.CONVKIT_TEST_PACKAGE_ROOT || join(dirname(fileURLToPath(import.meta.url)), '..');
const loaded = loadAddon(root);

export const native: NativeBinding = loaded.binding as NativeBinding;

/** Which binary is loaded and every candidate the loader looked at (backends() reports them). */
export const addonInfo: { path: string; kind: AddonKind; attempts: readonly Attempt[] } = {
  path: loaded.path,
  kind: loaded.kind,
  attempts: loaded.attempts,
};

/** The candidates passed over, one line each ("path: outcome (why)"); kept for older callers. */
export const loadNotes: string[] = loaded.attempts
  .filter((a) => a.outcome === 'skipped' || a.outcome === 'failed')
  .map((a) => `${a.path}: ${a.outcome}${a.why ? ` (${a.why})` : ''}`);

/** Why the loaded binary has no CUDA backend (lib/cuda-absent.ts); empty for a CUDA build. */
export function cpuOnlyReason(): string {
  return native.build.cuda ? '' : cudaAbsentReason(loaded, root);
}
