/**
 * Child processes that start in a fraction of a second. A child run through tap's TypeScript
 * loader spends seconds compiling before it does anything; the kill-safety and fuzz tests start
 * dozens of children. So the sources (lib/ and test/) are transpiled once, with TypeScript's
 * transpileModule (no type check: `tsc` and tap do that), into a tree under
 * node_modules/.cache keyed by a hash of their contents, and children run plain JavaScript.
 * Bare imports resolve through the repository's node_modules as usual.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** What children may import: the library and the test folders that hold children and their helpers. */
const SOURCES = ['lib', 'test/helpers', 'test/io', 'test/data', 'test/fuzz'];

let cached: string | null = null;

/** The root of the transpiled tree: `<root>/lib/...js`, `<root>/test/...js`. */
export function transpiledTree(): string {
  if (cached) return cached;
  const files = SOURCES.flatMap((d) => (existsSync(join(REPO, d)) ? tsFiles(join(REPO, d)) : []));
  const hash = createHash('sha256');
  const sources = files.map((f) => {
    const text = readFileSync(f, 'utf8');
    hash.update(relative(REPO, f)).update('\0').update(text).update('\0');
    return text;
  });
  const base = join(REPO, 'node_modules', '.cache', 'convkit-test-js');
  const root = join(base, hash.digest('hex').slice(0, 16));
  if (!existsSync(root)) {
    // Built beside its final name and renamed, so concurrent test files never see half a tree.
    // Each file's output is cached by its own hash, so a changed file costs one transpile.
    const tmp = `${root}.tmp-${process.pid}`;
    mkdirSync(join(base, 'files'), { recursive: true });
    files.forEach((f, i) => {
      const out = join(tmp, relative(REPO, f)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(out), { recursive: true });
      const key = join(base, 'files', `${createHash('sha256').update(f).update('\0').update(sources[i]!).digest('hex').slice(0, 24)}.js`);
      if (!existsSync(key)) {
        const js = ts.transpileModule(sources[i]!, {
          fileName: f,
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: false },
        }).outputText;
        writeFileSync(`${key}.${process.pid}`, js);
        renameSync(`${key}.${process.pid}`, key);
      }
      copyFileSync(key, out);
    });
    writeFileSync(join(tmp, 'package.json'), '{"type":"module"}\n');
    try {
      renameSync(tmp, root);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another test file won the race
    }
    // Trees of older sources: removed once a day old (a test run still using one is long over).
    for (const e of readdirSync(base)) {
      const p = join(base, e);
      if (e !== 'files' && p !== root && Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
    }
  }
  cached = root;
  return root;
}

/** The transpiled path of a repository TypeScript file, e.g. 'test/io/x-child.ts'. */
export function transpiled(file: string): string {
  return join(transpiledTree(), file.replace(/\.ts$/, '.js'));
}

/**
 * The environment for a transpiled child: the CPU addon this checkout built (the tree has no
 * build folder of its own), and no CUDA build.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const addon = (require('node-gyp-build') as { path: (dir: string) => string }).path(REPO);
  return { ...process.env, CONVKIT_ADDON: addon, CONVKIT_NO_CUDA: '1', ...extra };
}
