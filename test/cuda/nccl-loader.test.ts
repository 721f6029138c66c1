// NCCL is opened at run time like cuBLAS (native/cuda/nccl_loader.cc): no GPU is needed to load
// it, so the loader is tested here with a stand-in libnccl.so.2 compiled by this test (cc), and
// with a search that finds nothing, which must be ND_NO_CUDA naming every place searched. The
// engine backends() reports follows: 'nccl <version>', or 'fallback: copy+reduce (why)'.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cudaAddon = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
const cpuAddon = join(root, 'build', 'Release', 'convkit.node');

interface Outcome {
  loaded?: { path: string; version: number };
  code?: string;
  message?: string;
  engines?: { cpu: string; cuda?: string };
}

// A fresh process per case: the loader remembers its first result for the life of the process.
function probe(addon: string, env: Record<string, string | undefined>): Outcome {
  const script = `
    const a = require(process.argv[1]);
    const out = {};
    if (typeof a.ncclLoad !== 'function') out.code = 'NO_BINDING';
    else try { out.loaded = a.ncclLoad(); } catch (e) { out.code = e.code; out.message = e.message; }
    if (typeof a.collectiveEngines === 'function') out.engines = a.collectiveEngines();
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', script, addon], {
    encoding: 'utf8',
    env: { ...process.env, CONVKIT_CUDA_COLLECTIVE: undefined, ...env },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`the probe failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Outcome;
}

const SYMBOLS: Record<string, string> = {
  ncclGetUniqueId: 'int ncclGetUniqueId(void* id) { (void)id; return 0; }',
  ncclCommInitAll: 'int ncclCommInitAll(void** c, int n, const int* d) { (void)c; (void)n; (void)d; return 5; }',
  ncclCommInitRank: 'int ncclCommInitRank(void** c, int n, Id id, int r) { (void)c; (void)n; (void)id; (void)r; return 5; }',
  ncclCommDestroy: 'int ncclCommDestroy(void* c) { (void)c; return 0; }',
  ncclAllReduce: 'int ncclAllReduce(void) { return 5; }',
  ncclBroadcast: 'int ncclBroadcast(void) { return 5; }',
  ncclGroupStart: 'int ncclGroupStart(void) { return 0; }',
  ncclGroupEnd: 'int ncclGroupEnd(void) { return 0; }',
  ncclGetErrorString: 'const char* ncclGetErrorString(int r) { (void)r; return "stand-in NCCL"; }',
};

/** A stand-in libnccl.so.2 in its own folder under `dir`; null when there is no C compiler. */
function fakeNccl(dir: string, name: string, version: number, drop: string[] = []): string | null {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  const src = join(folder, 'nccl.c');
  const body = Object.entries(SYMBOLS)
    .filter(([s]) => !drop.includes(s))
    .map(([, code]) => code);
  writeFileSync(
    src,
    ['typedef struct { char internal[128]; } Id;', `int ncclGetVersion(int* v) { *v = ${version}; return 0; }`, ...body].join('\n') + '\n',
  );
  const r = spawnSync('cc', ['-shared', '-fPIC', '-o', join(folder, 'libnccl.so.2'), src], { encoding: 'utf8' });
  return !r.error && r.status === 0 ? folder : null;
}

const hasCuda = existsSync(cudaAddon) && probe(cudaAddon, {}).code !== 'NO_BINDING';
const noCuda = hasCuda ? false : `${cudaAddon} is not built (or predates ncclLoad): npm run build:cuda`;

t.test('CONVKIT_NCCL names the library (a folder or the file); its version is reported', { skip: noCuda }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-nccl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const folder = fakeNccl(dir, 'good', 23004);
  if (!folder) return t.pass('stand-in NCCL', { skip: 'no C compiler (cc) to build a stand-in libnccl.so.2' });
  const lib = join(folder, 'libnccl.so.2');
  for (const value of [folder, lib]) {
    const out = probe(cudaAddon, { CONVKIT_NCCL: value });
    t.same(out.loaded, { path: lib, version: 23004 }, `CONVKIT_NCCL=${value === lib ? 'the file' : 'its folder'}`);
    t.equal(out.engines?.cuda, 'nccl 2.30.4', 'the CUDA engine is NCCL, with its version');
    t.equal(out.engines?.cpu, 'shared-memory');
  }
  const forced = probe(cudaAddon, { CONVKIT_NCCL: lib, CONVKIT_CUDA_COLLECTIVE: 'fallback' });
  t.equal(forced.engines?.cuda, 'fallback: copy+reduce (CONVKIT_CUDA_COLLECTIVE=fallback)', 'the fallback can be asked for');
});

