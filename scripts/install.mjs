// npm install hook: builds the CPU addon (node-gyp) unless a prebuilt binary for this platform
// loads, then the CUDA addon (cmake-js) when nvcc is found, else says in one line why not.
// Never downloads anything.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: false });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function prebuiltLoads() {
  if (process.env.CONVKIT_BUILD_FROM_SOURCE) return false;
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return false;
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

function buildCpu() {
  if (prebuiltLoads()) {
    console.log(`convkit: using the prebuilt CPU addon for ${process.platform}-${process.arch}`);
    return;
  }
  // npm exposes its bundled node-gyp to install scripts; fall back to one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  const status = gyp ? run(process.execPath, [gyp, 'rebuild', '-j', 'max']) : run('node-gyp', ['rebuild', '-j', 'max']);
  if (status !== 0) {
    console.error('convkit: building the CPU addon failed (a C++17 compiler, make and python3 are needed)');
    process.exit(status);
  }
}

function findNvcc() {
  const r = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) return 'nvcc';
  for (const p of [process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'])
    if (p && existsSync(p)) return p;
  return null;
}

function buildCuda() {
  if (process.env.CONVKIT_SKIP_CUDA) {
    console.log('convkit: CUDA build skipped (CONVKIT_SKIP_CUDA is set)');
    return;
  }
  const nvcc = findNvcc();
  if (!nvcc) {
    console.log('convkit: CUDA build skipped: nvcc not found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin); the CPU addon is built');
    return;
  }
  if (!existsSync(join(root, 'CMakeLists.txt'))) {
    console.log('convkit: CUDA build skipped: this version has no CUDA backend yet (CMakeLists.txt absent)');
    return;
  }
  const script = join(root, 'scripts', 'build-cuda.mjs');
  if (!existsSync(script)) {
    console.log('convkit: CUDA build skipped: scripts/build-cuda.mjs is not in this package; the CPU addon is built');
    return;
  }
  // The addon and the small kernel-check harness (native/cuda/check, for `npm run check:gpu`).
  // Whatever happens here, the install succeeds with the CPU addon.
  let status = 1;
  try {
    status = run(process.execPath, [script]);
  } catch (err) {
    console.log(`convkit: CUDA build could not start (${err.message}); the CPU addon is still usable`);
    return;
  }
  if (status !== 0) console.log('convkit: CUDA build failed (see above); the CPU addon is still usable');
}

buildCpu();
buildCuda();
