/**
 * Finding and loading the Gloo shim (convkit_gloo.so, native/comm/gloo_shim/) for process groups
 * on CPUs. The shim is built only where Debian's libgloo-dev was installed at build time, and
 * loaded at run time, so convkit works without it and glooStatus() says why Gloo is unusable:
 * the shim was not built (no headers), or it did not load (the path and dlerror).
 *
 * Where it is looked for: CONVKIT_GLOO_SHIM (a path; then nothing else), build/Release (compiled
 * here by node-gyp), prebuilds/<platform>-<arch>/ (shipped beside the CPU addon).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../native.js';

export const GLOO_SHIM = 'convkit_gloo.so';

export interface GlooStatus {
  available: boolean;
  /** The shim's file, once one was found. */
  path?: string;
  /** Gloo's version and transport, when loaded. */
  version?: string;
  /** Why Gloo is unusable. */
  reason?: string;
  /** Every path looked at. */
  searched: string[];
}

const root = process.env.CONVKIT_TEST_PACKAGE_ROOT || join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function candidates(): string[] {
  const forced = process.env.CONVKIT_GLOO_SHIM;
  if (forced) return [forced];
  return [join(root, 'build', 'Release', GLOO_SHIM), join(root, 'prebuilds', `${process.platform}-${process.arch}`, GLOO_SHIM)];
}

let cached: GlooStatus | null = null;

/** Loads the shim on first call (later calls report the same outcome: a shim loads once per process). */
export function glooStatus(): GlooStatus {
  if (cached) return cached;
  const searched = candidates();
  const path = searched.find((p) => existsSync(p));
  if (!path) {
    cached = {
      available: false,
      searched,
      reason: process.env.CONVKIT_GLOO_SHIM
        ? `CONVKIT_GLOO_SHIM=${process.env.CONVKIT_GLOO_SHIM} does not exist`
        : `${GLOO_SHIM} was not built: Gloo's headers were absent when convkit was compiled (install Debian's libgloo-dev and rebuild: npx node-gyp rebuild); looked in ${searched.join(', ')}`,
    };
    return cached;
  }
  const r = native.glooLoad(path);
  cached = r.loaded
    ? { available: true, path: r.path, version: r.version, searched }
    : { available: false, path: r.path, reason: r.reason ?? `${path} did not load`, searched };
  return cached;
}
