#!/usr/bin/env node
// prepack: puts the binaries the package ships into prebuilds/<platform>-<arch>/, the layout
// node-gyp-build reads, so that an install never compiles nor downloads when one matches:
//   convkit.napi.node  the CPU addon: `prebuildify --napi --strip` (node-gyp rebuild from
//                      binding.gyp: -O3, no -march; the SIMD kernel is chosen at run time),
//                      renamed from prebuildify 6's convkit.node to carry node-gyp-build's napi tag
//   convkit.cuda.node  the CUDA addon (scripts/build-cuda.mjs --addon-only: sm_80/86/89/90 + PTX,
//                      cudart static), when nvcc is here; the name is explained in lib/native-loader.ts
//   convkit_gloo.so    the Gloo shim (binding.gyp builds it where libgloo-dev is; the addon loads it
//                      at run time, lib/parallel/gloo-engine.ts), when it was built
// Each packed binary is loaded once in a child process before it is accepted.
// Environment:
//   CONVKIT_PREBUILD_REUSE=1  take build/Release/convkit.node (stripped) and build-cuda/ when they
//                             are newer than every native input, instead of compiling again. The
//                             local build comes from the same binding.gyp and flags, and N-API keeps
//                             it valid for every Node >= 20; the install test uses this so it does
//                             not recompile (1-2 min) nor wipe build/ under tests running beside it.
//                             CONVKIT_PREBUILD_REUSE=only fails instead of compiling.
//   CONVKIT_SKIP_CUDA=1       pack without the CUDA addon.
//   CONVKIT_REQUIRE_CUDA=1    fail when the CUDA addon cannot be packed (a release build machine).
// postpack runs `node scripts/prebuild.mjs --clean`: a clone keeps no prebuilds/, so its own
// build/Release is what loads there.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = process.env;
const tuple = `${process.platform}-${process.arch}`;
const outDir = join(root, 'prebuilds', tuple);
const cpuOut = join(outDir, 'convkit.napi.node');
const cudaOut = join(outDir, 'convkit.cuda.node');
const cpuBuild = join(root, 'build', 'Release', 'convkit.node');
const cudaBuild = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
const rel = (p) => relative(root, p);

function fail(msg) {
  console.error(`convkit prepack: ${msg}`);
  process.exit(1);
}

if (process.argv.includes('--clean')) {
  rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}

