import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// Every bench script that takes options parses them through bench/lib.mjs's scriptArgs: --help
// prints the script's header comment and exits 0, and an unknown option is a one-line error with
// that usage and exit 2, not a parseArgs stack trace (alexnet-profile.mjs threw on --help).
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scripts = [
  'bench/kernels/bandwidth.mjs',
  'bench/models/alexnet-bf16.mjs',
  'bench/models/alexnet-profile.mjs',
  'bench/models/image-loader.mjs',
  'bench/parallel/paper-model.mjs',
  'bench/parallel/processes.mjs',
  'bench/parallel/replicas.mjs',
  'bench/serve/load.mjs',
  'bench/serve/pool.mjs',
];

for (const script of scripts)
  t.test(script, async (t) => {
    const run = (arg: string) => spawnSync(process.execPath, [join(root, script), arg], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const help = run('--help');
    t.equal(help.status, 0, '--help exits 0');
    t.match(help.stdout, new RegExp(`node ${script.replace(/\./g, '\\.')}`), 'and prints the usage line of its header');
    t.notMatch(help.stdout, /^\/\//m, 'without the comment markers');
    const bad = run('--no-such-option');
    t.equal(bad.status, 2, 'an unknown option exits 2');
    t.match(bad.stderr, /^Unknown option '--no-such-option'/, 'naming the option');
    t.notMatch(bad.stderr, /at parseArgs|node:internal/, 'with no stack trace');
  });
