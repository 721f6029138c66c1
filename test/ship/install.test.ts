// The package as a new user gets it: `npm pack` (prepack puts the prebuilt binaries in), the
// tarball's contents and size, then an install of that tarball into an empty folder with
// --ignore-scripts and no compiler on PATH, where a LeNet-5 prediction must run from ESM and from
// CommonJS, `npx convkit --help` must work, TypeScript must type both module systems, and a missing
// binary must say `npm rebuild convkit`.
// prepack runs with CONVKIT_PREBUILD_REUSE=only: it packs the fresh build/Release (the same
// binding.gyp and flags prebuildify would use) instead of recompiling for 1-2 minutes and wiping
// build/ under the tests running beside this one; it fails if build/Release is stale.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, lenet5, ops } from '../../lib/index.js';
import { COMPILERS, cleanEnv, compilerFreeBin, lastJson, run } from './sandbox.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tuple = `${process.platform}-${process.arch}`;
/** The stated limits (README, "Install"): the packed tarball and what it unpacks to. */
const MAX_PACKED = 8 * 1024 * 1024;
const MAX_UNPACKED = 24 * 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'convkit-ship-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// --- npm pack -------------------------------------------------------------------------------------
const packed = run('npm', ['pack', '--pack-destination', work], { cwd: root, env: cleanEnv({ CONVKIT_PREBUILD_REUSE: 'only' }) });
const tgzName = readdirSync(work).find((f) => f.endsWith('.tgz'));
const tgz = tgzName ? join(work, tgzName) : '';
const extracted = join(work, 'extracted');

t.test('npm pack runs prepack and makes a tarball', async (t) => {
  t.equal(packed.status, 0, 'npm pack exited cleanly', { output: packed.tail });
  t.ok(tgzName, 'a .tgz was written');
  t.match(packed.stdout + packed.stderr, /convkit prepack: prebuilds\/[^ ]+\/convkit\.napi\.node/, 'prepack said what it packed');
  t.notOk(existsSync(join(root, 'prebuilds')), 'postpack removed prebuilds/ from the checkout');
});

const entries: string[] = [];
if (tgz) {
  const list = run('tar', ['-tzf', tgz], { cwd: work, env: process.env });
  entries.push(...list.stdout.split('\n').filter(Boolean));
  mkdirSync(extracted, { recursive: true });
  run('tar', ['-xzf', tgz, '-C', extracted], { cwd: work, env: process.env });
}
const hasCuda = entries.includes(`package/prebuilds/${tuple}/convkit.cuda.node`);

t.test('the tarball holds what a user needs and nothing else', { skip: !tgz && 'no tarball' }, async (t) => {
  for (const need of [
    'LICENSE',
    'README.md',
    'package.json',
    'dist/index.js',
    'dist/index.d.ts',
    'bin/convkit.js',
    'scripts/install.mjs',
    'binding.gyp',
    `prebuilds/${tuple}/convkit.napi.node`,
  ])
    t.ok(entries.includes(`package/${need}`), `ships ${need}`);
  const bad = entries.filter(
    (e) =>
      /^package\/(test|bench|lib|\.ci|\.tap|build|build-cuda|examples\/data)\//.test(e) ||
      // scripts/fixtures/torch_nets.py ships on purpose: the torch.nn twins `convkit bench --peers torch` times.
      /\.test\.[cm]?[jt]s$|\.tsbuildinfo$|\/fixtures\/(?!torch_nets\.py$)|\.safetensors$|\.idx\d?-ubyte/.test(e) ||
      /^package\/scripts\/(check-gpu\.sh|dev-build\.sh|make-fixtures\.sh)$/.test(e),
  );
  t.same(bad, [], 'no tests, bench data, fixtures, build folders or scripts that need unshipped files');
  t.comment(
    `the tarball ${hasCuda ? 'includes' : 'does not include'} the CUDA addon (prepack: ${/; (.*)$/m.exec(packed.stdout)?.[1] ?? '?'})`,
  );
});