/** Newest mtime (ms) of what a native build reads. */
function newestInput(extra = []) {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      // native/comm/gloo_shim is the Gloo shim's own target, not an input of the addons.
      if (e.isDirectory()) {
        if (e.name !== 'gloo_shim') walk(p);
      } else if (/\.(cc|h|cu|cuh)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(root, 'native'));
  for (const f of extra) if (existsSync(join(root, f))) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

const fresh = (file, extra) => existsSync(file) && statSync(file).mtimeMs >= newestInput(extra);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

function strip(file) {
  const r = spawnSync('strip', ['--strip-all', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    console.log(`convkit prepack: strip failed on ${rel(file)} (${r.error?.message ?? r.stderr.trim()}); packed unstripped`);
}

/** Loads `file` in a fresh process and checks it is the build it should be. */
function checkLoads(file, cuda) {
  const probe = `const b = require(${JSON.stringify(file)}); if (b.build.cuda !== ${cuda}) { console.error('build.cuda is ' + b.build.cuda); process.exit(3); }`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) fail(`${rel(file)} does not load: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
}

function packCpu() {
  const inputs = ['binding.gyp', 'scripts/native-sources.cjs'];
  if (env.CONVKIT_PREBUILD_REUSE && fresh(cpuBuild, inputs)) {
    copyFileSync(cpuBuild, cpuOut);
    strip(cpuOut);
    return `${rel(cpuOut)} (from the fresh ${rel(cpuBuild)})`;
  }
  if (env.CONVKIT_PREBUILD_REUSE === 'only')
    fail(`${rel(cpuBuild)} is missing or older than native/ (CONVKIT_PREBUILD_REUSE=only): run \`npx node-gyp build\``);
  if (env.CONVKIT_PREBUILD_REUSE) console.log(`convkit prepack: ${rel(cpuBuild)} is missing or older than native/: compiling`);
  // prebuildify rebuilds build/ and moves the addon out of it; copy it back so a clone's tests
  // (which load build/Release first) keep working after `npm pack`.
  const bin = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
  // prebuildify gives node-gyp a devdir of its own, where no headers are cached: point node-gyp at
  // this Node's installed headers, when it has them, so that nothing is downloaded.
  const prefix = dirname(dirname(process.execPath));
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) env.npm_config_nodedir = prefix;
  if (run(process.execPath, [bin, '--napi', '--strip']) !== 0) fail('prebuildify failed (see above)');
  // prebuildify 6 names an N-API build after the package alone (convkit.node). The napi tag makes
  // node-gyp-build rank it above convkit.cuda.node (lib/native-loader.ts), so it is added here.
  const made = readdirSync(outDir).find((f) => f.endsWith('.node') && f !== 'convkit.cuda.node');
  if (!made) fail(`prebuildify put no .node file in ${rel(outDir)}`);
  renameSync(join(outDir, made), cpuOut);
  mkdirSync(dirname(cpuBuild), { recursive: true });
  copyFileSync(cpuOut, cpuBuild);
  return `${rel(cpuOut)} (prebuildify, from ${made})`;
}

function hasNvcc() {
  const r = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) return true;
  return [env.CUDA_HOME && join(env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'].some((p) => p && existsSync(p));
}

function packCuda() {
  if (env.CONVKIT_SKIP_CUDA) return 'no CUDA addon (CONVKIT_SKIP_CUDA is set)';
  const inputs = ['CMakeLists.txt', 'scripts/build-cuda.mjs'];
  if (!fresh(cudaBuild, inputs)) {
    if (!hasNvcc()) {
      if (env.CONVKIT_REQUIRE_CUDA) fail('nvcc not found and CONVKIT_REQUIRE_CUDA is set');
      return 'no CUDA addon (nvcc not found: PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)';
    }
    if (env.CONVKIT_PREBUILD_REUSE && !env.CONVKIT_REQUIRE_CUDA)
      return `no CUDA addon (${rel(cudaBuild)} is missing or older than native/, and CONVKIT_PREBUILD_REUSE does not compile it)`;
    const status = run(process.execPath, [join(root, 'scripts', 'build-cuda.mjs'), '--addon-only']);
    if (status !== 0) {
      if (env.CONVKIT_REQUIRE_CUDA) fail('the CUDA addon did not build and CONVKIT_REQUIRE_CUDA is set');
      return 'no CUDA addon (it did not build here: see above)';
    }
  }
  copyFileSync(cudaBuild, cudaOut);
  strip(cudaOut);
  // CMakeLists.txt's default (80, 86, 89, 90 + PTX) is not cached; a CONVKIT_CUDA_ARCHS build is, and is said.
  let archs = 'sm_80, 86, 89, 90 + PTX';
  try {
    const m = /^CMAKE_CUDA_ARCHITECTURES:[A-Z]+=(.*)$/m.exec(readFileSync(join(root, 'build-cuda', 'CMakeCache.txt'), 'utf8'));
    if (m) archs = `CMAKE_CUDA_ARCHITECTURES=${m[1]}, not the release default`;
  } catch {
    // no cache: built elsewhere, copied in
  }
  return `${rel(cudaOut)} (${archs})`;
}

rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const cpu = packCpu();
checkLoads(cpuOut, false);
const cuda = packCuda();
// The Gloo shim beside the CPU addon, where it was built (the node-gyp build makes both).
const glooBuild = join(root, 'build', 'Release', 'convkit_gloo.so');
let gloo = 'no Gloo shim (libgloo-dev was absent at build time)';
if (existsSync(glooBuild)) {
  copyFileSync(glooBuild, join(outDir, 'convkit_gloo.so'));
  strip(join(outDir, 'convkit_gloo.so'));
  gloo = `${rel(join(outDir, 'convkit_gloo.so'))}`;
}
if (existsSync(cudaOut)) checkLoads(cudaOut, true);
// Every file dated now: the loader never mistakes a shipped binary for a stale one.
const now = new Date();
for (const f of readdirSync(outDir)) utimesSync(join(outDir, f), now, now);
console.log(`convkit prepack: ${cpu}; ${cuda}; ${gloo}`);
