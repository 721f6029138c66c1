// The README's usage example must run as written (against the built package, dist/).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InMemoryDataset, loadMnist } from '../lib/index.js';

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

// Every CLI command in the README's shell blocks runs as written (from a fresh folder, against
// dist/), with only what makes it quick appended: trains get a small --limit and few epochs.
// `bin/convkit.js` and `../shared/data` are resolved from the repository root, as the README
// assumes its reader stands there.
const QUICK: Record<string, string[]> = {
  'train lenet5': ['--limit', '640', '--val-split', '200', '--epochs', '2'],
  'train alexnet': ['--limit', '4', '--batch', '2', '--epochs', '1', '--fc-width', '16'],
};

/** The CLI lines of the README's ```sh blocks, comments dropped, `npm run X` expanded. */
function readmeCommands(readme: string, scripts: Record<string, string>): { run: string[][]; other: string[] } {
  const run: string[][] = [];
  const other: string[] = [];
  for (const m of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of m[1].split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').trim();
      if (!line) continue;
      const npm = /^npm run (\S+)$/.exec(line);
      const cmd = npm && scripts[npm[1]]?.startsWith('node bin/convkit.js ') ? scripts[npm[1]] : line;
      const words = cmd.split(/\s+/);
      if (words[0] === 'node' && words[1] === 'bin/convkit.js' && !['bench', 'export', 'launch'].includes(words[2]))
        run.push(words.slice(2));
      else other.push(line);
    }
  }
  return { run, other };
}

t.test('the README CLI commands run as written', async (t) => {
  const main = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) {
    t.fail('dist/ is missing: run `npm run build`');
    return;
  }
  const stale = readdirSync(join(root, 'lib', 'cli')).filter(
    (f) =>
      f.endsWith('.ts') &&
      !(
        existsSync(join(root, 'dist', 'cli', f.replace(/\.ts$/, '.js'))) &&
        statSync(join(root, 'dist', 'cli', f.replace(/\.ts$/, '.js'))).mtimeMs >= statSync(join(root, 'lib', 'cli', f)).mtimeMs
      ),
  );
  if (stale.length)
    t.fail(`dist/cli is older than lib/cli (${stale.join(', ')}): run \`npm run build\` first; the commands below run dist/`);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const { run, other } = readmeCommands(readme, pkg.scripts);
  t.ok(run.length >= 6, `found ${run.length} CLI commands`);
  t.comment(`not run here (not CLI commands of this test's scope): ${other.join(' | ')}`);
  const names = run.map((w) => (w[0] === 'train' ? `${w[0]} ${w[1]}` : w[0]));
  for (const c of ['train lenet5', 'evaluate', 'predict', 'plot', 'train alexnet']) t.ok(names.includes(c), `the README shows ${c}`);
  const shared = join(root, '..', 'shared');
  const cwd = mkdtempSync(join(tmpdir(), 'convkit-readme-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  // The README's own digit image: an MNIST test digit drawn as ink on paper (inverted).
  const sharp = (await import('sharp')).default;
  const mnist = InMemoryDataset.fromMnist(await loadMnist(join(shared, 'data', 'mnist'), { split: 'test' }));
  await sharp(Buffer.from(mnist.image(0).map((v) => 255 - v)), { raw: { width: 28, height: 28, channels: 1 } })
    .resize(84, 84)
    .png()
    .toFile(join(cwd, 'my-digit.png'));
  const env: NodeJS.ProcessEnv = { ...process.env, CONVKIT_NO_CUDA: '1' };
  delete env.NODE_OPTIONS;
  for (const [i, words] of run.entries()) {
    const args = words.map((w) => w.replace(/^\.\.\/shared\//, `${shared}/`));
    const quick = QUICK[names[i]] ?? [];
    const r = spawnSync(process.execPath, [join(root, 'bin', 'convkit.js'), ...args, ...quick, '--json'], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    t.equal(r.status, 0, `convkit ${words.join(' ')}${quick.length ? ` (+ ${quick.join(' ')})` : ''}: ${r.stderr.slice(-400)}`);
    if (names[i] === 'predict' && words.includes('my-digit.png'))
      t.match(r.stdout, `"predicted":${mnist.labels[0]}`, 'the digit is read right');
  }
});
