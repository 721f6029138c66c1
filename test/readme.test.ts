// The README's usage example must run as written (against the built package, dist/).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

t.test('the README usage example runs', async (t) => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    t.fail('dist/ is missing: run `npm run build` (npm ci does it)');
    return;
  }
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  t.ok(m, 'found the example');
  // Imports must come first in a module: hoist them.
  const lines = m![1].split('\n');
  const code = [...lines.filter((l) => l.startsWith('import ')), ...lines.filter((l) => !l.startsWith('import '))].join('\n');
  // Written inside the package (so `import 'convkit'` resolves to itself) and run without the
  // test runner's TypeScript loader.
  const dir = join(root, '.tap', 'readme');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'example.mjs');
  writeFileSync(file, code);
  t.teardown(() => rmSync(file, { force: true }));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [file], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, `exit status (stderr: ${r.stderr.slice(-500)})`);
  t.match(r.stdout, /\[ 2, 4, 8, 8 \]/, 'printed the conv output shape');
  t.match(r.stdout, /c1 .*28x28x6/, 'printed the summary');
  t.match(r.stdout, /accuracy/, 'printed the training history');
});
