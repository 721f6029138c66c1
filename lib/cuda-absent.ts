/**
 * Why the loaded addon has no CUDA backend, in words a user can act on: read from what the loader
 * actually found (lib/native-loader.ts) and from whether nvcc is on this machine now, never
 * guessed (it used to say "nvcc was not available at install time" on machines that had nvcc).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CUDA_PREBUILD, isDependency, type LoadResult } from './native-loader.js';

/** Where to look for nvcc: this machine's environment and the toolkit's usual folder (tests pass their own). */
export interface NvccSearch {
  env: NodeJS.ProcessEnv;
  fixedDirs: string[];
}
const here: NvccSearch = { env: process.env, fixedDirs: ['/usr/local/cuda/bin'] };

/** nvcc's path where scripts/build-cuda.mjs would find it (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin), or null. */
export function findNvcc({ env, fixedDirs }: NvccSearch = here): string | null {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const home of [env.CUDA_HOME, env.CUDA_PATH]) if (home) dirs.push(join(home, 'bin'));
  dirs.push(...fixedDirs);
  for (const d of dirs) {
    const p = join(d, 'nvcc');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The reason, given the loader's result and the package folder it searched. */
export function cudaAbsentReason(load: Pick<LoadResult, 'attempts' | 'kind' | 'path'>, root: string, search = here): string {
  if (load.kind === 'explicit') return `CONVKIT_ADDON points at ${load.path}, which is a CPU-only build`;
  const cuda = load.attempts.filter((a) => a.cuda);
  const said: string[] = [];
  for (const a of cuda) {
    if (a.outcome === 'failed') said.push(`the CUDA addon ${a.path} failed to load: ${a.why}`);
    else if (a.outcome === 'skipped' && a.why?.startsWith('CONVKIT_NO_CUDA'))
      said.push(`CONVKIT_NO_CUDA is set, so the CUDA addon ${a.path} was not loaded`);
    else if (a.outcome === 'skipped') said.push(`${a.path} was not loaded: ${a.why}`);
  }
  if (said.length) return said.join('; ');
  // Every CUDA candidate is missing: nothing was built or shipped.
  const nvcc = findNvcc(search);
  const platform = `${process.platform}-${process.arch}`;
  if (isDependency(root)) {
    return nvcc
      ? `this package ships no CUDA addon for ${platform} (prebuilds/${platform}/${CUDA_PREBUILD}) and none was built here: ` +
          `\`npm rebuild convkit\` builds it with nvcc (${nvcc})`
      : `this package ships no CUDA addon for ${platform}, and nvcc was not found to build one ` +
          '(looked in PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)';
  }
  return nvcc
    ? `the CUDA addon was not built (build-cuda/Release/convkit_cuda.node is missing; nvcc is at ${nvcc}): run \`npm run build:cuda\``
    : 'the CUDA addon was not built: nvcc was not found (looked in PATH, $CUDA_HOME/bin, /usr/local/cuda/bin); ' +
        'install the CUDA toolkit, then run `npm run build:cuda`';
}
