// Loading the Gloo shim at run time (native/comm/gloo_loader.cc, lib/parallel/gloo-engine.ts):
// backends() reports Gloo usable with its version, or says why not (no file, a library that is
// not the shim, a shim of another interface version), and the bindings refuse bad handles.
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { native } from '../../lib/native.js';
import { Tensor } from '../../lib/tensor/tensor.js';
import { glooSkip, here } from './helpers.js';

const child = join(here, 'gloo-status-child.ts');

function glooEntry(shim: string | undefined): {
  available: boolean;
  compiled: boolean;
  reason?: string;
  details?: Record<string, unknown>;
} {
  const env = { ...process.env };
  if (shim === undefined) delete env.CONVKIT_GLOO_SHIM;
  else env.CONVKIT_GLOO_SHIM = shim;
  const r = spawnSync(process.execPath, [...process.execArgv, child], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

t.test('the built shim loads and backends() reports its version', { skip: glooSkip() }, async (t) => {
  const g = glooEntry(undefined);
  t.equal(g.available, true, g.reason ?? '');
  t.match(String(g.details?.version), /^gloo \d+\.\d+\.\d+ \(tcp transport\)$/);
  t.match(String(g.details?.path), /convkit_gloo\.so$/);
});

t.test('a missing shim: backends() names the path', async (t) => {
  const g = glooEntry('/nonexistent/convkit_gloo.so');
  t.equal(g.available, false);
  t.match(String(g.reason), 'CONVKIT_GLOO_SHIM=/nonexistent/convkit_gloo.so does not exist');
});

t.test('a library that is not the shim: the missing symbol is named, nothing crashes', async (t) => {
  const g = glooEntry('/usr/lib/x86_64-linux-gnu/libm.so.6');
  t.equal(g.available, false);
  t.match(String(g.reason), /libm\.so\.6: the shim lacks ck_gloo_abi/);
});

t.test('a file that is not a library at all: dlerror is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-gloo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const junk = join(dir, 'junk.so');
  writeFileSync(junk, 'not an ELF file');
  const g = glooEntry(junk);
  t.equal(g.available, false);
  t.match(String(g.reason), /dlopen\(.*junk\.so\) failed: .*junk\.so/);
});

const cc = spawnSync('cc', ['--version']).status === 0;
t.test(
  'a stand-in shim of another interface version is refused',
  { skip: cc ? false : 'no C compiler (cc) to build the stand-in' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'convkit-gloo-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const src = join(dir, 'stand_in.c');
    // Every symbol the loader binds, but ck_gloo_abi answers 99.
    writeFileSync(
      src,
      `#include <stddef.h>
int ck_gloo_abi(void) { return 99; }
const char* ck_gloo_version(void) { return "stand-in"; }
int ck_gloo_create(const void* a, void** o, char* e, size_t n) { return 4; }
int ck_gloo_allreduce_f32(void* c, float* d, size_t k, char* e, size_t n) { return 4; }
int ck_gloo_broadcast_f32(void* c, float* d, size_t k, int r, char* e, size_t n) { return 4; }
int ck_gloo_barrier(void* c, char* e, size_t n) { return 4; }
void ck_gloo_destroy(void* c) {}
`,
    );
    const lib = join(dir, 'stand_in.so');
    execFileSync('cc', ['-shared', '-fPIC', '-o', lib, src]);
    const g = glooEntry(lib);
    t.equal(g.available, false);
    t.match(String(g.reason), /speaks interface version 99, this addon version 1/);
  },
);

t.test('the bindings refuse what is not a group handle', async (t) => {
  const x = Tensor.zeros([4]);
  t.teardown(() => x.dispose());
  const fake = {} as never;
  t.throws(() => native.glooAllReduce(0, fake, x.handle(), 0, 4, false), { code: 'ND_ARG', message: /not a Gloo group handle/ });
  t.throws(() => native.glooBroadcast(0, fake, x.handle(), 0, 4, 0), { code: 'ND_ARG' });
  t.throws(() => native.glooBarrier(0, fake), { code: 'ND_ARG' });
  t.throws(() => native.glooDestroy(fake), { code: 'ND_ARG' });
});
