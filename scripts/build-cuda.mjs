#!/usr/bin/env node
// Builds the CUDA addon (build-cuda/Release/convkit_cuda.node) and, unless --addon-only, the
// kernel-check harness (build-cuda/Release/kernel_check) with plain cmake: finds cmake and nvcc,
// the Node-API headers (this node's include/node, the node-gyp cache, /usr/include/node) and
// node-addon-api, and passes them to CMakeLists.txt. Nothing is downloaded.
//   node scripts/build-cuda.mjs [--addon-only] [--clean]
// Environment: CONVKIT_CUDA_ARCHS (e.g. "90" for a quick build on one H100; default sm_80, 86, 89,
// 90 + PTX), CONVKIT_BUILD_JOBS, CUDA_HOME, NODE_INCLUDE_DIR, CONVKIT_CUBLAS_INCLUDE, CONVKIT_NCCL_INCLUDE.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const buildDir = join(root, 'build-cuda');

function fail(msg) {
  console.error(`convkit: CUDA build failed: ${msg}`);
  process.exit(1);
}

function works(cmd, argv = ['--version']) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

function findTool(name, extra) {
  if (works(name)) return name;
  for (const p of extra) if (p && existsSync(p) && works(p)) return p;
  return null;
}

function globSitePackages() {
  const out = [];
  const bases = ['/usr/lib', '/usr/local/lib', join(homedir(), '.local', 'lib')];
  for (const v of [process.env.VIRTUAL_ENV, process.env.CONDA_PREFIX]) if (v) bases.unshift(join(v, 'lib'));
  for (const b of bases) {
    let entries;
    try {
      entries = readdirSync(b).filter((d) => d.startsWith('python3'));
    } catch {
      continue;
    }
    for (const d of entries) for (const s of ['site-packages', 'dist-packages']) out.push(join(b, d, s));
  }
  return out.filter((p) => existsSync(p));
}

function nodeIncludeDir() {
  const version = process.version.slice(1);
  const candidates = [
    process.env.NODE_INCLUDE_DIR,
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    join(homedir(), '.cache', 'node-gyp', version, 'include', 'node'),
    join(homedir(), '.node-gyp', version, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  const found = candidates.find((d) => d && existsSync(join(d, 'node_api.h')));
  if (!found) fail(`node_api.h not found; looked in: ${candidates.filter(Boolean).join(', ')} (set NODE_INCLUDE_DIR)`);
  return found;
}

function addonApiDir() {
  try {
    return dirname(require.resolve('node-addon-api/package.json'));
  } catch {
    fail('node-addon-api is not installed (run npm install first)');
  }
}

// A cublas_v2.h lets CMake check our declarations of the cuBLAS functions against the real ones.
function cublasInclude(nvcc) {
  const cands = [process.env.CONVKIT_CUBLAS_INCLUDE];
  if (nvcc.includes('/')) cands.push(join(dirname(dirname(nvcc)), 'include'));
  for (const s of globSitePackages()) cands.push(join(s, 'nvidia', 'cu13', 'include'), join(s, 'nvidia', 'cublas', 'include'));
  cands.push('/usr/local/cuda/include');
  return cands.find((d) => d && existsSync(join(d, 'cublas_v2.h'))) ?? '';
}

// An nccl.h (the nvidia-nccl wheels, Debian's libnccl-dev) lets CMake check our NCCL declarations.
function ncclInclude(nvcc) {
  const cands = [process.env.CONVKIT_NCCL_INCLUDE];
  for (const s of globSitePackages()) cands.push(join(s, 'nvidia', 'nccl', 'include'), join(s, 'nvidia', 'cu13', 'include'));
  if (nvcc.includes('/')) cands.push(join(dirname(dirname(nvcc)), 'include'));
  cands.push('/usr/include', '/usr/local/cuda/include');
  return cands.find((d) => d && existsSync(join(d, 'nccl.h'))) ?? '';
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

const cudaHome = process.env.CUDA_HOME || process.env.CUDA_PATH;
const nvcc = findTool('nvcc', [cudaHome && join(cudaHome, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc']);
if (!nvcc) fail('nvcc not found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)');
const cmake = findTool('cmake', [join(homedir(), '.local', 'bin', 'cmake'), '/usr/local/bin/cmake']);
if (!cmake) fail('cmake not found (PATH, ~/.local/bin, /usr/local/bin); `pip install cmake` provides one');
const generator = works('ninja') ? 'Ninja' : 'Unix Makefiles';
const jobs = Number(process.env.CONVKIT_BUILD_JOBS) || availableParallelism();

// A build folder configured with another generator or nvcc cannot be reused: start it afresh.
function cached(key) {
  try {
    return new RegExp(`^${key}:[A-Z]+=(.*)$`, 'm').exec(readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
// The real path, so that the same nvcc reached through a symlink does not look like a new compiler.
const nvccPath = realpathSync(nvcc === 'nvcc' ? spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).stdout.trim() : nvcc);
// A build folder copied from another checkout names that checkout's sources: start it afresh too.
const stale =
  (cached('CMAKE_GENERATOR') ?? generator) !== generator ||
  (cached('CMAKE_CUDA_COMPILER') ?? nvccPath) !== nvccPath ||
  (cached('CMAKE_HOME_DIRECTORY') ?? realpathSync(root)) !== realpathSync(root);
if (args.has('--clean') || stale) rmSync(buildDir, { recursive: true, force: true });
const started = new Date();
const configure = [
  '-S',
  root,
  '-B',
  buildDir,
  '-G',
  generator,
  '-DCMAKE_BUILD_TYPE=Release',
  `-DCMAKE_CUDA_COMPILER=${nvccPath}`,
  `-DNODE_INCLUDE_DIR=${nodeIncludeDir()}`,
  `-DNODE_ADDON_API_DIR=${addonApiDir()}`,
  `-DCONVKIT_CUBLAS_INCLUDE=${cublasInclude(nvcc)}`,
  `-DCONVKIT_NCCL_INCLUDE=${ncclInclude(nvcc)}`,
  `-DCONVKIT_CUDA_HARNESS=${args.has('--addon-only') ? 'OFF' : 'ON'}`,
];
// Without CONVKIT_CUDA_ARCHS, drop a value cached by an earlier run so CMakeLists.txt's default holds.
if (process.env.CONVKIT_CUDA_ARCHS) configure.push(`-DCMAKE_CUDA_ARCHITECTURES=${process.env.CONVKIT_CUDA_ARCHS}`);
else configure.push('-UCMAKE_CUDA_ARCHITECTURES');
if (run(cmake, configure) !== 0) fail('cmake configure failed (see above)');
if (run(cmake, ['--build', buildDir, '--parallel', String(jobs)]) !== 0) fail('compilation failed (see above)');

const addon = join(buildDir, 'Release', 'convkit_cuda.node');
if (!existsSync(addon)) fail(`${addon} was not produced`);
// The addon is dated from the start of the build: lib/native.ts skips it when a source file is
// newer (edited after this build read it), so a stale CUDA build never shadows a fresh CPU one.
utimesSync(addon, started, started);
const secs = ((Date.now() - started.getTime()) / 1000).toFixed(0);
console.log(`convkit: CUDA addon built in ${secs} s: ${addon}`);
