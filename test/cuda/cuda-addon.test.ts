// The CUDA addon on a machine without a GPU: it must build, load, keep the CPU backend working,
// report CUDA as unavailable with the reason, and report a missing cuBLAS as ND_NO_CUDA naming
// every place searched. Checks that need a GPU are reported as skipped, never as passed.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const addonPath = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
const harnessPath = join(root, 'build-cuda', 'Release', 'kernel_check');
const require = createRequire(import.meta.url);

function hasNvcc(): boolean {
  const r = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) return true;
  return [process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'].some(
    (p) => !!p && existsSync(p),
  );
}

function hasCmake(): boolean {
  const r = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

const nvcc = hasNvcc() && hasCmake();
const noNvcc = nvcc ? false : 'nvcc or cmake is not installed: the CUDA addon is not built on this machine';

interface CudaAddon {
  build: { backend: string; cuda: boolean; cudaRuntime?: number };
  cudaStatus(): { available: boolean; reason?: string; devices: unknown[]; runtimeVersion: number };
  cudaLoadCublas(): { path: string };
}

// A fresh process, so that the loader's cached result and the environment are under our control.
function nodeChild(args: string[], env: Record<string, string | undefined> = {}) {
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

t.test('the CUDA addon is built where nvcc is', { skip: noNvcc }, async (t) => {
  t.ok(existsSync(addonPath), `${addonPath} exists (built by npm install / node scripts/build-cuda.mjs)`);
  t.ok(existsSync(harnessPath), `${harnessPath} exists (the kernel-check harness)`);
  if (existsSync(harnessPath)) t.ok(statSync(harnessPath).mode & 0o111, 'the harness is executable');
});

const built = nvcc && existsSync(addonPath);
const notBuilt = built ? false : noNvcc || 'build-cuda/Release/convkit_cuda.node is missing';
let addon: CudaAddon | undefined;
let status: ReturnType<CudaAddon['cudaStatus']> | undefined;
if (built) {
  addon = require(addonPath) as CudaAddon;
  status = addon.cudaStatus();
}
const hasDevice = !!status?.available;
const noDevice = hasDevice ? false : 'no CUDA device: compiled, not run';

t.test('the CUDA addon loads in Node and says it is the CUDA build', { skip: notBuilt }, async (t) => {
  t.equal(addon!.build.cuda, true);
  t.equal(addon!.build.backend, 'cuda');
  t.type(addon!.build.cudaRuntime, 'number');
  t.type(status!.available, 'boolean');
  t.ok(Array.isArray(status!.devices));
  if (!status!.available) {
    t.match(status!.reason, /^no CUDA device: \S+/, 'the runtime says why there is no device');
    t.equal(status!.devices.length, 0);
  }
});

t.test('lib/ on the CUDA addon: CPU ops work and backends() reports CUDA', { skip: notBuilt }, async (t) => {
  const tsImport = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const r = nodeChild([...tsImport, join(root, 'test', 'cuda', 'backends-child.ts')], { CONVKIT_ADDON: addonPath });
  t.equal(r.status, 0, `child exited cleanly: ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '{}';
  const out = JSON.parse(line) as {
    build: { cuda: boolean };
    backends: Array<{ name: string; compiled: boolean; available: boolean; reason?: string }>;
    conv: number[];
    add: number[];
  };
  t.equal(out.build.cuda, true, 'lib/native.ts loaded the CUDA addon');
  // [[1,2,3],[4,5,6],[7,8,9]] with [[1,0],[0,-1]]: each output is x[i][j] - x[i+1][j+1] = -4.
  t.same(out.conv, [-4, -4, -4, -4]);
  t.same(out.add, [2, 4, 6, 8, 10, 12, 14, 16, 18]);
  const cpu = out.backends.find((b) => b.name === 'cpu');
  const cuda = out.backends.find((b) => b.name === 'cuda');
  t.equal(cpu?.available, true);
  t.equal(cuda?.compiled, true);
  t.equal(cuda?.available, hasDevice, 'CUDA is usable exactly when a device is present');
  if (!hasDevice) {
    t.type(cuda?.reason, 'string');
    t.match(cuda?.reason, /no CUDA device/);
  }
});

interface DeviceChildOut {
  build: { cuda: boolean };
  device: { ok: boolean; code?: string; message?: string };
  deviceFar: { ok: boolean; code?: string; message?: string };
  nativeFill: { ok: boolean; code?: string; message?: string };
  nativeAlloc: { ok: boolean; code?: string; message?: string };
  relu: number[];
  moved: { device: string; values: number[] };
  captured: number[];
}

function deviceChild(t: Test, env: Record<string, string | undefined>): DeviceChildOut {
  const tsImport = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const r = nodeChild([...tsImport, join(root, 'test', 'cuda', 'device-child.ts')], env);
  t.equal(r.status, 0, `child exited cleanly: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as DeviceChildOut;
}

t.test(
  'the CUDA addon without a GPU: cuda:0 is a coded error with the reason, CPU ops unaffected',
  { skip: notBuilt || (hasDevice && 'a CUDA device is present: cuda:0 works here (ops-devices.test.ts)') },
  async (t) => {
    const out = deviceChild(t, { CONVKIT_ADDON: addonPath });
    t.equal(out.build.cuda, true, 'the CUDA addon was loaded');
    t.equal(out.device.ok, false);
    t.equal(out.device.code, 'ND_NO_CUDA');
    t.match(out.device.message, /cuda:0.*no CUDA device: \S+/, `names the reason: ${out.device.message}`);
    t.equal(out.deviceFar.code, 'ND_NO_CUDA', 'any index: no device at all');
    t.equal(out.nativeFill.code, 'ND_NO_CUDA', 'the binding refuses cuda:0 too');
    t.match(out.nativeFill.message, /^fill: .*cuda:0 does not exist \(no CUDA device/, String(out.nativeFill.message));
    t.equal(out.nativeAlloc.code, 'ND_NO_CUDA');
    t.match(out.nativeAlloc.message, /^alloc: /);
    t.same(out.relu, [1, 0, 3, 0], 'CPU ops run');
    t.same(out.moved, { device: 'cpu:1', values: [1, -2, 3, -4] }, 'to() between cpu streams');
    t.same(out.captured, [1, 0, 3, 0], 'capture on cpu');
  },
);

t.test('the CPU addon: cuda:0 is ND_NO_CUDA naming the CPU build, nothing else changes', { skip: notBuilt }, async (t) => {
  const out = deviceChild(t, { CONVKIT_NO_CUDA: '1', CONVKIT_ADDON: undefined });
  t.equal(out.build.cuda, false, 'the CPU addon was loaded');
  t.equal(out.device.code, 'ND_NO_CUDA');
  t.match(out.device.message, /needs the CUDA build of convkit.*CONVKIT_NO_CUDA/);
  t.equal(out.nativeFill.code, 'ND_NO_CUDA');
  t.match(out.nativeFill.message, /^fill: cuda:0 needs the CUDA build of convkit \(this is the CPU build\)/);
  t.same(out.relu, [1, 0, 3, 0]);
  t.same(out.moved, { device: 'cpu:1', values: [1, -2, 3, -4] });
  t.same(out.captured, [1, 0, 3, 0]);
});

t.test('CONVKIT_NO_CUDA keeps the CPU build and backends() says why', { skip: notBuilt }, async (t) => {
  const tsImport = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const r = nodeChild([...tsImport, join(root, 'test', 'cuda', 'backends-child.ts')], {
    CONVKIT_NO_CUDA: '1',
    CONVKIT_ADDON: undefined,
  });
  t.equal(r.status, 0, r.stderr.slice(-2000));
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    build: { cuda: boolean };
    backends: Array<{ name: string; compiled: boolean; reason?: string }>;
    add: number[];
  };
  t.equal(out.build.cuda, false);
  t.same(out.add, [2, 4, 6, 8, 10, 12, 14, 16, 18]);
  const cuda = out.backends.find((b) => b.name === 'cuda');
  t.equal(cuda?.compiled, false);
  t.match(cuda?.reason, /CONVKIT_NO_CUDA/);
});

t.test('a missing cuBLAS is ND_NO_CUDA naming every place searched', { skip: notBuilt }, async (t) => {
  const script = `
    const a = require(process.argv[1]);
    try { const r = a.cudaLoadCublas(); console.log(JSON.stringify({ loaded: r.path })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const bogus = '/nonexistent/convkit-test/libcublas.so.13';
  const r = nodeChild(['-e', script, addonPath], { CONVKIT_CUBLAS: bogus });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { loaded?: string; code?: string; message?: string };
  if (out.loaded) {
    t.ok(out.loaded, 'ND_NO_CUDA for a missing cuBLAS', {
      skip: `cuBLAS is installed here (${out.loaded}): the not-found path cannot be shown on this machine`,
    });
    return;
  }
  t.equal(out.code, 'ND_NO_CUDA');
  t.match(out.message, /libcublas\.so\.13/);
  t.match(out.message, /libcublas\.so\.12/);
  t.match(out.message, `$CONVKIT_CUBLAS=${bogus}: no such file`, 'the environment variable is tried first');
  t.match(out.message, /LD_LIBRARY_PATH/);
  t.match(out.message, /\/usr\/local\/cuda\/lib64|\/usr\/local\/cuda\/targets/);
  t.match(out.message, /nvidia\/cu13\/lib|site-packages: none found/, 'the CUDA 13 wheel folder is searched');
  t.match(out.message, /nvidia\/cublas\/lib|site-packages: none found/, 'the CUDA 12 wheel folder is searched');
  t.notMatch(out.message, /CPU/, 'no silent fallback is offered');
});

// A stand-in libcublas.so.13 with the entry points convkit binds (they are never called here):
// proves that CONVKIT_CUBLAS is honoured and that a library lacking a symbol is named as such.
function fakeCublas(dir: string, symbols: string[]): boolean {
  const src = join(dir, 'fake.c');
  writeFileSync(src, symbols.map((s) => `int ${s}(void) { return 0; }\n`).join(''));
  const r = spawnSync('cc', ['-shared', '-fPIC', '-o', join(dir, 'libcublas.so.13'), src], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

const bound = [
  'cublasCreate_v2',
  'cublasDestroy_v2',
  'cublasSetStream_v2',
  'cublasSetMathMode',
  'cublasGetVersion_v2',
  'cublasSgemm_v2',
  'cublasSgemmStridedBatched',
];

t.test('CONVKIT_CUBLAS is tried first and a library missing a symbol is named', { skip: notBuilt }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-cublas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (!fakeCublas(dir, bound)) {
    t.ok(true, 'stand-in library', { skip: 'no C compiler (cc) to build a stand-in libcublas' });
    return;
  }
  const script = `
    const a = require(process.argv[1]);
    try { console.log(JSON.stringify({ loaded: a.cudaLoadCublas().path })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  let r = nodeChild(['-e', script, addonPath], { CONVKIT_CUBLAS: dir });
  t.same(JSON.parse(r.stdout.trim()), { loaded: join(dir, 'libcublas.so.13') }, 'a folder in CONVKIT_CUBLAS');
  r = nodeChild(['-e', script, addonPath], { CONVKIT_CUBLAS: join(dir, 'libcublas.so.13') });
  t.same(JSON.parse(r.stdout.trim()), { loaded: join(dir, 'libcublas.so.13') }, 'a file in CONVKIT_CUBLAS');

  fakeCublas(
    dir,
    bound.filter((s) => s !== 'cublasSgemmStridedBatched'),
  );
  r = nodeChild(['-e', script, addonPath], { CONVKIT_CUBLAS: dir });
  const out = JSON.parse(r.stdout.trim()) as { code?: string; message?: string };
  t.equal(out.code, 'ND_NO_CUDA');
  t.match(out.message, /lacks cublasSgemmStridedBatched/);
});

t.test('the kernel-check harness runs without a GPU and says nothing was run', { skip: notBuilt }, async (t) => {
  if (hasDevice) {
    t.ok(true, 'harness without a device', { skip: 'a CUDA device is present: see the next test' });
    return;
  }
  const r = spawnSync(harnessPath, [], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 2, 'exit status 2: no device, nothing run');
  const line = JSON.parse(r.stdout.trim().split('\n')[0]) as { skipped: boolean; reason: string };
  t.equal(line.skipped, true);
  t.match(line.reason, /^no CUDA device: compiled, not run/);
});

t.test('every CUDA kernel matches its CPU twin', { skip: notBuilt || noDevice }, async (t) => {
  const r = spawnSync(harnessPath, [], { encoding: 'utf8', timeout: 300_000 });
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { check?: string; pass?: boolean });
  const failed = lines.filter((l) => l.pass === false);
  t.same(failed, [], 'no failed check');
  t.equal(r.status, 0, r.stderr);
});
