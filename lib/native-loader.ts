/**
 * Finds and loads the addon (.node) for lib/native.ts, and when none loads, says exactly what was
 * tried and the command that fixes it. Order, first that loads wins:
 *   1. $CONVKIT_ADDON, an explicit path: if it does not load, that is the error (no fallback, so a
 *      typo never silently runs another build);
 *   2. the local CUDA build build-cuda/Release/convkit_cuda.node (scripts/build-cuda.mjs), unless
 *      CONVKIT_NO_CUDA is set or a native source is newer than it (stale);
 *   3. the shipped CUDA build prebuilds/<platform>-<arch>/convkit.cuda.node, unless CONVKIT_NO_CUDA
 *      is set or a local CPU build exists (a local build always wins over a prebuild, as in
 *      node-gyp-build);
 *   4. the CPU build through node-gyp-build: build/Release/*.node, then the best match in
 *      prebuilds/<platform>-<arch>/ (convkit.napi.node: prebuildify's build, renamed by
 *      scripts/prebuild.mjs to carry the napi tag).
 * The CUDA prebuild is named convkit.cuda.node on purpose: node-gyp-build ignores the unknown
 * `cuda` tag, so the file counts as less specific than convkit.napi.node and node-gyp-build's own
 * pick in step 4 is always the CPU binary.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { ConvkitError } from './errors.js';

const require = createRequire(import.meta.url);

/** Which binary was loaded, for backends() and the install script's line. */
export type AddonKind = 'explicit' | 'cuda-build' | 'cuda-prebuild' | 'cpu-build' | 'cpu-prebuild';

/** What happened to one candidate the loader looked at. */
export interface Attempt {
  path: string;
  cuda: boolean;
  outcome: 'loaded' | 'missing' | 'skipped' | 'failed';
  why?: string;
}

export interface LoadResult {
  binding: unknown;
  path: string;
  kind: AddonKind;
  /** Every candidate looked at, in order, including the one that loaded. */
  attempts: Attempt[];
}

/** The file names in prebuilds/<platform>-<arch>/ (see the header for why these two). */
export const CPU_PREBUILD = 'convkit.napi.node';
export const CUDA_PREBUILD = 'convkit.cuda.node';

