// lib/native/ is the single typed description of the addon. BINDING_NAMES is kept equal to the
// NativeBinding interface by the compiler (`satisfies`); this test keeps it equal to what each
// loaded addon exports, both ways: a name TS declares that the addon lacks (a misspelling, a
// removed binding) and a binding the addon exports that TS does not declare both fail.
import t, { type Test } from 'tap';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINDING_NAMES, native } from '../../lib/native.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);

function compare(t: Test, exported: object, cuda: boolean, what: string): void {
  const declared = Object.entries(BINDING_NAMES)
    .filter(([, builds]) => cuda || builds === 'both')
    .map(([name]) => name)
    .sort();
  const have = Object.keys(exported).sort();
  t.same(
    declared.filter((n) => !have.includes(n)),
    [],
    `${what}: every name TS declares is exported`,
  );
  t.same(
    have.filter((n) => !declared.includes(n)),
    [],
    `${what}: every export is declared in lib/native/`,
  );
  const cudaOnly = Object.entries(BINDING_NAMES)
    .filter(([, b]) => b === 'cuda')
    .map(([n]) => n);
  if (!cuda)
    t.same(
      cudaOnly.filter((n) => n in exported),
      [],
      `${what}: no CUDA-only binding in the CPU build`,
    );
}

t.test('the loaded addon exports exactly the declared names', async (t) => {
  compare(t, native, native.build.cuda, `the loaded ${native.build.backend} build`);
  for (const [name, builds] of Object.entries(BINDING_NAMES)) {
    if (builds === 'cuda' && !native.build.cuda) continue;
    const kind = name === 'build' ? 'object' : 'function';
    t.equal(typeof (native as unknown as Record<string, unknown>)[name], kind, `${name} is a ${kind}`);
  }
});

t.test('the CPU build (build/Release) exports exactly the declared names', async (t) => {
  const cpu = join(root, 'build', 'Release', 'convkit.node');
  if (!existsSync(cpu)) return t.pass('CPU build', { skip: `${cpu} is not built` });
  const addon = require(cpu) as { build: { cuda: boolean } };
  t.equal(addon.build.cuda, false, 'it is the CPU build');
  compare(t, addon, false, 'CPU build');
});

/** Newest modification time of native/** sources: a CUDA build older than them is stale. */
function newestSource(): number {
  let newest = 0;
  for (const dir of ['core', 'cpu', 'comm', 'napi', 'cuda'])
    for (const f of readdirSync(join(root, 'native', dir)))
      if (/\.(cc|h|cu)$/.test(f)) newest = Math.max(newest, statSync(join(root, 'native', dir, f)).mtimeMs);
  return newest;
}

t.test('the CUDA build (build-cuda/Release) exports exactly the declared names', async (t) => {
  const cuda = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
  if (!existsSync(cuda)) return t.pass('CUDA build', { skip: `${cuda} is not built (no nvcc here)` });
  if (statSync(cuda).mtimeMs < newestSource())
    return t.pass('CUDA build', { skip: `${cuda} is older than native/ (rebuild: node scripts/build-cuda.mjs)` });
  let addon: { build: { cuda: boolean } };
  try {
    // Loading needs no GPU: the CUDA runtime is linked statically, cuBLAS is opened on first use.
    addon = require(cuda);
  } catch (err) {
    return t.fail(`the CUDA build does not load: ${(err as Error).message.split('\n')[0]}`);
  }
  t.equal(addon.build.cuda, true, 'it is the CUDA build');
  compare(t, addon, true, 'CUDA build');
});
