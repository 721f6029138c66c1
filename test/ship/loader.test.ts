// The loader's message when no binary loads (a clone, a dependency, a broken prebuild, a bad
// CONVKIT_ADDON), and backends()' reason for a missing CUDA backend, which must be true for this
// machine (it once said "nvcc was not available at install time" where nvcc was installed).
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { backends } from '../../lib/index.js';
import { cudaAbsentReason, findNvcc } from '../../lib/cuda-absent.js';
import { addonInfo, native } from '../../lib/native.js';
import type { Attempt } from '../../lib/native-loader.js';
import { cleanEnv, run } from './sandbox.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tuple = `${process.platform}-${process.arch}`;
const work = mkdtempSync(join(tmpdir(), 'convkit-loader-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// A child that imports the library (through the test runner's TypeScript loader): test/ship/load-child.ts.
const tsImport = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
const child = join(root, 'test', 'ship', 'load-child.ts');
function load(env: Record<string, string | undefined>) {
  const r = run(process.execPath, [...tsImport, child], { cwd: root, env: cleanEnv(env) });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { loaded?: string; code?: string; name?: string; message?: string };
  return { r, out };
}

t.test('a clone with nothing built: every path tried, and `npm ci`', async (t) => {
  const empty = join(work, 'clone');
  mkdirSync(empty);
  const { r, out } = load({ CONVKIT_TEST_PACKAGE_ROOT: empty });
  t.equal(r.status, 0, 'the child ran', { output: r.tail });
  t.equal(out.code, 'ND_INTERNAL');
  t.equal(out.name, 'ConvkitError');
  t.match(out.message, new RegExp(`for ${tuple}, Node ${process.version.replace(/\./g, '\\.')}`), 'names the platform and Node');
  for (const p of [
    'build-cuda/Release/convkit_cuda.node: missing',
    `prebuilds/${tuple}/convkit.cuda.node: missing`,
    'build/Release: missing',
    `prebuilds/${tuple}/convkit.napi.node: missing`,
  ])
    t.ok(out.message?.includes(p), `lists ${p}`);
  t.match(out.message, /Fix: in a clone of convkit, run `npm ci`/);
  t.notMatch(out.message, /npm rebuild/, 'not the fix for a dependency');
});

t.test('a dependency whose prebuild is not a binary: the loader error, and `npm rebuild convkit`', async (t) => {
  const pkg = join(work, 'app', 'node_modules', 'convkit');
  mkdirSync(join(pkg, 'prebuilds', tuple), { recursive: true });
  writeFileSync(join(pkg, 'prebuilds', tuple, 'convkit.napi.node'), 'not an ELF file');
  const { out } = load({ CONVKIT_TEST_PACKAGE_ROOT: pkg });
  t.equal(out.code, 'ND_INTERNAL');
  t.match(
    out.message,
    new RegExp(`prebuilds/${tuple}/convkit\\.napi\\.node: failed \\(.*(invalid ELF header|too short|file too short)`),
    'says why the file did not load',
  );
  t.match(out.message, /Fix: convkit is installed as a dependency: run `npm rebuild convkit`/);
  t.match(out.message, /C\+\+17 compiler, make and python3/, 'and what compiling needs');
});

t.test('a CONVKIT_ADDON that does not load is the error, not a silent fallback', async (t) => {
  const { out } = load({ CONVKIT_ADDON: join(work, 'nope.node') });
  t.equal(out.code, 'ND_INTERNAL');
  t.match(out.message, /nope\.node: failed \(Cannot find module/);
  t.match(out.message, /CONVKIT_ADDON is set, so nothing else was tried/);
});

t.test('backends() reports the binary in use', async (t) => {
  const cpu = backends().find((b) => b.name === 'cpu')!;
  t.equal(cpu.details!.addon, addonInfo.path);
  t.match(String(cpu.details!.addonKind), /^(explicit|cuda-build|cuda-prebuild|cpu-build|cpu-prebuild)$/);
  t.ok(
    addonInfo.attempts.some((a) => a.outcome === 'loaded' && a.path === addonInfo.path),
    'the loaded file is among the attempts',
  );
});

t.test("backends()' CUDA reason is true for this machine", async (t) => {
  const cuda = backends().find((b) => b.name === 'cuda')!;
  if (native.build.cuda) {
    t.equal(cuda.compiled, true, 'the CUDA build is loaded: no CPU-build reason to check');
    return;
  }
  t.equal(cuda.compiled, false);
  t.notMatch(cuda.reason, /install time/, 'no guess about the install');
  // A CUDA addon that exists is named with why it was passed over; when none exists, nvcc's presence decides.
  const seen = addonInfo.attempts.filter((a) => a.cuda && a.outcome !== 'missing');
  const nvcc = findNvcc();
  if (seen.length) {
    for (const a of seen) t.ok(cuda.reason?.includes(a.path), `names ${a.path} (${a.outcome}: ${a.why})`);
    if (process.env.CONVKIT_NO_CUDA) t.match(cuda.reason, /CONVKIT_NO_CUDA is set/);
  } else if (nvcc) {
    t.ok(cuda.reason?.includes(nvcc), `says nvcc is at ${nvcc}`);
    t.match(cuda.reason, /npm run build:cuda|npm rebuild convkit/, 'and the command that builds the addon');
  } else t.match(cuda.reason, /nvcc was not found/);
});

// cudaAbsentReason on each situation, with nvcc placed (or not) on a PATH of our own.
const fakeBin = join(work, 'fakebin');
mkdirSync(fakeBin);
writeFileSync(join(fakeBin, 'nvcc'), '#!/bin/sh\nexit 0\n');
chmodSync(join(fakeBin, 'nvcc'), 0o755);
const withNvcc = { env: { PATH: fakeBin }, fixedDirs: [] };
const withoutNvcc = { env: { PATH: join(work, 'nothing-here') }, fixedDirs: [] };
const missing: Attempt[] = [
  { path: '/x/build-cuda/Release/convkit_cuda.node', cuda: true, outcome: 'missing' },
  { path: `/x/prebuilds/${tuple}/convkit.cuda.node`, cuda: true, outcome: 'missing' },
  { path: '/x/build/Release/convkit.node', cuda: false, outcome: 'loaded' },
];
const cpuLoad = { attempts: missing, kind: 'cpu-build' as const, path: '/x/build/Release/convkit.node' };

t.test('the reason when no CUDA addon exists', async (t) => {
  t.match(
    cudaAbsentReason(cpuLoad, '/src/convkit', withNvcc),
    new RegExp(`not built .*nvcc is at ${fakeBin}/nvcc.*npm run build:cuda`),
    'clone with nvcc',
  );
  t.match(cudaAbsentReason(cpuLoad, '/src/convkit', withoutNvcc), /nvcc was not found .*install the CUDA toolkit/, 'clone without nvcc');
  t.match(
    cudaAbsentReason(cpuLoad, '/app/node_modules/convkit', withNvcc),
    /ships no CUDA addon .*`npm rebuild convkit` builds it with nvcc/,
    'dependency with nvcc',
  );
  t.match(
    cudaAbsentReason(cpuLoad, '/app/node_modules/convkit', withoutNvcc),
    /ships no CUDA addon .*nvcc was not found/,
    'dependency without nvcc',
  );
});

t.test('the reason when a CUDA addon exists but was not used', async (t) => {
  const at = (a: Attempt) => ({ ...cpuLoad, attempts: [a, ...missing.slice(1)] });
  const p = '/x/build-cuda/Release/convkit_cuda.node';
  t.match(
    cudaAbsentReason(at({ path: p, cuda: true, outcome: 'skipped', why: 'CONVKIT_NO_CUDA is set' }), '/x', withNvcc),
    /CONVKIT_NO_CUDA is set/,
  );
  t.match(
    cudaAbsentReason(at({ path: p, cuda: true, outcome: 'failed', why: 'libfoo.so: cannot open' }), '/x', withNvcc),
    /failed to load: libfoo\.so: cannot open/,
  );
  t.match(
    cudaAbsentReason(
      at({ path: p, cuda: true, outcome: 'skipped', why: 'native sources changed after it was built (rebuild: npm run build:cuda)' }),
      '/x',
      withNvcc,
    ),
    /sources changed .*npm run build:cuda/,
  );
  t.match(
    cudaAbsentReason({ ...cpuLoad, kind: 'explicit', path: '/y/cpu.node' }, '/x', withNvcc),
    /CONVKIT_ADDON points at \/y\/cpu\.node/,
  );
});

t.test("node-gyp-build's own pick is the CPU prebuild, never convkit.cuda.node", async (t) => {
  const ngb = createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string };
  // Both creation orders, so the result cannot hang on the order readdir happens to return.
  for (const order of [
    ['convkit.napi.node', 'convkit.cuda.node'],
    ['convkit.cuda.node', 'convkit.napi.node'],
  ]) {
    const dir = join(work, `rank-${order[0]}`);
    mkdirSync(join(dir, 'prebuilds', tuple), { recursive: true });
    for (const f of order) writeFileSync(join(dir, 'prebuilds', tuple, f), '');
    t.equal(ngb.resolve(dir), join(dir, 'prebuilds', tuple, 'convkit.napi.node'), `created as ${order.join(', ')}`);
  }
});