t.test('an NCCL too old for ncclAvg, or lacking a symbol, is named; the engine falls back', { skip: noCuda }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-nccl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const old = fakeNccl(dir, 'old', 2805);
  const partial = fakeNccl(dir, 'partial', 23004, ['ncclBroadcast']);
  if (!old || !partial) return t.pass('stand-in NCCL', { skip: 'no C compiler (cc) to build a stand-in libnccl.so.2' });
  const o = probe(cudaAddon, { CONVKIT_NCCL: old });
  t.equal(o.loaded?.version, 2805, 'NCCL 2.8.5 loads');
  t.match(o.engines?.cuda, /^fallback: copy\+reduce \(NCCL 2\.8\.5 at .*libnccl\.so\.2 is older than 2\.10 \(no ncclAvg\)\)$/);
  const p = probe(cudaAddon, { CONVKIT_NCCL: partial });
  t.equal(p.code, 'ND_NO_CUDA');
  t.match(p.message, /lacks ncclBroadcast/);
  t.match(p.engines?.cuda, /^fallback: copy\+reduce \(NCCL at .* lacks ncclBroadcast\)$/);
});

t.test('a missing NCCL is ND_NO_CUDA naming every place searched', { skip: noCuda }, async (t) => {
  const bogus = join(tmpdir(), 'convkit-no-such-nccl', 'libnccl.so.2');
  const out = probe(cudaAddon, { CONVKIT_NCCL: bogus });
  if (out.loaded) return t.pass('missing NCCL', { skip: `this machine has NCCL (${out.loaded.path}): nothing is missing` });
  t.equal(out.code, 'ND_NO_CUDA');
  t.match(out.message, /^NCCL could not be loaded \(libnccl\.so\.2\)/);
  t.match(out.message, `$CONVKIT_NCCL=${bogus}: no such file`, 'the environment variable is tried first');
  t.match(out.message, /libnccl\.so\.2 \(LD_LIBRARY_PATH, ld\.so\.cache, system folders\)/, "the loader's own search");
  t.match(out.message, /nvidia\/nccl\/lib|site-packages: none found/, 'the nvidia-nccl wheel folder is searched');
  t.match(out.message, /pip install nvidia-nccl-cu13/, 'the message says how to install it');
  t.match(out.engines?.cuda, /^fallback: copy\+reduce \(NCCL could not be loaded/, 'backends() states the fallback and why');
});

t.test('the CPU build has no NCCL and says so', { skip: existsSync(cpuAddon) ? false : `${cpuAddon} is not built` }, async (t) => {
  const out = probe(cpuAddon, {});
  t.equal(out.code, 'ND_NO_CUDA');
  t.match(out.message, /NCCL needs the CUDA build of convkit/);
  t.same(out.engines, { cpu: 'shared-memory' }, 'only the CPU engine is reported');
});

t.test("backends() reports each backend's collective engine", { skip: noCuda }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-nccl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const folder = fakeNccl(dir, 'good', 23004);
  if (!folder) return t.pass('stand-in NCCL', { skip: 'no C compiler (cc)' });
  const code = `
    import { backends } from './lib/index.ts';
    console.log(JSON.stringify(backends().map((b) => [b.name, b.details?.collective ?? null])));`;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CONVKIT_ADDON: cudaAddon, CONVKIT_NCCL: folder, CONVKIT_CUDA_COLLECTIVE: undefined },
  });
  t.equal(r.status, 0, r.stderr.slice(-1500));
  const rows = new Map(JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as Array<[string, string | null]>);
  t.equal(rows.get('cpu'), 'shared-memory');
  // Without a GPU the CUDA backend is unavailable and reports no details; with one, the engine.
  const cuda = rows.get('cuda');
  if (cuda !== null) t.equal(cuda, 'nccl 2.30.4');
  else t.pass('no CUDA device: the CUDA backend has no details to report');
});
