// npm install hook. Uses the prebuilt binaries in prebuilds/<platform>-<arch>/ when they load on
// this machine and compiles only what does not: the CPU addon with node-gyp, the CUDA addon with
// scripts/build-cuda.mjs when nvcc is here. Never downloads anything. It ends with ONE line that
// says which binaries convkit will use.
//   --build-from-source (or `npm install --build-from-source`, CONVKIT_BUILD_FROM_SOURCE=1): compile both.
//   CONVKIT_SKIP_CUDA=1: neither load nor build the CUDA addon.
// A clone has no prebuilds/, so `npm ci` there always compiles (and builds the GPU kernel-check
// harness too, for `npm run check:gpu`); a dependency builds the CUDA addon alone.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = process.env;
const tuple = `${process.platform}-${process.arch}`;
const fromSource =
  process.argv.includes('--build-from-source') ||
  ['true', '1'].includes(String(env.npm_config_build_from_source)) ||
  !!env.CONVKIT_BUILD_FROM_SOURCE;
const dependency = root.split(sep).includes('node_modules');
const rel = (p) => relative(root, p);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: false });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

/** Loads `file` in a child process (two addons never share this one); null when it loads, else why not. */
function loadError(file, cuda) {
  const probe = `const b = require(${JSON.stringify(file)}); if (b.build.cuda !== ${cuda}) throw new Error('not the ${cuda ? 'CUDA' : 'CPU'} build');`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 60_000 });
  if (r.status === 0) return null;
  const msg = (r.stderr || r.error?.message || 'unknown').split('\n').find((l) => /Error|error:/.test(l)) ?? r.stderr;
  return String(msg).trim().slice(0, 300);
}

function cpu() {
  const prebuilt = join(root, 'prebuilds', tuple, 'convkit.napi.node');
  let why = dependency ? `no prebuilt binary for ${tuple}` : 'a clone has no prebuilt binaries';
  if (fromSource) why = 'building from source was asked for';
  else if (existsSync(prebuilt)) {
    // node-gyp-build's pick: a local build/ first (an earlier `npm rebuild`), then the prebuild.
    let pick = prebuilt;
    try {
      pick = require('node-gyp-build').resolve(root);
    } catch {
      // nothing matches: compile below
    }
    const err = loadError(pick, false);
    if (!err) return `${rel(pick)} (${pick === prebuilt ? 'prebuilt' : 'compiled earlier'})`;
    why = `${rel(pick)} does not load here: ${err}`;
  }
  console.log(`convkit: ${why}; compiling the CPU addon with node-gyp (a C++17 compiler, make and python3; 1-3 minutes)`);
  // npm exposes its bundled node-gyp to install scripts; fall back to one on PATH.
  const gyp = env.npm_config_node_gyp;
  const status = gyp ? run(process.execPath, [gyp, 'rebuild', '-j', 'max']) : run('node-gyp', ['rebuild', '-j', 'max']);
  if (status !== 0) {
    console.error(
      'convkit: compiling the CPU addon failed (see above). It needs a C++17 compiler, make and python3 ' +
        '(e.g. `apt-get install g++ make python3`), then `npm rebuild convkit`.',
    );
    process.exit(status);
  }
  return 'build/Release/convkit.node (compiled here)';
}

function findNvcc() {
  const r = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) return 'nvcc';
  for (const p of [env.CUDA_HOME && join(env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc']) if (p && existsSync(p)) return p;
  return null;
}

function cuda() {
  if (env.CONVKIT_SKIP_CUDA) return 'no CUDA addon (CONVKIT_SKIP_CUDA is set)';
  const prebuilt = join(root, 'prebuilds', tuple, 'convkit.cuda.node');
  let why = dependency ? `no prebuilt CUDA addon for ${tuple}` : 'a clone has no prebuilt binaries';
  if (fromSource) why = 'building from source was asked for';
  else if (existsSync(prebuilt)) {
    const err = loadError(prebuilt, true);
    if (!err) return `${rel(prebuilt)} (prebuilt CUDA)`;
    why = `${rel(prebuilt)} does not load here: ${err}`;
  }
  if (!findNvcc()) return `no CUDA addon (${why}, and nvcc was not found in PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)`;
  const script = join(root, 'scripts', 'build-cuda.mjs');
  if (!existsSync(join(root, 'CMakeLists.txt')) || !existsSync(script)) return `no CUDA addon (${why}; this package has no CUDA sources)`;
  console.log(`convkit: ${why}; compiling the CUDA addon with nvcc (several minutes; CONVKIT_SKIP_CUDA=1 skips it)`);
  // Whatever happens here, the install succeeds with the CPU addon.
  let status;
  try {
    status = run(process.execPath, dependency ? [script, '--addon-only'] : [script]);
  } catch (err) {
    return `no CUDA addon (its build could not start: ${err.message})`;
  }
  return status === 0 ? 'build-cuda/Release/convkit_cuda.node (compiled here)' : 'no CUDA addon (its build failed: see above)';
}

const c = cpu();
const g = cuda();
console.log(`convkit: using ${c}; ${g}`);