t.test('source maps are not dead: each carries its sources', { skip: !tgz && 'no tarball' }, async (t) => {
  const maps = entries.filter((e) => e.endsWith('.map'));
  t.ok(maps.length > 0, `${maps.length} source maps shipped`);
  const broken: string[] = [];
  for (const m of maps) {
    const map = JSON.parse(readFileSync(join(extracted, m), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
    const ok =
      map.sources.length > 0 &&
      map.sourcesContent?.length === map.sources.length &&
      map.sourcesContent.every((s) => typeof s === 'string' && s.length > 0);
    if (!ok) broken.push(m);
  }
  t.same(broken, [], 'every map has a non-empty sourcesContent for each source');
  const dangling = entries
    .filter((e) => e.endsWith('.js'))
    .filter((e) => {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(extracted, e), 'utf8'))?.[1];
      return url !== undefined && !entries.includes(join(dirname(e), url));
    });
  t.same(dangling, [], 'every sourceMappingURL names a shipped map');
});

t.test(
  `the package stays under ${MAX_PACKED >> 20} MiB packed and ${MAX_UNPACKED >> 20} MiB unpacked`,
  { skip: !tgz && 'no tarball' },
  async (t) => {
    const packedBytes = statSync(tgz).size;
    let unpacked = 0;
    for (const e of entries) if (!e.endsWith('/')) unpacked += statSync(join(extracted, e)).size;
    t.ok(packedBytes < MAX_PACKED, `packed: ${(packedBytes / 1e6).toFixed(2)} MB`);
    t.ok(unpacked < MAX_UNPACKED, `unpacked: ${(unpacked / 1e6).toFixed(2)} MB`);
  },
);

// --- install with --ignore-scripts and no compiler -----------------------------------------------
const app = join(work, 'app');
const bin = compilerFreeBin(join(work, 'bin'));
const appEnv = (extra: Record<string, string | undefined> = {}) => cleanEnv({ PATH: bin, ...extra });
let installed = false;

t.test('installs with --ignore-scripts where no compiler is on PATH', { skip: !tgz && 'no tarball' }, async (t) => {
  const found = run('sh', ['-c', `for c in ${COMPILERS.join(' ')}; do command -v "$c"; done; true`], { cwd: work, env: appEnv() });
  t.equal(found.stdout.trim(), '', `none of ${COMPILERS.join(', ')} is reachable`);
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'convkit-install-check', version: '1.0.0', private: true }));
  const r = run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tgz], { cwd: app, env: appEnv() });
  t.equal(r.status, 0, 'npm install exited cleanly', { output: r.tail });
  installed = r.status === 0 && existsSync(join(app, 'node_modules', 'convkit', 'package.json'));
  t.ok(installed, 'node_modules/convkit is there');
  t.notOk(existsSync(join(app, 'node_modules', 'convkit', 'build')), 'nothing was compiled (no build/)');
});

// The same seeded net and input here, on this checkout's own build: the prebuilt binary must agree.
const model = lenet5({ seed: 3 });
const xRef = Tensor.randn([2, 1, 28, 28], { seed: 7 });
const pRef = model.predictProbs(xRef);
const expected = Array.from(await pRef.data());
for (const x of [xRef, pRef]) x.dispose();

const predictBody = (imp: string) => `${imp}
async function main() {
  const model = lenet5({ seed: 3 });
  const x = Tensor.randn([2, 1, 28, 28], { seed: 7 });
  const p = model.predictProbs(x);
  const probs = Array.from(await p.data());
  const cpu = backends().find((b) => b.name === 'cpu');
  console.log(JSON.stringify({ shape: p.shape, probs, addon: cpu.details.addon, kind: cpu.details.addonKind }));
}
main().catch((e) => { console.error(e); process.exit(1); });
`;

interface Prediction {
  shape: number[];
  probs: number[];
  addon: string;
  kind: string;
}

function checkPrediction(t: Test, out: Prediction | undefined, kind: string, file: string) {
  t.ok(out, 'printed its result');
  if (!out) return;
  t.same(out.shape, [2, 10], 'probabilities for 2 images x 10 classes');
  const maxDiff = Math.max(...out.probs.map((v, i) => Math.abs(v - expected[i])));
  t.ok(maxDiff < 1e-5, `the same probabilities as this checkout's build (max |diff| ${maxDiff.toExponential(2)})`);
  t.equal(out.kind, kind, `loaded the ${kind}`);
  t.equal(out.addon, join(app, 'node_modules', 'convkit', 'prebuilds', tuple, file), 'from the installed package');
}