export function prebuildDir(root: string): string {
  return join(root, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** True when this copy of convkit sits inside someone's node_modules (a dependency, not a clone). */
export function isDependency(root: string): boolean {
  return root.split(sep).includes('node_modules');
}

/** Newest modification time (ms) of the native sources next to this package, 0 if none. */
function newestNativeSource(root: string): number {
  let newest = 0;
  for (const dir of ['core', 'cpu', 'comm', 'napi', 'cuda']) {
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

function localCpuBuild(root: string): string | null {
  for (const d of ['Release', 'Debug']) {
    const dir = join(root, 'build', d);
    const hit = listing(dir).find((n) => n.endsWith('.node'));
    if (hit) return join(dir, hit);
  }
  return null;
}

function listing(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/** Loads the addon from `root` (the package folder) or throws a coded error listing every attempt. */
export function loadAddon(root: string): LoadResult {
  const attempts: Attempt[] = [];
  const noCuda = !!process.env.CONVKIT_NO_CUDA;

  const explicit = process.env.CONVKIT_ADDON;
  if (explicit) {
    try {
      const binding = require(explicit);
      attempts.push({ path: explicit, cuda: false, outcome: 'loaded' });
      return { binding, path: explicit, kind: 'explicit', attempts };
    } catch (err) {
      attempts.push({ path: explicit, cuda: false, outcome: 'failed', why: firstLine(err) });
      throw loadError(root, attempts, `CONVKIT_ADDON is set, so nothing else was tried; unset it or point it at a .node file`);
    }
  }

  const tryLoad = (path: string, cuda: boolean): unknown => {
    try {
      const binding = require(path);
      attempts.push({ path, cuda, outcome: 'loaded' });
      return binding;
    } catch (err) {
      attempts.push({ path, cuda, outcome: 'failed', why: firstLine(err) });
      return undefined;
    }
  };

  const cudaBuild = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
  if (!existsSync(cudaBuild)) attempts.push({ path: cudaBuild, cuda: true, outcome: 'missing' });
  else if (noCuda) attempts.push({ path: cudaBuild, cuda: true, outcome: 'skipped', why: 'CONVKIT_NO_CUDA is set' });
  else if (newestNativeSource(root) > statSync(cudaBuild).mtimeMs)
    // Dated from the start of its build (scripts/build-cuda.mjs): a source edited since would make
    // it shadow a fresher CPU build with older code.
    attempts.push({
      path: cudaBuild,
      cuda: true,
      outcome: 'skipped',
      why: 'native sources changed after it was built (rebuild: npm run build:cuda)',
    });
  else {
    const binding = tryLoad(cudaBuild, true);
    if (binding) return { binding, path: cudaBuild, kind: 'cuda-build', attempts };
  }

  const cudaPrebuild = join(prebuildDir(root), CUDA_PREBUILD);
  const localCpu = localCpuBuild(root);
  if (!existsSync(cudaPrebuild)) attempts.push({ path: cudaPrebuild, cuda: true, outcome: 'missing' });
  else if (noCuda) attempts.push({ path: cudaPrebuild, cuda: true, outcome: 'skipped', why: 'CONVKIT_NO_CUDA is set' });
  else if (localCpu) attempts.push({ path: cudaPrebuild, cuda: true, outcome: 'skipped', why: `the local build ${localCpu} comes first` });
  else {
    const binding = tryLoad(cudaPrebuild, true);
    if (binding) return { binding, path: cudaPrebuild, kind: 'cuda-prebuild', attempts };
  }

  // node-gyp-build's choice, so `npm rebuild` and prebuildify's layout behave as documented.
  const ngb = require('node-gyp-build') as { resolve(dir: string): string };
  let cpuPath: string | undefined;
  try {
    cpuPath = ngb.resolve(root);
  } catch (err) {
    // Nothing matched: name both places node-gyp-build looked, and what it was looking for.
    const target = /No native build was found for (.*)/.exec(String((err as Error).message))?.[1] ?? firstLine(err);
    attempts.push({
      path: join(root, 'build', 'Release'),
      cuda: false,
      outcome: 'missing',
      why: 'no .node file: the addon was not compiled here',
    });
    const dir = prebuildDir(root);
    const has = listing(dir);
    const others = listing(join(root, 'prebuilds')).filter((n) => n !== `${process.platform}-${process.arch}`);
    const why = has.length
      ? `none of ${has.join(', ')} matches ${target}`
      : `no prebuilt binary for ${process.platform}-${process.arch}` + (others.length ? `; the package has: ${others.join(', ')}` : '');
    attempts.push({ path: join(dir, CPU_PREBUILD), cuda: false, outcome: 'missing', why });
  }
  if (cpuPath) {
    // Only when convkit.napi.node is absent can node-gyp-build's pick be the CUDA prebuild.
    const isCuda = cpuPath.endsWith(CUDA_PREBUILD);
    const binding = tryLoad(cpuPath, isCuda);
    const kind: AddonKind = isCuda ? 'cuda-prebuild' : cpuPath.startsWith(join(root, 'prebuilds')) ? 'cpu-prebuild' : 'cpu-build';
    if (binding) return { binding, path: cpuPath, kind, attempts };
  }
  throw loadError(root, attempts);
}

/** The command that fixes a missing addon: a dependency is rebuilt, a clone is set up. */
export function fixHint(root: string): string {
  if (isDependency(root))
    return (
      'convkit is installed as a dependency: run `npm rebuild convkit`, which uses a prebuilt binary when one ' +
      'matches this machine and otherwise compiles one (that needs a C++17 compiler, make and python3, ' +
      'e.g. `apt-get install g++ make python3`)'
    );
  return 'in a clone of convkit, run `npm ci` (it compiles the addon), or `npm run build:native` to compile only the CPU addon';
}

function loadError(root: string, attempts: Attempt[], hint = fixHint(root)): ConvkitError {
  const lines = attempts.map((a) => `  ${relativeTo(root, a.path)}: ${a.outcome}${a.why ? ` (${a.why})` : ''}`);
  return new ConvkitError(
    'ND_INTERNAL',
    `convkit: could not load the native addon for ${process.platform}-${process.arch}, Node ${process.version} ` +
      `(N-API ${process.versions.napi}) from ${root}. Tried:\n${lines.join('\n')}\nFix: ${hint}.`,
  );
}

function relativeTo(root: string, path: string): string {
  const r = relative(root, path);
  return r.startsWith('..') ? path : r;
}