t.test('a LeNet-5 prediction from ESM', { skip: !installed && 'not installed' }, async (t) => {
  writeFileSync(join(app, 'predict.mjs'), predictBody(`import { lenet5, Tensor, backends } from 'convkit';`));
  const r = run(process.execPath, ['predict.mjs'], { cwd: app, env: appEnv() });
  t.equal(r.status, 0, 'exited cleanly', { output: r.tail });
  // With the CUDA addon in the package, it is the one loaded (it holds the CPU backend too).
  checkPrediction(
    t,
    lastJson<Prediction>(r),
    hasCuda ? 'cuda-prebuild' : 'cpu-prebuild',
    hasCuda ? 'convkit.cuda.node' : 'convkit.napi.node',
  );
});

t.test('a LeNet-5 prediction from CommonJS (require)', { skip: !installed && 'not installed' }, async (t) => {
  writeFileSync(join(app, 'predict.cjs'), predictBody(`const { lenet5, Tensor, backends } = require('convkit');`));
  const r = run(process.execPath, ['predict.cjs'], { cwd: app, env: appEnv({ CONVKIT_NO_CUDA: '1' }) });
  t.equal(r.status, 0, 'exited cleanly', { output: r.tail });
  checkPrediction(t, lastJson<Prediction>(r), 'cpu-prebuild', 'convkit.napi.node');
  t.notMatch(r.stderr, /ExperimentalWarning/, 'require(esm) prints no warning');
});

t.test('npx convkit --help', { skip: !installed && 'not installed' }, async (t) => {
  const r = run('npx', ['--no', '--', 'convkit', '--help'], { cwd: app, env: appEnv() });
  t.equal(r.status, 0, 'exited cleanly', { output: r.tail });
  t.match(r.stdout, /usage: convkit COMMAND/);
  for (const c of ['train lenet5', 'train alexnet', 'evaluate', 'predict', 'plot', 'export', 'bench'])
    t.match(r.stdout, new RegExp(`^  +${c} `, 'm'), `lists ${c}`);
});

t.test('TypeScript types both module systems', { skip: !installed && 'not installed' }, async (t) => {
  const use = `
const model = lenet5({ seed: 1 });
const x: Tensor = Tensor.randn([1, 1, 28, 28]);
const shape: readonly number[] = model.predictProbs(x).shape;
export const n: number = shape.length;
`;
  writeFileSync(join(app, 'good.cts'), `import { lenet5, Tensor } from 'convkit';\n${use}`);
  writeFileSync(join(app, 'good.mts'), `import { lenet5, Tensor } from 'convkit';\n${use}`);
  // Proof that the types are real (not any): a wrong use must be an error in a .cts file.
  writeFileSync(join(app, 'bad.cts'), `import { lenet5 } from 'convkit';\nexport const m: number = lenet5();\n`);
  const options = {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['good.cts', 'good.mts'] }));
  writeFileSync(join(app, 'tsconfig.bad.json'), JSON.stringify({ compilerOptions: options, files: ['bad.cts'] }));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const good = run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, env: appEnv() });
  t.equal(good.status, 0, 'good.cts and good.mts type-check', { output: good.tail });
  const bad = run(process.execPath, [tsc, '-p', 'tsconfig.bad.json'], { cwd: app, env: appEnv() });
  t.not(bad.status, 0, 'bad.cts does not type-check');
  t.match(bad.stdout, /bad\.cts.*TS2322.*Model/, 'the error names the wrong type');
});

t.test(
  'with no binary, the error lists what it tried and says `npm rebuild convkit`',
  { skip: !installed && 'not installed' },
  async (t) => {
    const pb = join(app, 'node_modules', 'convkit', 'prebuilds');
    renameSync(pb, `${pb}.away`);
    t.teardown(() => renameSync(`${pb}.away`, pb));
    const r = run(process.execPath, ['predict.mjs'], { cwd: app, env: appEnv() });
    t.not(r.status, 0, 'the import fails');
    t.match(r.stderr, /could not load the native addon for/);
    t.match(r.stderr, /build-cuda\/Release\/convkit_cuda\.node: missing/);
    t.match(r.stderr, new RegExp(`prebuilds/${tuple}/convkit\\.cuda\\.node: missing`));
    t.match(r.stderr, /build\/Release: missing/);
    t.match(r.stderr, new RegExp(`prebuilds/${tuple}/convkit\\.napi\\.node: missing \\(no prebuilt binary for ${tuple}\\)`));
    t.match(r.stderr, /npm rebuild convkit/, 'the fix for a dependency');
    t.notMatch(r.stderr, /npm ci/, 'not the fix for a clone');
    t.match(r.stderr, /ND_INTERNAL/);
  },
);

t.test(
  'npm rebuild convkit uses the prebuild, compiles nothing and says so in one line',
  { skip: !installed && 'not installed' },
  async (t) => {
    // Without a CUDA prebuild, nvcc may still sit in /usr/local/cuda/bin here: skip that build (minutes).
    const r = run('npm', ['rebuild', 'convkit', '--foreground-scripts'], {
      cwd: app,
      env: appEnv({ CONVKIT_SKIP_CUDA: hasCuda ? undefined : '1' }),
    });
    t.equal(r.status, 0, 'exited cleanly', { output: r.tail });
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('convkit:'));
    t.equal(lines.length, 1, 'one line from convkit', { lines });
    t.match(lines[0], new RegExp(`^convkit: using prebuilds/${tuple}/convkit\\.napi\\.node \\(prebuilt\\); `));
    if (hasCuda) t.match(lines[0], /convkit\.cuda\.node \(prebuilt CUDA\)/);
    t.notOk(existsSync(join(app, 'node_modules', 'convkit', 'build')), 'nothing was compiled (no build/)');
  },
);

t.test(
  'npm rebuild convkit with no prebuild and no compiler fails saying what is needed',
  { skip: !installed && 'not installed' },
  async (t) => {
    const pb = join(app, 'node_modules', 'convkit', 'prebuilds');
    renameSync(pb, `${pb}.away`);
    t.teardown(() => renameSync(`${pb}.away`, pb));
    const r = run('npm', ['rebuild', 'convkit', '--foreground-scripts'], { cwd: app, env: appEnv({ CONVKIT_SKIP_CUDA: '1' }) });
    t.not(r.status, 0, 'the rebuild fails');
    t.match(
      r.stdout,
      new RegExp(`convkit: no prebuilt binary for ${tuple}; compiling the CPU addon with node-gyp`),
      'it said it compiles, and why',
    );
    t.match(r.stderr, /compiling the CPU addon failed .* C\+\+17 compiler, make and python3/, 'and what is missing');
  },
);

t.test('--build-from-source compiles even where a prebuild loads', { skip: !installed && 'not installed' }, async (t) => {
  // No compiler here, so the compile fails fast: what matters is that it was attempted.
  const r = run('npm', ['rebuild', 'convkit', '--build-from-source', '--foreground-scripts'], {
    cwd: app,
    env: appEnv({ CONVKIT_SKIP_CUDA: '1' }),
  });
  t.not(r.status, 0, 'the rebuild fails for want of a compiler');
  t.match(r.stdout, /convkit: building from source was asked for; compiling the CPU addon with node-gyp/);
});

t.test(
  'the prebuilt binary is -O3 without -march and picks its SIMD kernel at run time',
  { skip: !installed && 'not installed' },
  async (t) => {
    const pkg = join(app, 'node_modules', 'convkit');
    for (const f of ['binding.gyp', 'CMakeLists.txt']) {
      const text = readFileSync(join(pkg, f), 'utf8').replace(/#.*$/gm, '');
      t.match(text, /-O3/, `${f} builds with -O3`);
      t.notMatch(text, /-march|-mtune=native|-mavx/, `${f} sets no -march (per-kernel target attributes instead)`);
    }
    const probe = `import('convkit').then((m) => console.log(m.ops.gemmKernelName()))`;
    // Any CONVKIT_GEMM_KERNEL this test runs under goes to the child too, so both pick alike.
    const auto = run(process.execPath, ['-e', probe], {
      cwd: app,
      env: appEnv({ CONVKIT_NO_CUDA: '1', CONVKIT_GEMM_KERNEL: process.env.CONVKIT_GEMM_KERNEL }),
    });
    t.equal(auto.stdout.trim(), ops.gemmKernelName(), 'the same kernel as this checkout picks on this CPU', { output: auto.tail });
    const forced = run(process.execPath, ['-e', probe], {
      cwd: app,
      env: appEnv({ CONVKIT_NO_CUDA: '1', CONVKIT_GEMM_KERNEL: 'portable' }),
    });
    t.equal(forced.stdout.trim(), 'portable', 'and the portable one when asked', { output: forced.tail });
  },
);
